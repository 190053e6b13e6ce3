import Logging
import NIOCore
import PygmyWire

/// Who is on the other end of a server connection.
public struct RPCPeer: Sendable, Hashable {
    /// The remote socket address, for logs.
    public var address: String
    /// The role the peer announced in its hello. Not proof of anything.
    public var announcedRole: PeerRole
    /// The identity the security layer verified (nil on plaintext connections).
    public var identity: RPCPeerIdentity?

    public init(address: String, announcedRole: PeerRole, identity: RPCPeerIdentity?) {
        self.address = address
        self.announcedRole = announcedRole
        self.identity = identity
    }
}

/// Everything a handler knows about the call it is serving.
public struct RPCContext: Sendable {
    /// The method name from the request frame.
    public var method: String
    /// When the caller stops waiting; nil when it sent no deadline. The server cancels the handler's task
    /// at this instant, so handlers only need to honour task cancellation.
    public var deadline: ContinuousClock.Instant?
    public var peer: RPCPeer
    /// The connection the call arrived on; keep it to push messages to this client later.
    public var connection: RPCServerConnection
    public var logger: Logger
}

/// A server-side connection, as seen by handlers: used to push messages to the client.
public struct RPCServerConnection: Sendable, Hashable {
    let channel: any Channel
    /// A number unique within the server process, for logs and for keeping subscribers in a set.
    public let id: UInt64

    public static func == (a: Self, b: Self) -> Bool { a.id == b.id }
    public func hash(into hasher: inout Hasher) { hasher.combine(id) }

    /// Whether the connection is still open.
    public var isActive: Bool { channel.isActive }

    /// Sends a push message. Completes when the frame has been handed to the socket; throws
    /// `TransportError.connectionClosed` if the connection is gone.
    public func push<T: RPCPushTopic>(_ topic: T.Type, _ message: T.Message) async throws {
        do {
            try await channel.writeAndFlush(try pushFrame(topic, message))
        } catch let error as EncodingError {
            throw error
        } catch {
            throw TransportError(.connectionClosed, "push on \(T.name) failed: \(error)")
        }
    }

    /// Queues a push message without waiting for it to be written. Pushes queued by one task reach the
    /// socket in the order they were queued, ahead of anything that task queues later.
    public func enqueuePush<T: RPCPushTopic>(_ topic: T.Type, _ message: T.Message) throws {
        channel.writeAndFlush(try pushFrame(topic, message), promise: nil)
    }

    private func pushFrame<T: RPCPushTopic>(_ topic: T.Type, _ message: T.Message) throws -> ByteBuffer {
        var bytes = [UInt8]()
        try BinaryEncoder().encode(message, appendingTo: &bytes)
        var buffer = channel.allocator.buffer(capacity: bytes.count + 16 + T.name.utf8.count)
        let start = FrameWriter.beginPush(topic: T.name, to: &buffer)
        buffer.writeBytes(bytes)
        FrameWriter.finish(lengthIndex: start, in: &buffer)
        return buffer
    }

    /// Completes when the connection closes.
    public func waitUntilClosed() async {
        try? await channel.closeFuture.get()
    }
}
