import NIOCore

/// Follows the message boundaries of an inbound byte stream (one hello, then length-prefixed frames)
/// without buffering or parsing anything, so a server can tell whether its peer has stopped in the middle
/// of a message.
///
/// It reads only the four bytes of each length prefix and skips bodies by count, so it costs a few
/// instructions a frame and never allocates. It does not validate: a length the decoder rejects is
/// simply counted, and the decoder closes the connection first.
public struct FrameProgress: Sendable, Equatable {
    /// Where in the stream the next byte falls.
    public enum Position: Sendable, Equatable {
        /// Inside the hello: `received` of its eight bytes have arrived.
        case hello(received: Int)
        /// Inside a length prefix: `received` of its four bytes have arrived; `value` holds them so far.
        case lengthPrefix(received: Int, value: UInt32)
        /// Inside a frame that declared `length` bytes after its prefix, of which `received` have arrived.
        case body(length: Int, received: Int)
    }

    /// Where the next byte falls.
    public private(set) var position: Position
    /// Messages (the hello counts as one) completed so far.
    public private(set) var completedMessages: UInt64 = 0

    /// - Parameter expectHello: whether the stream starts with the eight-byte hello.
    public init(expectHello: Bool = true) {
        position = expectHello ? .hello(received: 0) : .lengthPrefix(received: 0, value: 0)
    }

    /// Whether the stream stopped inside a message: some of its bytes arrived, not all.
    public var isInsideMessage: Bool {
        switch position {
        case .hello(let received): received > 0
        case .lengthPrefix(let received, _): received > 0
        case .body: true
        }
    }

    /// What the peer has left unfinished, for a log line: "the hello (3 of 8 bytes)".
    public var unfinished: String {
        switch position {
        case .hello(let received): "the hello (\(received) of \(Hello.length) bytes)"
        case .lengthPrefix(let received, _):
            "a frame's length prefix (\(received) of \(Frame.lengthPrefixLength) bytes)"
        case .body(let length, let received): "a frame of \(length) bytes (\(received) received)"
        }
    }

    /// Moves past `bytes`, the next bytes of the stream.
    public mutating func advance(over bytes: ByteBufferView) {
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let available = bytes.endIndex - index
            switch position {
            case .hello(let received):
                let taken = min(available, Hello.length - received)
                index += taken
                if received + taken == Hello.length {
                    completeMessage()
                } else {
                    position = .hello(received: received + taken)
                }
            case .lengthPrefix(let received, let value):
                let next = value << 8 | UInt32(bytes[index])
                index += 1
                if received + 1 < Frame.lengthPrefixLength {
                    position = .lengthPrefix(received: received + 1, value: next)
                } else if next == 0 {
                    completeMessage()  // invalid (shorter than a header), but complete as far as bytes go
                } else {
                    position = .body(length: Int(next), received: 0)
                }
            case .body(let length, let received):
                let taken = min(available, length - received)
                index += taken
                if received + taken == length {
                    completeMessage()
                } else {
                    position = .body(length: length, received: received + taken)
                }
            }
        }
    }

    private mutating func completeMessage() {
        completedMessages &+= 1
        position = .lengthPrefix(received: 0, value: 0)
    }
}
