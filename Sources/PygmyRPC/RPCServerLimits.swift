/// The limits of an `RPCServer` as a deployment file states them: every field optional (absent: keep
/// the value it is applied over), times in milliseconds. The topology's `limits` object, cluster-wide
/// and per node, decodes to this.
public struct RPCServerLimits: Codable, Sendable, Hashable {
    /// Time a new connection has to complete the hello (and TLS, if any).
    public var handshakeTimeoutMillis: Int?
    /// Time a peer has to finish a hello or frame once its first byte arrived; 0: no limit.
    public var frameTimeoutMillis: Int?
    /// A connection with no traffic and no calls in flight for this long is closed; 0: never.
    public var idleTimeoutMillis: Int?
    /// Open connections accepted at once; further ones are closed on accept.
    public var maxConnections: Int?
    /// The largest frame accepted (bytes after the length prefix).
    public var maxFrameLength: Int?
    /// Calls one connection may have in flight; beyond that the server stops reading from it.
    public var maxConcurrentCallsPerConnection: Int?
    /// How long a graceful shutdown waits for in-flight calls.
    public var shutdownGracePeriodMillis: Int?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case handshakeTimeoutMillis, frameTimeoutMillis, idleTimeoutMillis, maxConnections, maxFrameLength
        case maxConcurrentCallsPerConnection, shutdownGracePeriodMillis
    }

    /// The keys of the `limits` object, for strict configuration checks.
    public static let fieldNames = CodingKeys.allCases.map(\.stringValue)

    public init(
        handshakeTimeoutMillis: Int? = nil,
        frameTimeoutMillis: Int? = nil,
        idleTimeoutMillis: Int? = nil,
        maxConnections: Int? = nil,
        maxFrameLength: Int? = nil,
        maxConcurrentCallsPerConnection: Int? = nil,
        shutdownGracePeriodMillis: Int? = nil
    ) {
        self.handshakeTimeoutMillis = handshakeTimeoutMillis
        self.frameTimeoutMillis = frameTimeoutMillis
        self.idleTimeoutMillis = idleTimeoutMillis
        self.maxConnections = maxConnections
        self.maxFrameLength = maxFrameLength
        self.maxConcurrentCallsPerConnection = maxConcurrentCallsPerConnection
        self.shutdownGracePeriodMillis = shutdownGracePeriodMillis
    }

    /// The largest `maxFrameLength` accepted: 1 GiB (the wire allows 4 GiB − 1, no node needs that).
    public static let frameLengthRange = 64...(1 << 30)

    /// These limits, with the fields they leave out taken from `base` (a node's own over the cluster's).
    public func over(_ base: RPCServerLimits?) -> RPCServerLimits {
        guard let base else { return self }
        return RPCServerLimits(
            handshakeTimeoutMillis: handshakeTimeoutMillis ?? base.handshakeTimeoutMillis,
            frameTimeoutMillis: frameTimeoutMillis ?? base.frameTimeoutMillis,
            idleTimeoutMillis: idleTimeoutMillis ?? base.idleTimeoutMillis,
            maxConnections: maxConnections ?? base.maxConnections,
            maxFrameLength: maxFrameLength ?? base.maxFrameLength,
            maxConcurrentCallsPerConnection: maxConcurrentCallsPerConnection ?? base.maxConcurrentCallsPerConnection,
            shutdownGracePeriodMillis: shutdownGracePeriodMillis ?? base.shutdownGracePeriodMillis
        )
    }

    /// The first value out of range, described with its field name; nil when all are valid.
    public func problem() -> String? {
        let positive: [(String, Int?)] = [
            ("handshakeTimeoutMillis", handshakeTimeoutMillis), ("maxConnections", maxConnections),
            ("maxConcurrentCallsPerConnection", maxConcurrentCallsPerConnection),
        ]
        for case (let name, let value?) in positive where value < 1 {
            return "\(name) must be at least 1, not \(value)"
        }
        let nonNegative: [(String, Int?)] = [
            ("frameTimeoutMillis", frameTimeoutMillis), ("idleTimeoutMillis", idleTimeoutMillis),
            ("shutdownGracePeriodMillis", shutdownGracePeriodMillis),
        ]
        for case (let name, let value?) in nonNegative where value < 0 {
            return "\(name) must not be negative, not \(value)"
        }
        if let length = maxFrameLength, !Self.frameLengthRange.contains(length) {
            let range = Self.frameLengthRange
            return "maxFrameLength must be \(range.lowerBound)…\(range.upperBound) bytes, not \(length)"
        }
        return nil
    }

    /// Sets the fields these limits give in `configuration`; the others keep their values.
    public func apply(to configuration: inout RPCServer.Configuration) {
        if let millis = handshakeTimeoutMillis { configuration.handshakeTimeout = .milliseconds(millis) }
        if let millis = frameTimeoutMillis { configuration.frameTimeout = millis == 0 ? nil : .milliseconds(millis) }
        if let millis = idleTimeoutMillis { configuration.idleTimeout = millis == 0 ? nil : .milliseconds(millis) }
        if let count = maxConnections { configuration.maxConnections = count }
        if let length = maxFrameLength { configuration.maxFrameLength = length }
        if let count = maxConcurrentCallsPerConnection { configuration.maxConcurrentCallsPerConnection = count }
        if let millis = shutdownGracePeriodMillis { configuration.shutdownGracePeriod = .milliseconds(millis) }
    }
}
