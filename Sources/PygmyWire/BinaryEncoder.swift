#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Encodes any `Encodable` value into Pygmy's compact binary format.
///
/// The format is specified in `Protocol/PROTOCOL.md` ("Binary encoding"). In short: every value sits in a
/// *slot* (a varint header that is 0 for nil, otherwise the payload length + 1); integers are varints
/// (ZigZag for signed types); keyed containers are a sequence of `key, slot` pairs; unkeyed containers are
/// a sequence of slots. Output is deterministic: the same value always gives the same bytes.
///
/// The encoder is a value type and cheap to create; it holds no state between calls.
public struct BinaryEncoder: Sendable {
    /// Values made available to `encode(to:)` implementations through `Encoder.userInfo`.
    public var userInfo: [CodingUserInfoKey: any Sendable] = [:]

    public init() {}

    /// Encodes `value` as one top-level slot and returns the bytes.
    public func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        var bytes: [UInt8] = []
        try encode(value, appendingTo: &bytes)
        return bytes
    }

    /// Encodes `value` as one top-level slot, appending to `bytes`.
    public func encode<T: Encodable>(_ value: T, appendingTo bytes: inout [UInt8]) throws {
        let state = EncoderState(bytes: bytes, userInfo: userInfo)
        bytes = []
        defer { bytes = state.take() }
        state.beginSlot()
        try state.encodeValue(value, depth: 1, codingPath: [])
        state.finishSlots(downTo: 0)
        if let error = state.deferredError { throw error }
    }
}

/// The shared, mutable state of one encoding run: the output bytes and the stack of open slots.
///
/// Containers write straight into `bytes`. A slot's header is written as one placeholder byte when it
/// opens and patched (widened if the payload reached 127 bytes) when it closes. Containers remember the
/// slot they write into; writing to a container closes every slot opened after its own, which is how
/// nested containers are finished.
final class EncoderState {
    private(set) var bytes: [UInt8]
    private var slotStarts: [Int] = []
    private var slotIDs: [UInt32] = []
    private var slotIsNil: [Bool] = []
    private var nextSlotID: UInt32 = 0
    let userInfo: [CodingUserInfoKey: Any]
    /// An ordering error found where the Codable API cannot throw (creating a nested container); the
    /// top-level `encode` throws it at the end.
    var deferredError: (any Error)?

    init(bytes: [UInt8], userInfo: [CodingUserInfoKey: any Sendable]) {
        self.bytes = bytes
        self.bytes.reserveCapacity(Swift.max(64, bytes.count + 64))
        self.userInfo = userInfo
    }

    func take() -> [UInt8] {
        let out = bytes
        bytes = []
        return out
    }

    /// The number of open slots; a container created now writes into the slot at this depth.
    var depth: Int { slotStarts.count }
    /// The identity of the innermost open slot.
    var currentSlotID: UInt32 { slotIDs.last ?? 0 }

    /// Opens a slot: one placeholder header byte, patched by `finishSlot`.
    @inline(__always)
    func beginSlot() {
        nextSlotID &+= 1
        slotStarts.append(bytes.count)
        slotIDs.append(nextSlotID)
        slotIsNil.append(false)
        bytes.append(0)
    }

    /// Marks the innermost open slot as nil (header 0) if it is still empty.
    func markNil(depth: Int, slotID: UInt32, codingPath: [any CodingKey]) throws {
        try prepareWrite(depth: depth, slotID: slotID, codingPath: codingPath)
        slotIsNil[depth - 1] = true
    }

    /// Closes open slots until only `depth` remain.
    @inline(__always)
    func finishSlots(downTo depth: Int) {
        while slotStarts.count > depth { finishSlot() }
    }

    private func finishSlot() {
        let start = slotStarts.removeLast()
        slotIDs.removeLast()
        let isNil = slotIsNil.removeLast()
        let payloadLength = bytes.count - start - 1
        if isNil && payloadLength == 0 {
            bytes[start] = 0
            return
        }
        let header = UInt64(payloadLength) + 1
        if header < 0x80 {
            bytes[start] = UInt8(header)
            return
        }
        var headerBytes: [UInt8] = []
        VarInt.append(header, to: &headerBytes)
        bytes.replaceSubrange(start..<(start + 1), with: headerBytes)
    }

    /// `prepareWrite` for the places that cannot throw: remembers the error for the end of the run.
    func prepareNested(depth: Int, slotID: UInt32, codingPath: [any CodingKey]) {
        do {
            try prepareWrite(depth: depth, slotID: slotID, codingPath: codingPath)
        } catch {
            if deferredError == nil { deferredError = error }
        }
    }

    /// Called before every write through a container: closes slots opened after the container's own, and
    /// refuses writes to a container whose slot was already closed (an interleaving the format cannot express).
    @inline(__always)
    func prepareWrite(depth: Int, slotID: UInt32, codingPath: [any CodingKey]) throws {
        if slotStarts.count > depth { finishSlots(downTo: depth) }
        guard slotStarts.count == depth, slotIDs[depth - 1] == slotID else {
            throw EncodingError.invalidValue(
                (),
                EncodingError.Context(
                    codingPath: codingPath,
                    debugDescription:
                        "Wrote to a container after a sibling or parent container had moved on; the binary format writes containers in order"
                )
            )
        }
    }

    // MARK: Primitive payloads

    @inline(__always) func appendVarInt(_ v: UInt64) { VarInt.append(v, to: &bytes) }
    @inline(__always) func appendSigned(_ v: Int64) { VarInt.append(VarInt.zigZag(v), to: &bytes) }
    @inline(__always) func appendBool(_ v: Bool) { bytes.append(v ? 1 : 0) }
    @inline(__always) func appendString(_ v: String) {
        var s = v
        s.withUTF8 { bytes.append(contentsOf: $0) }
    }
    @inline(__always) func appendUInt64LE(_ v: UInt64) {
        withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
    }
    @inline(__always) func appendUInt32LE(_ v: UInt32) {
        withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
    }

    /// Appends a key: varint byte length, then the key's `stringValue` in UTF-8.
    @inline(__always)
    func appendKey(_ key: some CodingKey) {
        var s = key.stringValue
        s.withUTF8 { utf8 in
            VarInt.append(UInt64(utf8.count), to: &bytes)
            bytes.append(contentsOf: utf8)
        }
    }

    /// Writes `value`'s payload into the innermost open slot (at `depth`).
    /// Known leaf types are written directly; anything else runs its own `encode(to:)`.
    func encodeValue<T: Encodable>(_ value: T, depth: Int, codingPath: [any CodingKey]) throws {
        if encodeLeaf(value) { return }
        let encoder = _BinaryEncoder(state: self, depth: depth, slotID: currentSlotID, codingPath: codingPath)
        try value.encode(to: encoder)
    }

    /// Encodes the types whose binary form is fixed by the spec rather than by their `Encodable`
    /// conformance. Returns false for every other type. Metatype comparisons are pointer compares, so a
    /// non-leaf type pays a few compares, not dynamic casts.
    @inline(__always)
    func encodeLeaf<T: Encodable>(_ value: T) -> Bool {
        if T.self == String.self {
            appendString(unsafeBitCast(value, to: String.self))
        } else if T.self == Int.self {
            appendSigned(Int64(unsafeBitCast(value, to: Int.self)))
        } else if T.self == Bool.self {
            appendBool(unsafeBitCast(value, to: Bool.self))
        } else if T.self == Data.self {
            bytes.append(contentsOf: unsafeBitCast(value, to: Data.self))
        } else if T.self == Date.self {
            appendUInt64LE(unsafeBitCast(value, to: Date.self).timeIntervalSinceReferenceDate.bitPattern)
        } else if T.self == UUID.self {
            withUnsafeBytes(of: unsafeBitCast(value, to: UUID.self).uuid) { bytes.append(contentsOf: $0) }
        } else if T.self == Double.self {
            appendUInt64LE(unsafeBitCast(value, to: Double.self).bitPattern)
        } else if T.self == Float.self {
            appendUInt32LE(unsafeBitCast(value, to: Float.self).bitPattern)
        } else if T.self == Int64.self {
            appendSigned(unsafeBitCast(value, to: Int64.self))
        } else if T.self == UInt64.self {
            appendVarInt(unsafeBitCast(value, to: UInt64.self))
        } else if T.self == UInt.self {
            appendVarInt(UInt64(unsafeBitCast(value, to: UInt.self)))
        } else if T.self == Int32.self {
            appendSigned(Int64(unsafeBitCast(value, to: Int32.self)))
        } else if T.self == UInt32.self {
            appendVarInt(UInt64(unsafeBitCast(value, to: UInt32.self)))
        } else if T.self == Int16.self {
            appendSigned(Int64(unsafeBitCast(value, to: Int16.self)))
        } else if T.self == UInt16.self {
            appendVarInt(UInt64(unsafeBitCast(value, to: UInt16.self)))
        } else if T.self == Int8.self {
            appendSigned(Int64(unsafeBitCast(value, to: Int8.self)))
        } else if T.self == UInt8.self {
            appendVarInt(UInt64(unsafeBitCast(value, to: UInt8.self)))
        } else {
            return false
        }
        return true
    }
}
