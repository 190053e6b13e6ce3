/// A violation of the frame format or handshake (`Protocol/PROTOCOL.md`, "Framing" and "Handshake").
///
/// Thrown by `FrameDecoder`; the RPC layer answers with an error frame where it still can and closes
/// the connection, since the byte stream can no longer be trusted.
public struct WireError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case badMagic
        case unsupportedVersion
        case frameTooLarge
        case frameTooShort
        case malformedFrame
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
