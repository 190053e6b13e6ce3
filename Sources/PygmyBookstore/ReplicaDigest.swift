/// An order-independent fingerprint of a replica's mergeable state: the XOR of a stable 64-bit hash
/// (FNV-1a, the same in every process, unlike `Hasher`) of each element. Two replicas with equal digests
/// hold the same sets, so anti-entropy pulls from a peer only when the digests differ. Updating it is O(1)
/// per element added or removed.
public struct ReplicaDigest: Sendable, Hashable {
    public private(set) var value: UInt64 = 0

    public init() {}

    /// Adds or removes (XOR is its own inverse) the element `key` of the set `tag`.
    public mutating func toggle(_ tag: Character, _ key: String) {
        value ^= Self.hash(tag, key)
    }

    /// Adds (or removes) a set of elements whose hashes XOR to `value`.
    public mutating func combine(_ value: UInt64) {
        self.value ^= value
    }

    static func hash(_ tag: Character, _ key: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in String(tag).utf8 + [0] + key.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01B3
        }
        // A final mix, so that XOR-ing many hashes of similar keys does not cancel out in low bits.
        hash ^= hash >> 33
        hash &*= 0xff51_afd7_ed55_8ccd
        hash ^= hash >> 33
        return hash
    }
}
