/// A definite "no" from the bookstore. Travels as an RPC error whose code is `code.rawValue`
/// (application codes start at 1000; see `Protocol/PROTOCOL.md`, "Bookstore messages").
public struct BookstoreError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: UInt16, Sendable, Codable {
        /// Fewer copies available than asked for.
        case outOfStock = 1001
        /// No book with that item number.
        case unknownItem = 1002
        /// No book with that topic.
        case unknownTopic = 1003
        /// Another attempt with the same request id is still running; retry later for its outcome.
        case inProgress = 1004
        /// The replica is still synchronising after a restart.
        case notReady = 1005
        /// A quantity, count or cost out of range.
        case invalidValue = 1006
        /// Not enough replicas are up to do this safely.
        case unavailable = 1007
        /// The request id was already used for a buy of another item or quantity: a new purchase needs a
        /// new request id (as payment APIs refuse a reused idempotency key with other parameters).
        case requestIdReused = 1008
        /// The request was made in another membership epoch than the replica's (or the replica is not a
        /// member of it): retry once the membership is known (heartbeats carry it).
        case staleEpoch = 1009
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
