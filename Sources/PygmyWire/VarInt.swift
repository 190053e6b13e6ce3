/// Unsigned LEB128 variable-length integers and ZigZag mapping for signed values.
///
/// These are the integer encodings of the binary coder (see `Protocol/PROTOCOL.md`, "Integers").
public enum VarInt {
    /// The largest number of bytes a 64-bit varint can take.
    public static let maxLength = 10

    /// Appends `value` as an unsigned LEB128 varint: 7 bits per byte, least significant group first,
    /// high bit set on every byte except the last.
    @inlinable
    public static func append(_ value: UInt64, to bytes: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(truncatingIfNeeded: v))
    }

    /// The number of bytes `append` writes for `value`.
    @inlinable
    public static func length(of value: UInt64) -> Int {
        var n = 1
        var v = value >> 7
        while v != 0 {
            n += 1
            v >>= 7
        }
        return n
    }

    /// Reads a varint starting at `index`, not reading at or past `end`.
    /// Returns `nil` when the varint is truncated, longer than ten bytes, overflows 64 bits, or is not in
    /// its shortest form (a last byte of `00` after a continuation byte: `82 00` is not 2).
    @inlinable
    public static func read(_ bytes: [UInt8], at index: inout Int, end: Int) -> UInt64? {
        bytes.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return nil }
            return read(from: base, at: &index, end: min(end, buffer.count))
        }
    }

    /// `read(_:at:end:)` over memory: the one implementation, which the binary decoder uses too.
    @inlinable
    public static func read(from bytes: UnsafePointer<UInt8>, at index: inout Int, end: Int) -> UInt64? {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        var i = index
        while i < end {
            let byte = bytes[i]
            i += 1
            if shift == 63 && byte > 1 { return nil }  // the tenth byte may only carry the top bit
            result |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 {
                if byte == 0 && shift > 0 { return nil }  // overlong: the shortest form has no zero last group
                index = i
                return result
            }
            shift += 7
            if shift > 63 { return nil }
        }
        return nil
    }

    /// Why `read(from:at:end:)` returned nil for the varint at `index`, in words (for error messages; only
    /// called once reading failed).
    public static func failure(from bytes: UnsafePointer<UInt8>, at index: Int, end: Int) -> String {
        var i = index
        var shift = 0
        while i < end {
            let byte = bytes[i]
            i += 1
            if shift == 63 && byte > 1 { return "varint longer than 64 bits" }
            if byte < 0x80 {
                return byte == 0 && shift > 0 ? "overlong varint (not in its shortest form)" : "malformed varint"
            }
            shift += 7
            if shift > 63 { return "varint longer than 10 bytes" }
        }
        return "truncated varint"
    }

    /// ZigZag: 0, -1, 1, -2, 2 … map to 0, 1, 2, 3, 4 … so that small negative numbers stay short.
    @inlinable
    public static func zigZag(_ value: Int64) -> UInt64 {
        UInt64(bitPattern: (value << 1) ^ (value >> 63))
    }

    /// The inverse of `zigZag`.
    @inlinable
    public static func unZigZag(_ value: UInt64) -> Int64 {
        Int64(bitPattern: value >> 1) ^ -Int64(bitPattern: value & 1)
    }
}
