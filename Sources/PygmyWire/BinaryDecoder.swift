import NIOCore

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Decodes any `Decodable` value from Pygmy's binary format (see `BinaryEncoder` and `Protocol/PROTOCOL.md`).
///
/// Built for hostile input: every length is checked against the bytes that remain, nesting is capped at
/// `maxDepth`, and every malformed input throws a `DecodingError` that says what was wrong and where.
/// Nothing is allocated in proportion to a declared count; collections grow only as elements are read.
public struct BinaryDecoder: Sendable {
    /// The deepest nesting of containers accepted. Deeper input throws rather than recursing further.
    public var maxDepth: Int = 64
    /// Values made available to `init(from:)` implementations through `Decoder.userInfo`.
    public var userInfo: [CodingUserInfoKey: any Sendable] = [:]

    public init() {}

    /// Decodes one top-level slot that must span `bytes` exactly.
    public func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        let storage = DecoderStorage(bytes: bytes, maxDepth: maxDepth, userInfo: userInfo)
        var index = 0
        let slot = try storage.readSlot(at: &index, end: bytes.count, codingPath: [])
        guard index == bytes.count else {
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: [],
                    debugDescription: "\(bytes.count - index) trailing bytes after the top-level value"
                )
            )
        }
        return try storage.decodeValue(type, slot: slot, depth: 1, codingPath: [])
    }

    /// Decodes one top-level slot that must span the readable bytes of `buffer`.
    public func decode<T: Decodable>(_ type: T.Type, from buffer: ByteBuffer) throws -> T {
        try decode(type, from: Array(buffer.readableBytesView))
    }

    /// Decodes one top-level slot that must span `data`.
    public func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        try decode(type, from: [UInt8](data))
    }
}

/// A slot located in the input: its payload is `bytes[start..<end]`, or it is nil.
struct Slot {
    var start: Int
    var end: Int
    var isNil: Bool
}

/// The input bytes and limits shared by every container of one decoding run.
final class DecoderStorage {
    let bytes: [UInt8]
    let maxDepth: Int
    let userInfo: [CodingUserInfoKey: Any]

    init(bytes: [UInt8], maxDepth: Int, userInfo: [CodingUserInfoKey: any Sendable]) {
        self.bytes = bytes
        self.maxDepth = maxDepth
        self.userInfo = userInfo
    }

    func corrupted(_ path: [any CodingKey], _ message: String) -> DecodingError {
        DecodingError.dataCorrupted(.init(codingPath: path, debugDescription: message))
    }

    /// Reads a slot header at `index` and returns the slot, leaving `index` just past its payload.
    @inline(__always)
    func readSlot(at index: inout Int, end: Int, codingPath: [any CodingKey]) throws -> Slot {
        guard let header = VarInt.read(bytes, at: &index, end: end) else {
            throw corrupted(codingPath, "truncated or overlong slot header at byte \(index)")
        }
        if header == 0 { return Slot(start: index, end: index, isNil: true) }
        let length = header - 1
        guard length <= UInt64(end - index) else {
            throw corrupted(
                codingPath,
                "slot at byte \(index) declares \(length) bytes but only \(end - index) remain"
            )
        }
        let start = index
        index += Int(length)
        return Slot(start: start, end: index, isNil: false)
    }

    /// Reads a key (varint length + UTF-8) at `index`, returning the byte range of its text.
    @inline(__always)
    func readKey(at index: inout Int, end: Int, codingPath: [any CodingKey]) throws -> Range<Int> {
        guard let length = VarInt.read(bytes, at: &index, end: end) else {
            throw corrupted(codingPath, "truncated or overlong key length at byte \(index)")
        }
        guard length <= UInt64(end - index) else {
            throw corrupted(codingPath, "key at byte \(index) declares \(length) bytes but only \(end - index) remain")
        }
        let start = index
        index += Int(length)
        return start..<index
    }

    /// Whether the key text at `range` equals `key.stringValue`.
    @inline(__always)
    func keyMatches(_ range: Range<Int>, _ key: some CodingKey) -> Bool {
        var s = key.stringValue
        return s.withUTF8 { utf8 in
            guard utf8.count == range.count else { return false }
            var i = range.lowerBound
            for byte in utf8 {
                if bytes[i] != byte { return false }
                i += 1
            }
            return true
        }
    }

    func keyString(_ range: Range<Int>, codingPath: [any CodingKey]) throws -> String {
        try string(Slot(start: range.lowerBound, end: range.upperBound, isNil: false), codingPath)
    }

    // MARK: Leaf payloads

    @inline(__always)
    func requirePresent(_ slot: Slot, _ type: Any.Type, _ path: [any CodingKey]) throws {
        if slot.isNil {
            throw DecodingError.valueNotFound(
                type,
                .init(codingPath: path, debugDescription: "expected \(type), found nil")
            )
        }
    }

    @inline(__always)
    func unsigned(_ slot: Slot, _ path: [any CodingKey]) throws -> UInt64 {
        try requirePresent(slot, UInt64.self, path)
        var index = slot.start
        guard let v = VarInt.read(bytes, at: &index, end: slot.end), index == slot.end else {
            throw corrupted(path, "malformed varint of \(slot.end - slot.start) bytes")
        }
        return v
    }

    @inline(__always)
    func signed(_ slot: Slot, _ path: [any CodingKey]) throws -> Int64 {
        VarInt.unZigZag(try unsigned(slot, path))
    }

    @inline(__always)
    func integer<I: FixedWidthInteger>(_ type: I.Type, _ slot: Slot, _ path: [any CodingKey]) throws -> I {
        if I.isSigned {
            let v = try signed(slot, path)
            guard let r = I(exactly: v) else { throw corrupted(path, "\(v) does not fit in \(I.self)") }
            return r
        } else {
            let v = try unsigned(slot, path)
            guard let r = I(exactly: v) else { throw corrupted(path, "\(v) does not fit in \(I.self)") }
            return r
        }
    }

    @inline(__always)
    func bool(_ slot: Slot, _ path: [any CodingKey]) throws -> Bool {
        try requirePresent(slot, Bool.self, path)
        guard slot.end - slot.start == 1, bytes[slot.start] <= 1 else {
            throw corrupted(path, "a Bool is one byte, 0 or 1")
        }
        return bytes[slot.start] == 1
    }

    @inline(__always)
    func fixed64(_ slot: Slot, _ path: [any CodingKey], _ what: String) throws -> UInt64 {
        try requirePresent(slot, UInt64.self, path)
        guard slot.end - slot.start == 8 else {
            throw corrupted(path, "\(what) takes 8 bytes, found \(slot.end - slot.start)")
        }
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(bytes[slot.start + i]) << (8 * UInt64(i)) }
        return v
    }

    @inline(__always)
    func fixed32(_ slot: Slot, _ path: [any CodingKey], _ what: String) throws -> UInt32 {
        try requirePresent(slot, UInt32.self, path)
        guard slot.end - slot.start == 4 else {
            throw corrupted(path, "\(what) takes 4 bytes, found \(slot.end - slot.start)")
        }
        var v: UInt32 = 0
        for i in 0..<4 { v |= UInt32(bytes[slot.start + i]) << (8 * UInt32(i)) }
        return v
    }

    @inline(__always)
    func double(_ slot: Slot, _ path: [any CodingKey]) throws -> Double {
        Double(bitPattern: try fixed64(slot, path, "a Double"))
    }

    @inline(__always)
    func float(_ slot: Slot, _ path: [any CodingKey]) throws -> Float {
        Float(bitPattern: try fixed32(slot, path, "a Float"))
    }

    @inline(__always)
    func string(_ slot: Slot, _ path: [any CodingKey]) throws -> String {
        try requirePresent(slot, String.self, path)
        let s = bytes.withUnsafeBufferPointer { all in
            String(validating: UnsafeBufferPointer(rebasing: all[slot.start..<slot.end]), as: UTF8.self)
        }
        guard let s else { throw corrupted(path, "string is not valid UTF-8") }
        return s
    }

    /// Decodes a value from `slot`: leaf types directly, anything else through its `init(from:)`.
    func decodeValue<T: Decodable>(_ type: T.Type, slot: Slot, depth: Int, codingPath: [any CodingKey]) throws -> T {
        if let leaf = try decodeLeaf(type, slot: slot, codingPath: codingPath) { return leaf }
        guard depth <= maxDepth else {
            throw corrupted(codingPath, "nesting deeper than \(maxDepth) levels")
        }
        let decoder = _BinaryDecoder(storage: self, slot: slot, depth: depth, codingPath: codingPath)
        return try T(from: decoder)
    }

    /// Decodes the types whose binary form the spec fixes; nil for every other type.
    @inline(__always)
    func decodeLeaf<T: Decodable>(_ type: T.Type, slot: Slot, codingPath p: [any CodingKey]) throws -> T? {
        if T.self == String.self { return unsafeBitCast(try string(slot, p), to: T.self) }
        if T.self == Int.self { return unsafeBitCast(try integer(Int.self, slot, p), to: T.self) }
        if T.self == Bool.self { return unsafeBitCast(try bool(slot, p), to: T.self) }
        if T.self == Data.self {
            try requirePresent(slot, Data.self, p)
            return unsafeBitCast(Data(bytes[slot.start..<slot.end]), to: T.self)
        }
        if T.self == Date.self {
            let seconds = Double(bitPattern: try fixed64(slot, p, "a Date"))
            return unsafeBitCast(Date(timeIntervalSinceReferenceDate: seconds), to: T.self)
        }
        if T.self == UUID.self {
            try requirePresent(slot, UUID.self, p)
            guard slot.end - slot.start == 16 else {
                throw corrupted(p, "a UUID takes 16 bytes, found \(slot.end - slot.start)")
            }
            let b = bytes
            let s = slot.start
            let uuid = UUID(
                uuid: (
                    b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4], b[s + 5], b[s + 6], b[s + 7],
                    b[s + 8], b[s + 9], b[s + 10], b[s + 11], b[s + 12], b[s + 13], b[s + 14], b[s + 15]
                )
            )
            return unsafeBitCast(uuid, to: T.self)
        }
        if T.self == Double.self { return unsafeBitCast(try double(slot, p), to: T.self) }
        if T.self == Float.self { return unsafeBitCast(try float(slot, p), to: T.self) }
        if T.self == Int64.self { return unsafeBitCast(try integer(Int64.self, slot, p), to: T.self) }
        if T.self == UInt64.self { return unsafeBitCast(try integer(UInt64.self, slot, p), to: T.self) }
        if T.self == UInt.self { return unsafeBitCast(try integer(UInt.self, slot, p), to: T.self) }
        if T.self == Int32.self { return unsafeBitCast(try integer(Int32.self, slot, p), to: T.self) }
        if T.self == UInt32.self { return unsafeBitCast(try integer(UInt32.self, slot, p), to: T.self) }
        if T.self == Int16.self { return unsafeBitCast(try integer(Int16.self, slot, p), to: T.self) }
        if T.self == UInt16.self { return unsafeBitCast(try integer(UInt16.self, slot, p), to: T.self) }
        if T.self == Int8.self { return unsafeBitCast(try integer(Int8.self, slot, p), to: T.self) }
        if T.self == UInt8.self { return unsafeBitCast(try integer(UInt8.self, slot, p), to: T.self) }
        return nil
    }
}
