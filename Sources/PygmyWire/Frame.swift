import NIOCore

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The kind byte of a frame.
public enum FrameKind: UInt8, Sendable {
    case request = 1
    case response = 2
    case error = 3
    case cancel = 4
    case ping = 5
    case pong = 6
    case push = 7
    case goAway = 8
    case clusterId = 9
}

/// One decoded frame. See `Protocol/PROTOCOL.md`, "Frames", for the byte layout of each case.
public enum Frame: Sendable, Equatable {
    /// A call: `method` names the handler; `timeoutMicros` is the time the caller will wait (0: no deadline).
    case request(streamID: UInt32, method: String, timeoutMicros: UInt64, payload: ByteBuffer)
    /// The successful answer to the request with the same stream id.
    case response(streamID: UInt32, payload: ByteBuffer)
    /// A failed call (or, with stream id 0, a connection-level error). `code` is an `RPCStatus` code.
    case error(streamID: UInt32, code: UInt16, message: String)
    /// The caller gave up on the call with this stream id.
    case cancel(streamID: UInt32)
    /// Keepalive probe; the peer answers with a pong carrying the same opaque value.
    case ping(UInt64)
    case pong(UInt64)
    /// An unsolicited message from server to client on a named topic.
    case push(topic: String, payload: ByteBuffer)
    /// The sender is shutting down: it takes no new calls, finishes those already received, then closes.
    case goAway(reason: String)
    /// The sender's cluster id, sent right after its hello when the hello's `clusterIdFollows` flag is set
    /// (PROTOCOL.md §2.1): peers of different clusters refuse each other.
    case clusterId(UUID)
    /// A frame kind this version does not know. Receivers ignore it (forward compatibility).
    case unknown(kind: UInt8, streamID: UInt32)

    /// Size of the fixed header that follows the length prefix: kind, flags, stream id.
    public static let headerLength = 6
    /// Size of the length prefix.
    public static let lengthPrefixLength = 4
    /// Default cap on the length prefix (bytes after the prefix).
    public static let defaultMaxLength = 4 * 1024 * 1024
}

/// What travels on a Pygmy connection: first one hello, then frames.
public enum WireMessage: Sendable, Equatable {
    case hello(Hello)
    case frame(Frame)
}

extension Frame {
    /// The frame's kind as PROTOCOL.md names it (`request`, `goAway`, …), for messages.
    public var kindName: String {
        switch self {
        case .request: "request"
        case .response: "response"
        case .error: "error"
        case .cancel: "cancel"
        case .ping: "ping"
        case .pong: "pong"
        case .push: "push"
        case .goAway: "goAway"
        case .clusterId: "clusterId"
        case .unknown(let kind, _): "unknown (kind \(kind))"
        }
    }
}
