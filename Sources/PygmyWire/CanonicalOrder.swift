// Canonical encoding of dictionaries and sets (`Protocol/PROTOCOL.md`, §4.7): their entries are written in
// ascending order of their encoded keys, compared byte by byte as unsigned numbers (a key that is a prefix
// of another sorts first). A `Dictionary` or `Set` encodes in its own iteration order, which differs from
// one process to the next; the encoder sorts the entries once they are written, and the decoder refuses
// entries out of order or repeated. Only these two types pay for it: every other value is written as it
// comes.

/// How a dictionary or set lays out its entries in its slot.
enum CanonicalLayout {
    /// A keyed container: `key_len key slot` per entry; the sort key is `key_len key`.
    case fields
    /// As `fields`, for a dictionary with `Int` keys: each key must also be the shortest decimal text of
    /// its integer (`0`, or an optional `-` and digits without a leading zero; not `-0`, `+1` or `01`).
    case integerFields
    /// Key slot, value slot, alternating (dictionaries whose keys are not strings or integers); the sort
    /// key is the key's slot.
    case pairs
    /// One slot per element (sets); the sort key is the element's slot.
    case elements
}

/// A collection whose entries the binary coder keeps in canonical order.
protocol BinaryCanonicalCollection {
    static var canonicalLayout: CanonicalLayout { get }
}

extension Dictionary: BinaryCanonicalCollection {
    /// The standard library encodes a dictionary whose keys are `CodingKeyRepresentable` (strings and
    /// integers among them) as a keyed container, any other as alternating key and value.
    static var canonicalLayout: CanonicalLayout {
        if Key.self == Int.self { return .integerFields }
        return Key.self is any CodingKeyRepresentable.Type ? .fields : .pairs
    }
}

extension Set: BinaryCanonicalCollection {
    static var canonicalLayout: CanonicalLayout { .elements }
}

/// The layout of `T` if it is a dictionary or a set, else nil. Only pointer-sized types are checked, so
/// most values skip the conformance lookup.
@inline(__always)
func canonicalLayout<T>(_ type: T.Type) -> CanonicalLayout? {
    guard MemoryLayout<T>.size == MemoryLayout<[Int]>.size else { return nil }
    return (T.self as? any BinaryCanonicalCollection.Type)?.canonicalLayout
}

/// Splitting a collection's payload into entries, comparing them, sorting and checking their order.
enum CanonicalOrder {
    /// One entry: bytes `start..<keyEnd` are its sort key, `start..<end` the whole entry.
    struct Entry {
        var start: Int
        var keyEnd: Int
        var end: Int
    }

    /// The entries of the `count` bytes at `base`.
    static func entries(
        _ base: UnsafePointer<UInt8>,
        count: Int,
        layout: CanonicalLayout
    ) throws(DecodeFailure) -> [Entry] {
        let input = InputBytes(base: base, count: count)
        var entries: [Entry] = []
        var i = 0
        while i < count {
            let start = i
            let keyEnd: Int
            switch layout {
            case .fields:
                keyEnd = try input.readKey(at: &i, end: count).upperBound
                _ = try input.readSlot(at: &i, end: count)
            case .integerFields:
                let key = try input.readKey(at: &i, end: count)
                try checkIntegerKey(base + key.lowerBound, count: key.count)
                keyEnd = key.upperBound
                _ = try input.readSlot(at: &i, end: count)
            case .pairs:
                _ = try input.readSlot(at: &i, end: count)
                keyEnd = i
                guard i < count else { throw .corrupted("truncated dictionary: a key without its value") }
                _ = try input.readSlot(at: &i, end: count)
            case .elements:
                _ = try input.readSlot(at: &i, end: count)
                keyEnd = i
            }
            entries.append(Entry(start: start, keyEnd: keyEnd, end: i))
        }
        return entries
    }

    /// Throws unless the `count` bytes at `key` are the shortest decimal text of an integer.
    static func checkIntegerKey(_ key: UnsafePointer<UInt8>, count: Int) throws(DecodeFailure) {
        let digits = count > 0 && key[0] == UInt8(ascii: "-") ? 1 : 0
        var canonical = count > digits
        for index in digits..<max(digits, count) where !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(key[index]) {
            canonical = false
        }
        // No leading zero, except "0" itself; no "-0".
        if canonical && key[digits] == UInt8(ascii: "0") && (count - digits > 1 || digits == 1) { canonical = false }
        guard canonical else {
            let text = String(decoding: UnsafeBufferPointer(start: key, count: count), as: UTF8.self)
            throw .corrupted("non-canonical integer key \"\(text)\": an Int key is its shortest decimal text")
        }
    }

    /// Compares the sort keys of `a` and `b`: negative, zero or positive.
    static func compare(_ base: UnsafePointer<UInt8>, _ a: Entry, _ b: Entry) -> Int {
        let lengthA = a.keyEnd - a.start
        let lengthB = b.keyEnd - b.start
        for offset in 0..<min(lengthA, lengthB) {
            let x = base[a.start + offset]
            let y = base[b.start + offset]
            if x != y { return x < y ? -1 : 1 }
        }
        return lengthA - lengthB
    }

    /// Rewrites the `count` bytes at `base` (a dictionary's or set's payload, as its `encode(to:)` wrote
    /// it) with the entries in canonical order. Leaves bytes it cannot split alone.
    static func sort(_ base: UnsafeMutablePointer<UInt8>, count: Int, layout: CanonicalLayout) {
        let readOnly = UnsafePointer(base)
        guard let entries = try? entries(readOnly, count: count, layout: layout), entries.count > 1 else { return }
        var sorted = true
        for index in 1..<entries.count where compare(readOnly, entries[index - 1], entries[index]) > 0 {
            sorted = false
            break
        }
        if sorted { return }
        let ordered = entries.sorted { compare(readOnly, $0, $1) < 0 }
        let copy = [UInt8](UnsafeBufferPointer(start: readOnly, count: count))
        copy.withUnsafeBufferPointer { source in
            var target = 0
            for entry in ordered {
                let length = entry.end - entry.start
                (base + target).update(from: source.baseAddress! + entry.start, count: length)
                target += length
            }
        }
    }

    /// Throws unless the entries of the `count` bytes at `base` are in strictly ascending canonical order
    /// (which also rules out a repeated key or element).
    static func check(_ base: UnsafePointer<UInt8>, count: Int, layout: CanonicalLayout) throws(DecodeFailure) {
        let entries = try entries(base, count: count, layout: layout)
        guard entries.count > 1 else { return }
        let what = layout == .elements ? "set element" : "dictionary key"
        for index in 1..<entries.count {
            let order = compare(base, entries[index - 1], entries[index])
            if order == 0 { throw .corrupted("duplicate entry: entry \(index) repeats a \(what)") }
            if order > 0 {
                throw .corrupted("unordered entries: \(what) \(index) sorts before \(what) \(index - 1)")
            }
        }
    }
}

/// The one NaN each floating-point type has on the wire: positive, quiet, zero payload. Encoders write
/// every NaN as this; decoders refuse any other NaN.
enum CanonicalNaN {
    static let double: UInt64 = 0x7FF8_0000_0000_0000
    static let float: UInt32 = 0x7FC0_0000
}
