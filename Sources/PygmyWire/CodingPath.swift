/// One step of a coding path, stored so that a path is only built when something asks for it (an error,
/// or `codingPath`).
enum PathComponent {
    case none
    case index(Int)
    case key(any CodingKey)
}

/// A `PathComponent` as the coders store it: a plain value, with a key kept in a `KeyStack` and named by
/// its position there. Keeping records and frames free of existentials lets them be copied and dropped
/// without any runtime calls.
struct StoredComponent {
    enum Kind: UInt8 {
        case none
        case index
        case key
    }

    var kind: Kind
    /// The index, or the key's position in its `KeyStack`.
    var value: Int

    static let none = StoredComponent(kind: .none, value: 0)
}

/// The coding keys of the nested values of one coding run, in a buffer reused from run to run.
struct KeyStack {
    private(set) var keys: UnsafeMutablePointer<any CodingKey>
    private(set) var count = 0
    private var capacity: Int

    static let initialCapacity = 8

    init() {
        capacity = Self.initialCapacity
        keys = .allocate(capacity: capacity)
    }

    /// Stores `component`, pushing its key if it has one.
    @inline(__always)
    mutating func store(_ component: PathComponent) -> StoredComponent {
        switch component {
        case .none: return .none
        case .index(let index): return StoredComponent(kind: .index, value: index)
        case .key(let key): return StoredComponent(kind: .key, value: push(key))
        }
    }

    private mutating func push(_ key: any CodingKey) -> Int {
        if count == capacity {
            let newCapacity = capacity * 2
            let newKeys = UnsafeMutablePointer<any CodingKey>.allocate(capacity: newCapacity)
            newKeys.moveInitialize(from: keys, count: count)
            keys.deallocate()
            keys = newKeys
            capacity = newCapacity
        }
        (keys + count).initialize(to: key)
        count += 1
        return count - 1
    }

    /// Drops the keys from position `newCount` on; shrinks a buffer that grew large once it is empty.
    @inline(__always)
    mutating func truncate(to newCount: Int) {
        guard newCount < count else { return }
        (keys + newCount).deinitialize(count: count - newCount)
        count = newCount
        if count == 0 && capacity > 1024 {
            keys.deallocate()
            capacity = Self.initialCapacity
            keys = .allocate(capacity: capacity)
        }
    }

    /// Appends the coding key `component` stands for, if any, to `path`.
    func append(_ component: StoredComponent, to path: inout [any CodingKey]) {
        switch component.kind {
        case .none: break
        case .index: path.append(BinaryCodingKey(index: component.value))
        case .key: path.append(keys[component.value])
        }
    }
}

/// Coding keys the coders make up themselves: array indices and `super`.
struct BinaryCodingKey: CodingKey {
    let stringValue: String
    let intValue: Int?

    init(stringValue: String) {
        self.stringValue = stringValue
        self.intValue = nil
    }
    init(intValue: Int) {
        self.stringValue = String(intValue)
        self.intValue = intValue
    }
    init(index: Int) { self.init(intValue: index) }

    static let `super` = BinaryCodingKey(stringValue: "super")
}

/// The UTF-8 text of recently used coding keys, so that writing or matching a key usually skips
/// `stringValue` (a protocol call that makes a `String`) and `withUTF8`.
///
/// Only keys of plain-value types (no references, at most 8 bytes: the synthesized `CodingKeys` enums,
/// integer keys) are remembered, by their type and bit pattern, which together determine the value. That
/// `stringValue` is a function of the value is what `CodingKey` promises; nothing else is assumed. Texts of
/// up to 32 bytes are kept; longer keys always take the protocol call.
struct KeyMemo {
    struct Entry {
        /// The text, in the first `length` bytes. First, so that an entry's address is its text's.
        var text: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        var type: UInt = 0
        var bits: UInt64 = 0
        var length = 0
    }

    private static let size = 64
    static let maxLength = 32
    private let entries: UnsafeMutablePointer<Entry>

    init() {
        entries = .allocate(capacity: Self.size)
        entries.initialize(repeating: Entry(), count: Self.size)
    }

    /// The entry holding `key`'s text, or nil for a key that is not remembered (read `stringValue`).
    @inline(__always)
    func entry<K: CodingKey>(for key: K) -> UnsafeMutablePointer<Entry>? {
        guard _isPOD(K.self) && MemoryLayout<K>.size <= 8 else { return nil }
        let bits = Self.bits(of: key)
        let type = UInt(bitPattern: ObjectIdentifier(K.self))
        let hash = (type >> 4) ^ UInt(truncatingIfNeeded: bits &* 0x9E37_79B9)
        let entry = entries + Int(truncatingIfNeeded: hash & UInt(Self.size - 1))
        if entry.pointee.type == type && entry.pointee.bits == bits { return entry }
        return remember(key, type: type, bits: bits, in: entry)
    }

    /// Where an entry's text starts.
    @inline(__always)
    static func text(of entry: UnsafeMutablePointer<Entry>) -> UnsafeMutableRawPointer {
        UnsafeMutableRawPointer(entry)
    }

    /// The bits of a plain value of at most 8 bytes, zero-extended.
    @inline(__always)
    private static func bits<K>(of key: K) -> UInt64 {
        switch MemoryLayout<K>.size {
        case 0: 0
        case 1: UInt64(unsafeBitCast(key, to: UInt8.self))
        case 2: UInt64(unsafeBitCast(key, to: UInt16.self))
        case 4: UInt64(unsafeBitCast(key, to: UInt32.self))
        case 8: unsafeBitCast(key, to: UInt64.self)
        default:
            withUnsafeBytes(of: key) { bytes in
                var bits: UInt64 = 0
                for (i, byte) in bytes.enumerated() { bits |= UInt64(byte) << (8 * UInt64(i)) }
                return bits
            }
        }
    }

    /// Stores `key`'s text in `entry` if it is short enough.
    @inline(never)
    private func remember(
        _ key: some CodingKey,
        type: UInt,
        bits: UInt64,
        in entry: UnsafeMutablePointer<Entry>
    ) -> UnsafeMutablePointer<Entry>? {
        var text = key.stringValue
        return text.withUTF8 { utf8 in
            guard utf8.count <= Self.maxLength else { return nil }
            entry.pointee = Entry(type: type, bits: bits, length: utf8.count)
            if let source = utf8.baseAddress {
                Self.text(of: entry).copyMemory(from: source, byteCount: utf8.count)
            }
            return entry
        }
    }
}
