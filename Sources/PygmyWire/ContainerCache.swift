// Reusing keyed containers.
//
// `KeyedEncodingContainer` and `KeyedDecodingContainer` wrap the coder's container in a class instance (a
// box) that the standard library allocates, and making one takes three runtime lookups (the container's
// metadata, its conformance, the box's metadata). For a struct of five fields that is a third of the time
// the coders spend on it. So each coding context keeps, per key type, one container it hands out again
// and again: the container reads which value it serves from a binding that is set each time it is handed
// out, and it is handed out only while no value still uses it (the value whose `encode(to:)` or
// `init(from:)` it was made for has finished).
//
// Only the container a value asks its own encoder or decoder for is reused, which is the one synthesized
// conformances use; nested containers and `super` coders get fresh ones, so the ordering checks between
// sibling containers keep working. A container kept past its value (against the grain of Codable, and
// useless here anyway: once its value is finished every use throws) could observe the next value of the
// same type that reuses it.

/// Per key type, one reusable keyed container of a coding context.
struct ContainerCache {
    struct Entry {
        /// The key type (`ObjectIdentifier` bits); 0 for an empty entry.
        var type: UInt = 0
        /// Holds the `KeyedEncodingContainer<Key>` or `KeyedDecodingContainer<Key>` handed out.
        var container: UnsafeMutableRawPointer?
        /// The container's binding (`RecordBinding` or `FrameBinding`).
        var binding: UnsafeMutableRawPointer?
    }

    private static let size = 32
    private let entries: UnsafeMutablePointer<Entry>

    init() {
        entries = .allocate(capacity: Self.size)
        entries.initialize(repeating: Entry(), count: Self.size)
    }

    /// The entry for `Key`: it holds `Key`'s container, or is empty, or belongs to another key type (which
    /// keeps it: entries are never evicted, since their container may still be referenced).
    @inline(__always)
    func entry<Key>(for key: Key.Type) -> (UnsafeMutablePointer<Entry>, type: UInt) {
        let type = UInt(bitPattern: ObjectIdentifier(Key.self))
        return (entries + Int(truncatingIfNeeded: (type >> 4) & UInt(Self.size - 1)), type)
    }
}

/// Which value a reusable decoding container serves.
struct FrameBinding {
    var frame: Int32
    var serial: UInt64
}

/// Which slot a reusable encoding container writes into.
struct RecordBinding {
    var record: Int32
    var depth: Int32
    var run: UInt32
}

extension DecoderStorage {
    /// A keyed container for the value of `frame`: the cached one for `Key` when `reusable` and it is free,
    /// otherwise a new one.
    @inline(__always)
    func keyedContainer<Key: CodingKey>(
        _ keyType: Key.Type,
        frame: Int32,
        serial: UInt64,
        reusable: Bool
    ) -> KeyedDecodingContainer<Key> {
        if reusable {
            let (entry, type) = context.pointee.containers.entry(for: Key.self)
            if entry.pointee.type == type {
                let binding = entry.pointee.binding.unsafelyUnwrapped.assumingMemoryBound(to: FrameBinding.self)
                if !isLive(binding.pointee.frame, binding.pointee.serial) {
                    binding.pointee = FrameBinding(frame: frame, serial: serial)
                    return entry.pointee.container.unsafelyUnwrapped
                        .assumingMemoryBound(to: KeyedDecodingContainer<Key>.self).pointee
                }
            } else if entry.pointee.type == 0 {
                return cacheKeyedContainer(Key.self, in: entry, type: type, frame: frame, serial: serial)
            }
        }
        return KeyedDecodingContainer(
            KeyedBinaryDecodingContainer<Key>(storage: self, binding: nil, frame: frame, serial: serial)
        )
    }

    @inline(never)
    private func cacheKeyedContainer<Key: CodingKey>(
        _ keyType: Key.Type,
        in entry: UnsafeMutablePointer<ContainerCache.Entry>,
        type: UInt,
        frame: Int32,
        serial: UInt64
    ) -> KeyedDecodingContainer<Key> {
        let binding = UnsafeMutablePointer<FrameBinding>.allocate(capacity: 1)
        binding.initialize(to: FrameBinding(frame: frame, serial: serial))
        let container = UnsafeMutablePointer<KeyedDecodingContainer<Key>>.allocate(capacity: 1)
        container.initialize(
            to: KeyedDecodingContainer(
                KeyedBinaryDecodingContainer<Key>(storage: self, binding: binding, frame: -1, serial: 0)
            )
        )
        entry.pointee = ContainerCache.Entry(
            type: type,
            container: UnsafeMutableRawPointer(container),
            binding: UnsafeMutableRawPointer(binding)
        )
        return container.pointee
    }
}

extension EncoderState {
    /// A keyed container for the slot of `record`: the cached one for `Key` when `reusable` and it is free
    /// (its slot is closed, or from an earlier run), otherwise a new one.
    @inline(__always)
    func keyedContainer<Key: CodingKey>(
        _ keyType: Key.Type,
        record: Int32,
        depth: Int32,
        run: UInt32,
        reusable: Bool
    ) -> KeyedEncodingContainer<Key> {
        if reusable {
            let (entry, type) = context.pointee.containers.entry(for: Key.self)
            if entry.pointee.type == type {
                let binding = entry.pointee.binding.unsafelyUnwrapped.assumingMemoryBound(to: RecordBinding.self)
                if !isOpen(record: binding.pointee.record, run: binding.pointee.run) {
                    binding.pointee = RecordBinding(record: record, depth: depth, run: run)
                    return entry.pointee.container.unsafelyUnwrapped
                        .assumingMemoryBound(to: KeyedEncodingContainer<Key>.self).pointee
                }
            } else if entry.pointee.type == 0 {
                return cacheKeyedContainer(Key.self, in: entry, type: type, record: record, depth: depth, run: run)
            }
        }
        return KeyedEncodingContainer(
            KeyedBinaryEncodingContainer<Key>(state: self, binding: nil, record: record, depth: depth, run: run)
        )
    }

    @inline(never)
    private func cacheKeyedContainer<Key: CodingKey>(
        _ keyType: Key.Type,
        in entry: UnsafeMutablePointer<ContainerCache.Entry>,
        type: UInt,
        record: Int32,
        depth: Int32,
        run: UInt32
    ) -> KeyedEncodingContainer<Key> {
        let binding = UnsafeMutablePointer<RecordBinding>.allocate(capacity: 1)
        binding.initialize(to: RecordBinding(record: record, depth: depth, run: run))
        let container = UnsafeMutablePointer<KeyedEncodingContainer<Key>>.allocate(capacity: 1)
        container.initialize(
            to: KeyedEncodingContainer(
                KeyedBinaryEncodingContainer<Key>(state: self, binding: binding, record: -1, depth: 0, run: 0)
            )
        )
        entry.pointee = ContainerCache.Entry(
            type: type,
            container: UnsafeMutableRawPointer(container),
            binding: UnsafeMutableRawPointer(binding)
        )
        return container.pointee
    }
}
