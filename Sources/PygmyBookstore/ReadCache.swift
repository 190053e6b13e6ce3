/// What the frontend caches.
public enum CacheKey: Hashable, Sendable {
    case search(topic: String)
    case lookup(item: ItemID)
}

/// A bounded least-recently-used cache whose fills cannot resurrect invalidated data.
///
/// A miss takes a `FillTicket` before fetching; `fill` stores the fetched value only if no
/// invalidation of that key happened since the ticket was taken. So a fetch that raced with a write
/// never caches the pre-write value. Pure: no locks, no clock.
public struct ReadCache<Value: Sendable>: Sendable {
    /// The result of a lookup.
    public enum Lookup: Sendable {
        case hit(Value)
        case miss(FillTicket)
    }

    private struct Entry: Sendable {
        var value: Value
        var previous: Int
        var next: Int
        var key: CacheKey
    }

    public let capacity: Int
    public private(set) var hits = 0
    public private(set) var misses = 0
    public var isEnabled: Bool

    private var index: [CacheKey: Int] = [:]
    private var entries: [Entry] = []
    private var free: [Int] = []
    private var head = -1  // most recent
    private var tail = -1  // least recent
    private var epoch: UInt64 = 0
    private var invalidatedAt: [CacheKey: UInt64] = [:]
    /// Fills whose ticket is older than this are refused (set when the invalidation record is compacted).
    private var staleBefore: UInt64 = 0

    public init(capacity: Int, enabled: Bool = true) {
        precondition(capacity > 0)
        self.capacity = capacity
        self.isEnabled = enabled
    }

    public var count: Int { index.count }

    /// Returns the cached value and counts a hit, or counts a miss and returns a ticket for the fill.
    public mutating func get(_ key: CacheKey) -> Lookup {
        guard isEnabled, let slot = index[key] else {
            misses += 1
            return .miss(FillTicket(key: key, epoch: epoch))
        }
        hits += 1
        moveToFront(slot)
        return .hit(entries[slot].value)
    }

    /// Stores a fetched value unless its key was invalidated after `ticket` was taken.
    public mutating func fill(_ ticket: FillTicket, _ value: Value) {
        guard isEnabled, ticket.epoch >= staleBefore else { return }
        if let invalidated = invalidatedAt[ticket.key], invalidated > ticket.epoch { return }
        if let slot = index[ticket.key] {
            entries[slot].value = value
            moveToFront(slot)
            return
        }
        if index.count >= capacity { evictLeastRecent() }
        let entry = Entry(value: value, previous: -1, next: head, key: ticket.key)
        let slot: Int
        if let reused = free.popLast() {
            entries[reused] = entry
            slot = reused
        } else {
            entries.append(entry)
            slot = entries.count - 1
        }
        if head >= 0 { entries[head].previous = slot }
        head = slot
        if tail < 0 { tail = slot }
        index[ticket.key] = slot
    }

    /// Drops `key` and fences off fills that started before now.
    public mutating func invalidate(_ key: CacheKey) {
        epoch += 1
        invalidatedAt[key] = epoch
        if let slot = index.removeValue(forKey: key) { unlink(slot) }
        if invalidatedAt.count > capacity * 4 { compactInvalidations() }
    }

    public mutating func removeAll() {
        epoch += 1
        staleBefore = epoch
        invalidatedAt.removeAll()
        index.removeAll()
        entries.removeAll()
        free.removeAll()
        head = -1
        tail = -1
    }

    /// Bounds the invalidation record: forget it, and refuse every fill whose ticket predates now.
    private mutating func compactInvalidations() {
        invalidatedAt.removeAll()
        staleBefore = epoch
    }

    private mutating func evictLeastRecent() {
        guard tail >= 0 else { return }
        let slot = tail
        index.removeValue(forKey: entries[slot].key)
        unlink(slot)
    }

    private mutating func unlink(_ slot: Int) {
        let entry = entries[slot]
        if entry.previous >= 0 { entries[entry.previous].next = entry.next } else { head = entry.next }
        if entry.next >= 0 { entries[entry.next].previous = entry.previous } else { tail = entry.previous }
        free.append(slot)
    }

    private mutating func moveToFront(_ slot: Int) {
        guard head != slot else { return }
        let entry = entries[slot]
        if entry.previous >= 0 { entries[entry.previous].next = entry.next }
        if entry.next >= 0 { entries[entry.next].previous = entry.previous } else { tail = entry.previous }
        entries[slot].previous = -1
        entries[slot].next = head
        if head >= 0 { entries[head].previous = slot }
        head = slot
    }
}

/// Taken on a miss and handed back to `fill`: it remembers when the fetch started.
public struct FillTicket: Sendable, Hashable {
    let key: CacheKey
    let epoch: UInt64
}
