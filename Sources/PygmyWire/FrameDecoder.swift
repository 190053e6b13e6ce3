import NIOCore

/// Turns the inbound byte stream into one `Hello` followed by `Frame`s.
///
/// The length prefix is checked the moment its four bytes arrive: a frame longer than `maxFrameLength`
/// (or shorter than its header) is rejected before any of its body is buffered.
public struct FrameDecoder: ByteToMessageDecoder {
    public typealias InboundOut = WireMessage

    public let maxFrameLength: Int
    private var awaitingHello: Bool

    /// - Parameters:
    ///   - maxFrameLength: the largest length prefix accepted.
    ///   - expectHello: whether the stream starts with the eight-byte hello (true on real connections).
    public init(maxFrameLength: Int = Frame.defaultMaxLength, expectHello: Bool = true) {
        self.maxFrameLength = maxFrameLength
        self.awaitingHello = expectHello
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let message = try decodeMessage(&buffer) else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(message))
        return .continue
    }

    public mutating func decodeLast(
        context: ChannelHandlerContext,
        buffer: inout ByteBuffer,
        seenEOF: Bool
    ) throws -> DecodingState {
        // A peer that closes mid-frame leaves bytes behind; they are dropped, not an error worth raising.
        try decode(context: context, buffer: &buffer)
    }

    /// Decodes one message from the front of `buffer`, or returns nil when more bytes are needed.
    /// Exposed for fuzzing and tests that run without a channel.
    public mutating func decodeMessage(_ buffer: inout ByteBuffer) throws -> WireMessage? {
        if awaitingHello {
            // Check the magic as soon as any byte arrives, so a wrong protocol is refused at once.
            let available = min(buffer.readableBytes, 4)
            if let prefix = buffer.getBytes(at: buffer.readerIndex, length: available),
                prefix != Array(Hello.magic[0..<available])
            {
                throw Hello.badMagic(prefix)
            }
            guard buffer.readableBytes >= Hello.length, let bytes = buffer.readSlice(length: Hello.length) else {
                return nil
            }
            awaitingHello = false
            return .hello(try Hello.parse(bytes.readableBytesView))
        }
        guard let length = buffer.getInteger(at: buffer.readerIndex, endianness: .big, as: UInt32.self) else {
            return nil
        }
        guard length <= maxFrameLength else {
            throw WireError(.frameTooLarge, "frame declares \(length) bytes; the limit is \(maxFrameLength)")
        }
        guard length >= Frame.headerLength else {
            throw WireError(
                .frameTooShort,
                "frame declares \(length) bytes, less than the \(Frame.headerLength)-byte header"
            )
        }
        guard buffer.readableBytes >= Frame.lengthPrefixLength + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: Frame.lengthPrefixLength)
        var body = buffer.readSlice(length: Int(length))!
        return .frame(try FrameParser.parse(&body))
    }
}

/// Writes `WireMessage`s: the hello as its eight bytes, frames in the wire layout.
public struct WireMessageEncoder: MessageToByteEncoder {
    public typealias OutboundIn = WireMessage

    public init() {}

    public func encode(data: WireMessage, out: inout ByteBuffer) throws {
        switch data {
        case .hello(let hello): hello.write(to: &out)
        case .frame(let frame): FrameWriter.write(frame, to: &out)
        }
    }
}
