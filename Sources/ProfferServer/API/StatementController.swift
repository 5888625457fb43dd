import Foundation
import HTTPTypes
import Hummingbird
import ProfferCore
import ProfferStorage

/// Money statements: a person's earnings and an organisation's spending, by month and by counterpart, as JSON
/// or as CSV (RFC 4180) for a spreadsheet.
struct StatementController: Sendable {
    let services: Services

    struct EarningsDTO: Codable, Sendable {
        var person: String
        var balances: [Money]
    }

    struct StatementDTO: Codable, Sendable {
        struct Line: Codable, Sendable {
            /// The organisation (in a person's statement) or the person's handle (in an organisation's); absent for
            /// funding from outside.
            var counterpartId: String?
            var counterpartName: String
            var kind: String
            var transfers: Int
            var amount: Money
        }

        struct Period: Codable, Sendable {
            var period: String
            var totals: [Money]
            var lines: [Line]
        }

        var party: String
        var from: String
        var to: String
        var totals: [Money]
        var periods: [Period]
    }

    func addRoutes(to router: Router<AppRequestContext>) {
        router.get("/v1/me/earnings", use: earnings)
        router.get("/v1/me/statement", use: personStatement)
        router.get("/v1/organisation/statement", use: organisationStatement)
    }

    @Sendable func earnings(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<EarningsDTO> {
        let person = try await services.auth.person(request).person
        return JSONResponse(EarningsDTO(person: person.handle, balances: try await services.store.earningsBalances(person.id)))
    }

    @Sendable func personStatement(_ request: Request, context: AppRequestContext) async throws -> Response {
        let person = try await services.auth.person(request).person
        let range = try Self.range(request)
        let (rows, name) = try await Self.earnings(of: person.id, from: range.from, to: range.to, services: services)
        return try Self.render(rows, party: person.handle, range: range, request: request, context: context, name: name)
    }

    /// A person's earnings lines, with the organisations' names to show for them (also the export's).
    static func earnings(of person: PersonID, from: Timestamp, to: Timestamp,
                         services: Services) async throws -> ([StatementRow], @Sendable (String?) -> String) {
        let rows = try await services.store.statement(of: .person(person), from: from, to: to)
        let names = try await services.organisations(rows.compactMap { $0.counterpart.flatMap(OrganisationID.init) }).mapValues(\.name)
        return (rows, { id in id.flatMap(OrganisationID.init).flatMap { names[$0] } ?? "unknown organisation" })
    }

    @Sendable func organisationStatement(_ request: Request, context: AppRequestContext) async throws -> Response {
        let identity = try await services.auth.organisation(request)
        let range = try Self.range(request)
        let rows = try await services.store.statement(of: .organisation(identity.organisationID), from: range.from, to: range.to)
        let handles = try await services.handles(rows.compactMap { $0.counterpart.flatMap(PersonID.init) })
        return try Self.render(rows.map { row in
            // An organisation knows people by handle, never by internal id.
            var row = row
            row.counterpart = row.counterpart.flatMap(PersonID.init).flatMap { handles[$0] }
            return row
        }, party: identity.organisationID.rawValue, range: range, request: request, context: context) { handle in
            handle ?? "funding"
        }
    }

    struct DateRange {
        var from: Timestamp
        var to: Timestamp
        var fromText: String
        var toText: String
    }

    static let calendar: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
        return calendar
    }()

    /// `from` and `to` (inclusive) as `YYYY-MM-DD` in UTC; by default the current month and the eleven before it.
    static func range(_ request: Request) throws -> DateRange {
        func day(_ name: String) throws -> Date? {
            guard let text = request.uri.queryParameters[Substring(name)] else { return nil }
            let parts = text.split(separator: "-", omittingEmptySubsequences: false)
            guard text.count == 10, parts.count == 3, let year = Int(parts[0]), let month = Int(parts[1]), let dayNumber = Int(parts[2]),
                  (1970...2200).contains(year),
                  let date = calendar.date(from: DateComponents(year: year, month: month, day: dayNumber)),
                  calendar.component(.month, from: date) == month, calendar.component(.day, from: date) == dayNumber
            else { throw Problem.badRequest("query parameter \(name) must be a date YYYY-MM-DD (UTC)") }
            return date
        }
        let now = Date.now
        let thisMonth = calendar.date(from: calendar.dateComponents([.year, .month], from: now)) ?? now
        let from = try day("from") ?? calendar.date(byAdding: .month, value: -11, to: thisMonth) ?? thisMonth
        let lastDay = try day("to") ?? calendar.startOfDay(for: now)
        guard from <= lastDay else { throw Problem.badRequest("query parameter from must not be after to") }
        guard lastDay.timeIntervalSince(from) <= 5 * 366 * 86_400 else { throw Problem.badRequest("a statement covers at most five years; narrow from and to") }
        let end = lastDay.addingTimeInterval(86_400)
        let formatter = { (date: Date) -> String in
            let parts = calendar.dateComponents([.year, .month, .day], from: date)
            return String(format: "%04d-%02d-%02d", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0)
        }
        return DateRange(from: Timestamp(millisecondsSinceEpoch: Int64(from.timeIntervalSince1970) * 1000),
                         to: Timestamp(millisecondsSinceEpoch: Int64(end.timeIntervalSince1970) * 1000),
                         fromText: formatter(from), toText: formatter(lastDay))
    }

    /// JSON unless CSV is asked for (`format=csv`, or `Accept: text/csv`).
    static func wantsCSV(_ request: Request) throws -> Bool {
        switch request.uri.queryParameters["format"] {
        case "csv"?: return true
        case "json"?: return false
        case nil: return request.headers[.accept]?.lowercased().contains("text/csv") == true
        case let other?: throw Problem.badRequest("query parameter format must be json or csv, not \(other.prefix(20))")
        }
    }

    static func render(_ rows: [StatementRow], party: String, range: DateRange, request: Request, context: AppRequestContext,
                       name: (String?) -> String) throws -> Response {
        if try wantsCSV(request) {
            let csv = Self.csv(rows, name: name)
            var headers: HTTPFields = [.contentType: "text/csv; charset=utf-8; header=present", .cacheControl: "no-store"]
            headers[.contentDisposition] = "attachment; filename=\"proffer-statement-\(range.fromText)-to-\(range.toText).csv\""
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: csv.text)))
        }
        var periods: [StatementDTO.Period] = []
        for row in rows {
            let line = StatementDTO.Line(counterpartId: row.counterpart, counterpartName: name(row.counterpart), kind: row.kind,
                                         transfers: row.transfers, amount: row.amount)
            if periods.last?.period == row.period { periods[periods.count - 1].lines.append(line) } else {
                periods.append(StatementDTO.Period(period: row.period, totals: [], lines: [line]))
            }
        }
        for index in periods.indices { periods[index].totals = try totals(periods[index].lines.map(\.amount)) }
        let body = StatementDTO(party: party, from: range.fromText, to: range.toText, totals: try totals(rows.map(\.amount)), periods: periods)
        return try JSONResponse(body).response(from: request, context: context)
    }

    /// A statement as RFC 4180 CSV (also the export's `earnings.csv`).
    static func csv(_ rows: [StatementRow], name: (String?) -> String) -> CSVWriter {
        var csv = CSVWriter(header: ["period", "counterpart_id", "counterpart_name", "kind", "transfers", "currency", "amount_minor_units", "amount"])
        for row in rows {
            csv.append([row.period, row.counterpart ?? "", name(row.counterpart), row.kind, String(row.transfers), row.amount.currency,
                        String(row.amount.minorUnits), row.amount.decimal])
        }
        return csv
    }

    /// Sums per currency, in currency order; never mixes currencies.
    static func totals(_ amounts: [Money]) throws -> [Money] {
        var sums: [String: Int64] = [:]
        for amount in amounts { sums[amount.currency] = try (sums[amount.currency] ?? 0).checkedAdding(amount.minorUnits) }
        return sums.sorted { $0.key < $1.key }.map { Money(minorUnits: $0.value, currency: $0.key) }
    }
}

/// RFC 4180 CSV: CRLF line ends; fields with a comma, quote, CR or LF quoted, quotes doubled. Text that a
/// spreadsheet would run as a formula (leading `=`, `+`, `-`, `@`, tab, CR) is prefixed with `'`.
struct CSVWriter {
    private(set) var text = ""

    init(header: [String]) {
        appendRow(header, guardFormulas: false)
    }

    mutating func append(_ fields: [String]) {
        appendRow(fields, guardFormulas: true)
    }

    private mutating func appendRow(_ fields: [String], guardFormulas: Bool) {
        text += fields.map { field -> String in
            var value = field
            if guardFormulas, let first = value.unicodeScalars.first, "=+@\t\r".unicodeScalars.contains(first)
                || (first == "-" && Int64(value) == nil && !value.allSatisfy({ $0 == "-" || $0 == "." || $0.isNumber })) {
                value = "'" + value
            }
            guard value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\r" || $0 == "\n" || $0 == "\r\n" }) else { return value }
            return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }.joined(separator: ",") + "\r\n"
    }
}
