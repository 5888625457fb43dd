/// ISO 3166-1: the 249 officially assigned alpha-2 country codes.
public enum ISO3166 {
    /// Whether `alpha2` is an officially assigned ISO 3166-1 alpha-2 code (exact, uppercase).
    public static func isAssigned(_ alpha2: String) -> Bool {
        assigned.contains(alpha2)
    }

    static let assigned: Set<String> = codeSet([
        "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE",
        "BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD",
        "CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM",
        "DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF",
        "GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU",
        "ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN",
        "KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME",
        "MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA",
        "NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM",
        "PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI",
        "SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK",
        "TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI",
        "VN VU WF WS YE YT ZA ZM ZW",
    ])
}

/// ISO 4217: active currency codes with their minor-unit exponent.
///
/// Fund codes (BOV, CHE, CLF, USN, …), precious metals (XAU, XAG, …), bond-market and
/// supranational units (XBA…XBD, XDR, XSU, XUA), the testing code XTS and "no currency" XXX
/// are deliberately absent: a person's money is never held in them.
public enum ISO4217 {
    /// The number of digits after the decimal separator (JPY 0, EUR 2, BHD 3), or nil when
    /// `code` is not an active ISO 4217 currency (exact, uppercase).
    public static func minorUnits(of code: String) -> Int? {
        exponents[code]
    }

    static let exponents: [String: Int] = {
        var table: [String: Int] = [:]
        for code in codeSet(zeroDecimal) { table[code] = 0 }
        for code in codeSet(twoDecimal) { table[code] = 2 }
        for code in codeSet(threeDecimal) { table[code] = 3 }
        return table
    }()

    private static let zeroDecimal = [
        "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF",
    ]

    private static let threeDecimal = [
        "BHD IQD JOD KWD LYD OMR TND",
    ]

    private static let twoDecimal = [
        "AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BTN BWP",
        "BYN BZD CAD CDF CHF CNY COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP",
        "GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW",
        "KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR",
        "MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR",
        "SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS",
        "UAH USD UYU UZS VED VES WST XCD XCG YER ZAR ZMW ZWG",
    ]
}

/// ISO 639-1: the two-letter language codes (183, without the deprecated "bh").
public enum ISO639 {
    /// Whether `code` is an ISO 639-1 two-letter code (exact, lowercase).
    public static func isAssigned(_ code: String) -> Bool {
        assigned.contains(code)
    }

    static let assigned: Set<String> = codeSet([
        "aa ab ae af ak am an ar as av ay az ba be bg bi bm bn bo br",
        "bs ca ce ch co cr cs cu cv cy da de dv dz ee el en eo es et",
        "eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht",
        "hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk",
        "kl km kn ko kr ks ku kv kw ky la lb lg li ln lo lt lu lv mg",
        "mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv ny",
        "oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se",
        "sg si sk sl sm sn so sq sr ss st su sv sw ta te tg th ti tk",
        "tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo",
        "za zh zu",
    ])
}

private func codeSet(_ rows: [String]) -> Set<String> {
    Set(rows.flatMap { $0.split(separator: " ").map(String.init) })
}
