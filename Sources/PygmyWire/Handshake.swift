import NIOCore

/// The role a peer announces in its hello. Informational: authorization uses the role in the peer's
/// TLS certificate, never this byte.
public enum PeerRole: UInt8, Sendable, CaseIterable, Codable, CustomStringConvertible {
    case unspecified = 0
    case client = 1
    case admin = 2
    case frontend = 3
    case catalog = 4
    case order = 5

    public var description: String {
        switch self {
        case .unspecified: "unspecified"
        case .client: "client"
        case .admin: "admin"
        case .frontend: "frontend"
        case .catalog: "catalog"
        case .order: "order"
        }
    }
}

/// The eight bytes each side sends first: magic `PYGM`, protocol version, role, flags.
///
/// The client sends its hello as soon as the connection (and TLS, if any) is up; the server answers
/// with its own. A server that cannot speak the client's version answers with version 0 and closes.
public struct Hello: Hashable, Sendable {
    /// `P Y G M`.
    public static let magic: [UInt8] = [0x50, 0x59, 0x47, 0x4D]
    /// The only protocol version this implementation speaks.
    public static let currentVersion: UInt8 = 1
    /// The version a server answers with when it refuses the client's.
    public static let refusedVersion: UInt8 = 0
    public static let length = 8

    public var version: UInt8
    public var role: PeerRole
    /// Bit 0 (`clusterIdFollows`) says a `clusterId` frame follows the hello; the other bits are
    /// reserved: senders write 0 and receivers ignore bits they do not know.
    public var flags: UInt16

    /// The flag bit that announces a `clusterId` frame right after the hello (PROTOCOL.md §2.1).
    public static let clusterIdFollows: UInt16 = 0x0001

    /// Whether the sender announced its cluster id.
    public var announcesClusterId: Bool { flags & Hello.clusterIdFollows != 0 }

    public init(version: UInt8 = Hello.currentVersion, role: PeerRole, flags: UInt16 = 0) {
        self.version = version
        self.role = role
        self.flags = flags
    }

    public func write(to buffer: inout ByteBuffer) {
        buffer.writeBytes(Hello.magic)
        buffer.writeInteger(version)
        buffer.writeInteger(role.rawValue)
        buffer.writeInteger(flags, endianness: .big)
    }

    /// The error for a stream that does not start with `PYGM`. A TLS ClientHello starts with 0x16, an
    /// HTTP request with a letter: name the likely cause.
    public static func badMagic(_ prefix: [UInt8]) -> WireError {
        let hex = prefix.map { String($0, radix: 16, uppercase: false) }.joined(separator: " ")
        let hint =
            prefix.first == 0x16
            ? "the peer is speaking TLS to a plaintext port"
            : "the peer is not speaking the Pygmy protocol, or the two sides disagree on TLS"
        return WireError(.badMagic, "expected the Pygmy hello (50 59 47 4d), got \(hex): \(hint)")
    }

    /// Parses a hello from exactly eight bytes.
    ///
    /// Throws `WireError` for any other number of bytes (`malformedFrame`, naming the count) and for a
    /// wrong magic (`badMagic`); it never traps, whatever it is given.
    public static func parse(_ bytes: ByteBufferView) throws -> Hello {
        let b = Array(bytes)
        guard b.count == length else {
            throw WireError(.malformedFrame, "a hello is exactly \(length) bytes, got \(b.count)")
        }
        guard Array(b[0..<4]) == magic else { throw badMagic(Array(b[0..<4])) }
        // An unknown role byte from a newer peer is tolerated: it only labels the connection.
        let role = PeerRole(rawValue: b[5]) ?? .unspecified
        return Hello(version: b[4], role: role, flags: UInt16(b[6]) << 8 | UInt16(b[7]))
    }
}
