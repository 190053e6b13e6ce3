import NIOCore
import NIOPosix

/// The floor: a bare SwiftNIO echo with no RPC layer. Frames are `u32 length | bytes`; the server writes
/// each frame straight back; the client keeps a FIFO of promises (TCP keeps the replies in order), so
/// calls wait on a promise just as Pygmy RPC's do.
enum NIOEcho {
    /// Splits the byte stream into length-prefixed frames.
    struct FrameDecoder: ByteToMessageDecoder {
        typealias InboundOut = ByteBuffer

        mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
            guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self),
                buffer.readableBytes >= 4 + Int(length)
            else { return .needMoreData }
            buffer.moveReaderIndex(forwardBy: 4)
            context.fireChannelRead(wrapInboundOut(buffer.readSlice(length: Int(length))!))
            return .continue
        }

        mutating func decodeLast(
            context: ChannelHandlerContext,
            buffer: inout ByteBuffer,
            seenEOF: Bool
        ) throws -> DecodingState {
            try decode(context: context, buffer: &buffer)
        }
    }

    /// Server side: writes every frame back, flushing once per read.
    final class EchoHandler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let frame = unwrapInboundIn(data)
            var out = context.channel.allocator.buffer(capacity: 4 + frame.readableBytes)
            out.writeInteger(UInt32(frame.readableBytes))
            out.writeImmutableBuffer(frame)
            context.write(wrapOutboundOut(out), promise: nil)
        }

        func channelReadComplete(context: ChannelHandlerContext) {
            context.flush()
        }
    }

    /// A request on its way out: the payload and the promise its reply completes.
    struct Request {
        var payload: ByteBuffer
        var reply: EventLoopPromise<ByteBuffer>
    }

    /// Client side: frames requests and completes their promises in order.
    final class ClientHandler: ChannelDuplexHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundIn = Request
        typealias OutboundOut = ByteBuffer

        private var waiting = CircularBuffer<EventLoopPromise<ByteBuffer>>()

        func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
            let request = unwrapOutboundIn(data)
            waiting.append(request.reply)
            var out = context.channel.allocator.buffer(capacity: 4 + request.payload.readableBytes)
            out.writeInteger(UInt32(request.payload.readableBytes))
            out.writeImmutableBuffer(request.payload)
            context.write(wrapOutboundOut(out), promise: promise)
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            waiting.popFirst()?.succeed(unwrapInboundIn(data))
        }

        func channelInactive(context: ChannelHandlerContext) {
            while let reply = waiting.popFirst() { reply.fail(ChannelError.ioOnClosedChannel) }
            context.fireChannelInactive()
        }
    }

    static func serve(port: Int, bound: (Int) -> Void) async throws {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder()))
                    try channel.pipeline.syncOperations.addHandler(EchoHandler())
                }
            }
            .bind(host: "127.0.0.1", port: port).get()
        bound(channel.localAddress?.port ?? port)
        await sleepForever()
        try? await channel.close()
    }

    static func withClient<R: Sendable>(port: Int, _ body: (any EchoClient) async throws -> R) async throws -> R {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder()))
                    try channel.pipeline.syncOperations.addHandler(ClientHandler())
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        do {
            let result = try await body(Client(channel: channel))
            try? await channel.close()
            return result
        } catch {
            try? await channel.close()
            throw error
        }
    }

    struct Client: EchoClient {
        let channel: any Channel
        let payload = ByteBuffer(repeating: 0x2A, count: echoPayloadSize)

        func echo() async throws {
            let reply = channel.eventLoop.makePromise(of: ByteBuffer.self)
            channel.writeAndFlush(Request(payload: payload, reply: reply), promise: nil)
            let bytes = try await reply.futureResult.get().readableBytes
            guard bytes == echoPayloadSize else { throw BadEcho(bytes: bytes) }
        }
    }
}
