import Foundation

/// A period of a per-month grant: calendar months (UTC) counted from the grant's creation, the last one cut
/// short by the grant's expiry. A month starting on the 31st ends on the last day of a shorter month.
public struct BillingPeriod: Sendable, Hashable {
    public let start: Timestamp
    public let end: Timestamp
    /// The end of the whole month, whether or not expiry cuts the period short.
    public let fullEnd: Timestamp

    private static let calendar: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
        return calendar
    }()

    /// The start of month number `index` after `anchor`.
    static func boundary(_ anchor: Timestamp, months index: Int) -> Timestamp {
        guard index > 0, let date = calendar.date(byAdding: .month, value: index, to: anchor.date) else { return anchor }
        // Keep the anchor's milliseconds exactly: Date arithmetic goes through Double.
        let seconds = Int64((date.timeIntervalSince1970).rounded(.down))
        return Timestamp(millisecondsSinceEpoch: seconds * 1000 + anchor.millisecondsSinceEpoch % 1000)
    }

    /// The next period to charge for a grant created at `anchor`, paid up to `paidUntil`, at `now`: the period
    /// after the paid one, or — when periods went by unpaid — the one containing `now` (access in unpaid periods
    /// was refused, so they are not charged). Nil when the grant has expired by the period's start.
    public static func next(anchor: Timestamp, paidUntil: Timestamp?, now: Timestamp, expiresAt: Timestamp) -> BillingPeriod? {
        var index = 0
        var start = anchor
        var next = boundary(anchor, months: 1)
        // Skip to the first period that ends after both what is paid and now.
        let floor = max(paidUntil ?? anchor, now)
        while next <= floor && start < expiresAt {
            index += 1
            start = next
            next = boundary(anchor, months: index + 1)
        }
        if let paidUntil, paidUntil > start { return nil }
        guard start < expiresAt else { return nil }
        return BillingPeriod(start: start, end: min(next, expiresAt), fullEnd: next)
    }

    /// The price of this period: the whole monthly price, or for a period cut short by expiry its share, rounded
    /// down to a whole minor unit.
    ///
    /// `from` (a resumption after a suspension) charges only what is left of the period from then on.
    public func price(of monthly: Money, from: Timestamp? = nil) -> Money {
        let begin = max(start, from ?? start)
        guard end < fullEnd || begin > start else { return monthly }
        guard begin < end else { return Money(minorUnits: 0, currency: monthly.currency) }
        let covered = end.millisecondsSinceEpoch - begin.millisecondsSinceEpoch
        let whole = fullEnd.millisecondsSinceEpoch - start.millisecondsSinceEpoch
        let product = monthly.minorUnits.multipliedFullWidth(by: covered)
        let (share, _) = whole.dividingFullWidth(product)
        return Money(minorUnits: share, currency: monthly.currency)
    }
}
