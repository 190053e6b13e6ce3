import NIOCore
import PygmyWire
import Testing

/// `FrameProgress` (which the server's frame deadline relies on), `Hello.parse` on inputs of the wrong
/// length, and the decoder's memory use for a frame that is only partly there.
@Suite struct FrameProgressTests {
    static let stream: [UInt8] = {
        var buffer = ByteBuffer()
        Hello(role: .client).write(to: &buffer)
        for frame in FrameDecoderTests.sampleFrames { FrameWriter.write(frame, to: &buffer) }
        return Array(buffer.readableBytesView)
    }()

    /// The offsets at which a message (the hello, then each frame) ends.
    static let boundaries: Set<Int> = {
        var ends: Set<Int> = [Hello.length]
        var offset = Hello.length
        for frame in FrameDecoderTests.sampleFrames {
            var buffer = ByteBuffer()
            FrameWriter.write(frame, to: &buffer)
            offset += buffer.readableBytes
            ends.insert(offset)
        }
        return ends
    }()

    @Test func fedByteByByteItIsBetweenMessagesExactlyAtTheBoundaries() {
        var progress = FrameProgress()
        #expect(!progress.isInsideMessage)
        for (index, byte) in Self.stream.enumerated() {
            progress.advance(over: ByteBuffer(bytes: [byte]).readableBytesView)
            let offset = index + 1
            #expect(progress.isInsideMessage == !Self.boundaries.contains(offset), "after \(offset) bytes")
            #expect(progress.completedMessages == Self.boundaries.filter { $0 <= offset }.count)
        }
        #expect(progress.completedMessages == FrameDecoderTests.sampleFrames.count + 1)
    }

    @Test(arguments: [2, 5, 13, 64, 4096])
    func anySplitGivesTheSameCount(chunk: Int) {
        var progress = FrameProgress()
        var offset = 0
        while offset < Self.stream.count {
            let end = min(Self.stream.count, offset + chunk)
            progress.advance(over: ByteBuffer(bytes: Self.stream[offset..<end]).readableBytesView)
            #expect(progress.isInsideMessage == !Self.boundaries.contains(end))
            offset = end
        }
        #expect(!progress.isInsideMessage)
        #expect(progress.completedMessages == FrameDecoderTests.sampleFrames.count + 1)
    }

    @Test func describesWhatIsUnfinished() {
        var progress = FrameProgress()
        progress.advance(over: ByteBuffer(bytes: Hello.magic).readableBytesView)
        #expect(progress.unfinished == "the hello (4 of 8 bytes)")
        progress.advance(over: ByteBuffer(bytes: [1, 1, 0, 0, 0, 0]).readableBytesView)
        #expect(progress.unfinished == "a frame's length prefix (2 of 4 bytes)")
        progress.advance(over: ByteBuffer(bytes: [0, 20, 1, 0, 0]).readableBytesView)
        #expect(progress.unfinished == "a frame of 20 bytes (3 received)")
    }

    @Test func helloParseThrowsForEveryOtherLength() throws {
        var valid = ByteBuffer()
        Hello(role: .admin).write(to: &valid)
        let bytes = Array(valid.readableBytesView)
        #expect(try Hello.parse(valid.readableBytesView) == Hello(role: .admin))
        for count in [0, 1, 3, 4, 7, 9, 16, 100] {
            let input = Array((bytes + bytes + Array(repeating: 0, count: 100)).prefix(count))
            #expect("\(count) bytes") {
                _ = try Hello.parse(ByteBuffer(bytes: input).readableBytesView)
            } throws: { error in
                (error as? WireError)?.code == .malformedFrame && "\(error)".contains("exactly 8 bytes, got \(count)")
            }
        }
    }

    /// A length prefix declaring 4 MiB with only a few body bytes behind it: the decoder waits without
    /// consuming, copying or reserving anything (the body is buffered only as it arrives).
    @Test func aPartialFrameIsNotPreallocated() throws {
        var decoder = FrameDecoder(expectHello: false)
        var buffer = ByteBuffer(bytes: [0x00, 0x40, 0x00, 0x00, 1, 0, 0, 0, 0, 1])
        let capacity = buffer.capacity
        #expect(try decoder.decodeMessage(&buffer) == nil)
        #expect(buffer.readerIndex == 0 && buffer.readableBytes == 10)
        #expect(buffer.capacity == capacity)
        #expect(capacity < 1024)
    }
}
