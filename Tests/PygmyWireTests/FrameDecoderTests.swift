import NIOCore
import NIOEmbedded
import NIOTestUtils
import PygmyWire
import Testing

@Suite struct FrameDecoderTests {
    static func encoded(_ messages: [WireMessage]) -> ByteBuffer {
        var buffer = ByteBuffer()
        for message in messages {
            try! WireMessageEncoder().encode(data: message, out: &buffer)
        }
        return buffer
    }

    static let sampleFrames: [Frame] = [
        .request(
            streamID: 1,
            method: "demo.echo",
            timeoutMicros: 250_000,
            payload: ByteBuffer(bytes: [3, 0x68, 0x69])
        ),
        .response(streamID: 1, payload: ByteBuffer(bytes: [3, 0x68, 0x69])),
        .error(streamID: 2, code: 12, message: "unknown method \"nope\""),
        .cancel(streamID: 3),
        .ping(42),
        .pong(42),
        .push(topic: "catalog.invalidate", payload: ByteBuffer(bytes: [1])),
        .goAway(reason: "bye"),
        .response(streamID: 9, payload: ByteBuffer()),
    ]

    @Test func splitAndCoalescedReadsDecodeTheSameFrames() throws {
        // The verifier feeds the same decoder several times, so the hello (sent once) is left out here.
        let messages = Self.sampleFrames.map(WireMessage.frame)
        try ByteToMessageDecoderVerifier.verifyDecoder(
            inputOutputPairs: messages.map { (Self.encoded([$0]), [$0]) },
            decoderFactory: { FrameDecoder(expectHello: false) }
        )
    }

    @Test func helloThenFramesArriveOneByteAtATime() throws {
        let messages: [WireMessage] = [.hello(Hello(role: .order))] + Self.sampleFrames.map(WireMessage.frame)
        var input = Self.encoded(messages)
        var decoder = FrameDecoder()
        var buffer = ByteBuffer()
        var decoded: [WireMessage] = []
        while let byte = input.readSlice(length: 1) {
            var b = byte
            buffer.writeBuffer(&b)
            while let message = try decoder.decodeMessage(&buffer) { decoded.append(message) }
        }
        #expect(decoded == messages)
    }

    @Test func oversizedLengthIsRejectedAsSoonAsThePrefixArrives() {
        var decoder = FrameDecoder(maxFrameLength: 1024, expectHello: false)
        var buffer = ByteBuffer(bytes: [0x00, 0x00, 0x04, 0x01])  // 1025, and no body at all
        #expect {
            _ = try decoder.decodeMessage(&buffer)
        } throws: { error in
            (error as? WireError)?.code == .frameTooLarge
        }
        var huge = ByteBuffer(bytes: [0xFF, 0xFF, 0xFF, 0xFF])  // 4 GiB
        var fresh = FrameDecoder(expectHello: false)
        #expect(throws: WireError.self) { _ = try fresh.decodeMessage(&huge) }
    }

    @Test func lengthShorterThanTheHeaderIsRejected() {
        var decoder = FrameDecoder(expectHello: false)
        var buffer = ByteBuffer(bytes: [0, 0, 0, 5, 1, 0, 0, 0, 0])
        #expect {
            _ = try decoder.decodeMessage(&buffer)
        } throws: { error in
            (error as? WireError)?.code == .frameTooShort
        }
    }

    @Test func wrongMagicIsRefusedOnTheFirstByte() {
        var decoder = FrameDecoder()
        var tls = ByteBuffer(bytes: [0x16])  // a TLS ClientHello starts with 0x16
        #expect {
            _ = try decoder.decodeMessage(&tls)
        } throws: { error in
            (error as? WireError)?.code == .badMagic && "\(error)".contains("TLS")
        }
        var http = ByteBuffer(string: "GET / HTTP/1.1\r\n")
        var decoder2 = FrameDecoder()
        #expect(throws: WireError.self) { _ = try decoder2.decodeMessage(&http) }
    }

    @Test func unknownFrameKindsAreSurfacedForTheReceiverToIgnore() throws {
        var decoder = FrameDecoder(expectHello: false)
        var buffer = ByteBuffer(bytes: [0, 0, 0, 9, 0xEE, 0x80, 0, 0, 0, 7, 1, 2, 3])
        let message = try decoder.decodeMessage(&buffer)
        #expect(message == .frame(.unknown(kind: 0xEE, streamID: 7)))
        #expect(buffer.readableBytes == 0)
    }

    @Test func truncatedRequestFieldsAreMalformed() {
        var decoder = FrameDecoder(expectHello: false)
        // A request whose method claims 200 bytes but the frame has 2.
        var buffer = ByteBuffer(bytes: [0, 0, 0, 9, 1, 0, 0, 0, 0, 1, 200, 0x61, 0x62])
        #expect {
            _ = try decoder.decodeMessage(&buffer)
        } throws: { error in
            (error as? WireError)?.code == .malformedFrame
        }
    }

    @Test func decoderInAChannelFiresTheErrorAndStopsDecoding() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder(maxFrameLength: 64)))
        try channel.writeInbound(Self.encoded([.hello(Hello(role: .client))]))
        #expect(try channel.readInbound(as: WireMessage.self) == .hello(Hello(role: .client)))
        #expect(throws: WireError.self) { try channel.writeInbound(ByteBuffer(bytes: [0, 0, 1, 0])) }
        _ = try? channel.finish()
    }
}
