/// The outcome of a call that did not succeed, as decided by the server (or by the caller's own deadline
/// or cancellation). Travels in error frames as a 16-bit code and a UTF-8 message.
///
/// Failures of the connection itself are `TransportError`s instead, so callers can tell "the server said
/// no" apart from "the server could not be reached".
public struct RPCError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A status code. 1–17 are the framework's (aligned with gRPC's numbering where they overlap);
    /// 1000 and above belong to applications.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public var rawValue: UInt16
        public init(rawValue: UInt16) { self.rawValue = rawValue }

        public static let cancelled = Code(rawValue: 1)
        public static let unknown = Code(rawValue: 2)
        public static let invalidArgument = Code(rawValue: 3)
        public static let deadlineExceeded = Code(rawValue: 4)
        public static let notFound = Code(rawValue: 5)
        public static let alreadyExists = Code(rawValue: 6)
        public static let permissionDenied = Code(rawValue: 7)
        public static let resourceExhausted = Code(rawValue: 8)
        public static let failedPrecondition = Code(rawValue: 9)
        public static let aborted = Code(rawValue: 10)
        public static let outOfRange = Code(rawValue: 11)
        public static let unimplemented = Code(rawValue: 12)
        public static let internalError = Code(rawValue: 13)
        public static let unavailable = Code(rawValue: 14)
        public static let dataLoss = Code(rawValue: 15)
        public static let unauthenticated = Code(rawValue: 16)
        /// The peer broke the wire protocol (malformed or oversized frame); sent on stream 0 before closing.
        public static let protocolViolation = Code(rawValue: 17)

        static let names: [UInt16: String] = [
            1: "cancelled", 2: "unknown", 3: "invalidArgument", 4: "deadlineExceeded", 5: "notFound",
            6: "alreadyExists", 7: "permissionDenied", 8: "resourceExhausted", 9: "failedPrecondition",
            10: "aborted", 11: "outOfRange", 12: "unimplemented", 13: "internalError", 14: "unavailable",
            15: "dataLoss", 16: "unauthenticated", 17: "protocolViolation",
        ]

        public var description: String { Code.names[rawValue] ?? "code \(rawValue)" }
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}

/// A failure to reach the peer or to keep the connection: nothing was decided about the call.
///
/// For `.connectionClosed` and `.keepaliveTimeout` the call may or may not have run on the server;
/// callers that retry must make the operation idempotent (the bookstore uses request ids).
public struct TransportError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// The TCP connection could not be established (refused, unreachable, timed out).
        case connectFailed
        /// A previous attempt failed and the client is waiting before it reconnects.
        case backingOff
        /// The connection closed while the call was in flight.
        case connectionClosed
        /// The peer stopped answering keepalive pings.
        case keepaliveTimeout
        /// The handshake failed: unsupported version, or the security layer refused.
        case handshakeFailed
        /// The peer answered, but not as a Pygmy server: something other than the Pygmy hello, or (in
        /// plaintext) nothing at all within the handshake timeout.
        case notPygmyServer
        /// The peer is a Pygmy node of another cluster: the two sides' cluster ids differ (PROTOCOL.md §2.1).
        case wrongCluster
        /// The peer broke the wire protocol.
        case protocolViolation
        /// The client was shut down.
        case shutdown
    }

    public var kind: Kind
    public var message: String
    /// For `.connectFailed` and `.backingOff`: the peer's host refused the connection (nothing listens on
    /// the port), as opposed to a timeout or an unreachable network. Only a refusal says the peer's
    /// process is not running.
    public var refused: Bool

    public init(_ kind: Kind, _ message: String, refused: Bool = false) {
        self.kind = kind
        self.message = message
        self.refused = refused
    }

    public var description: String { "\(kind.rawValue): \(message)" }
}
