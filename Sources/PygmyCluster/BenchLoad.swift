import Foundation
import Histogram
import PygmyBookstore
import PygmyNodes
import PygmyRPC
import Synchronization

/// Closed-loop clients for `pygmy bench`: each has its own connection to the frontend and makes one
/// request at a time, recording its latency in its own HdrHistograms (merged at the end, so recording
/// takes no lock).
struct BenchLoad: Sendable {
    /// How the clients stop.
    enum Stop: Sendable {
        /// Each client makes `rounds` passes over `operations`.
        case rounds(Int)
        /// Until the flag is set.
        case flag(BenchFlag)
        /// For `warmup` (not recorded) and then `measure` (recorded), from when every client is connected.
        case duration(warmup: Duration, measure: Duration)
    }

    var clients: Int
    /// Each client cycles through these, starting at its own offset.
    var operations: [BenchOp]
    var stop: Stop
    /// Only requests that start at or after `window.start` and end by `window.end` are recorded.
    var items: [ItemID]
    var topics: [String]
    /// Phase of the run a request belongs to (read when it starts); 0 if nil.
    var phase: BenchPhase? = nil
    /// Timeline of completions in buckets from `origin`.
    var timeline: (origin: ContinuousClock.Instant, bucket: Duration)? = nil
    var progress: BenchProgress? = nil

    typealias Window = (start: ContinuousClock.Instant, end: ContinuousClock.Instant)

    /// What the clients saw.
    struct Tally: Sendable {
        /// phase → operation → latency.
        var histograms: [Int: [BenchOp: Histogram<UInt64>]] = [:]
        /// phase → "operation: error" → count.
        var errors: [Int: [String: Int]] = [:]
        var buckets: [Int: Bucket] = [:]
        var recorded = 0

        struct Bucket: Sendable {
            var completed = 0
            var errors = 0
            var sumMicros = 0.0
            var maxMicros = 0
        }

        mutating func merge(_ other: Tally) {
            for (phase, ops) in other.histograms {
                for (op, h) in ops {
                    if histograms[phase]?[op] == nil {
                        histograms[phase, default: [:]][op] = h
                    } else {
                        histograms[phase]![op]!.add(h)
                    }
                }
            }
            for (phase, errs) in other.errors {
                for (kind, n) in errs { errors[phase, default: [:]][kind, default: 0] += n }
            }
            for (index, b) in other.buckets {
                var mine = buckets[index] ?? Bucket()
                mine.completed += b.completed
                mine.errors += b.errors
                mine.sumMicros += b.sumMicros
                mine.maxMicros = max(mine.maxMicros, b.maxMicros)
                buckets[index] = mine
            }
            recorded += other.recorded
        }

        /// All phases merged, per operation.
        func merged(phase: Int? = nil) -> [BenchOp: Histogram<UInt64>] {
            var out: [BenchOp: Histogram<UInt64>] = [:]
            for (p, ops) in histograms where phase == nil || p == phase {
                for (op, h) in ops {
                    if out[op] == nil { out[op] = h } else { out[op]!.add(h) }
                }
            }
            return out
        }

        func allErrors(phase: Int? = nil) -> [String: Int] {
            var out: [String: Int] = [:]
            for (p, errs) in errors where phase == nil || p == phase {
                for (kind, n) in errs { out[kind, default: 0] += n }
            }
            return out
        }
    }

    /// Connects `clients` clients made by `makeClient`, then runs them. Requests that fail are counted as
    /// errors, by kind; an out-of-stock answer is a served request, and the item is restocked by `admin`.
    func run(makeClient: @Sendable () throws -> RPCClient, admin: RPCClient) async throws -> Tally {
        var connections: [RPCClient] = []
        for _ in 0..<clients {
            let client = try makeClient()
            try await client.connect()
            connections.append(client)
        }
        let run = BenchRunID.next()
        var window: Window?
        if case .duration(let warmup, let measure) = stop {
            let now = ContinuousClock.now
            window = (now + warmup, now + warmup + measure)
        }
        let tally = try await withThrowingTaskGroup(of: Tally.self) { [window] group in
            for (index, client) in connections.enumerated() {
                // Each client on its connection's thread, as a latency-minded caller would run
                // (see `RPCClient.executor`).
                group.addTask(executorPreference: client.executor) {
                    await self.clientLoop(index: index, client: client, admin: admin, run: run, window: window)
                }
            }
            var total = Tally()
            for try await t in group { total.merge(t) }
            return total
        }
        for client in connections { await client.close() }
        return tally
    }

    private func clientLoop(
        index: Int,
        client: RPCClient,
        admin: RPCClient,
        run: String,
        window: Window?
    ) async -> Tally {
        var tally = Tally()
        var rng = SeededRandom(seed: UInt64(index) &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(run.hashValue & 0xFFFF))
        var n = 0
        let opsCount = operations.count
        while !Task.isCancelled {
            switch stop {
            case .rounds(let rounds): if n >= rounds * opsCount { return tally }
            case .flag(let flag): if flag.isSet { return tally }
            case .duration: if ContinuousClock.now >= window!.end { return tally }
            }
            let op = operations[(n + index) % opsCount]
            n += 1
            let phase = self.phase?.current ?? 0
            let start = ContinuousClock.now
            var failure: String?
            do {
                try await perform(op, client: client, admin: admin, rng: &rng, requestId: "\(run)-\(index)-\(n)")
            } catch {
                failure = "\(op.rawValue): \(Workload.kind(error))"
            }
            let end = ContinuousClock.now
            progress?.tick()
            if let window, start < window.start || end > window.end { continue }
            if let failure {
                tally.errors[phase, default: [:]][failure, default: 0] += 1
            } else {
                if tally.histograms[phase]?[op] == nil { tally.histograms[phase, default: [:]][op] = .micros() }
                tally.histograms[phase]![op]!.record(end - start)
                tally.recorded += 1
            }
            if let timeline {
                let index = Int((end - timeline.origin) / timeline.bucket)
                var bucket = tally.buckets[index] ?? Tally.Bucket()
                if failure != nil {
                    bucket.errors += 1
                } else {
                    let micros = (end - start).micros
                    bucket.completed += 1
                    bucket.sumMicros += micros
                    bucket.maxMicros = max(bucket.maxMicros, Int(micros))
                }
                tally.buckets[index] = bucket
            }
        }
        return tally
    }

    private func perform(
        _ op: BenchOp,
        client: RPCClient,
        admin: RPCClient,
        rng: inout SeededRandom,
        requestId: String
    ) async throws {
        switch op {
        case .search:
            let topic = topics[Int(rng.next() % UInt64(topics.count))]
            _ = try await client.call(Frontend.Search.self, SearchRequest(topic: topic))
        case .lookup:
            let item = items[Int(rng.next() % UInt64(items.count))]
            _ = try await client.call(Frontend.Lookup.self, LookupRequest(item: item))
        case .buy:
            let item = items[Int(rng.next() % UInt64(items.count))]
            do {
                _ = try await client.call(
                    Frontend.Buy.self,
                    BuyRequest(item: item, quantity: 1, requestId: requestId)
                )
            } catch let error as RPCError where error.code.rawValue == BookstoreError.Code.outOfStock.rawValue {
                // A definite answer is a served request; restock so the next buys succeed.
                _ = try? await admin.call(
                    Frontend.Restock.self,
                    RestockRequest(item: item, count: BenchLoad.restockAmount, opId: "bench-\(requestId)")
                )
            }
        }
    }

    /// Copies added to every item before a run (and again if one runs out).
    static let restockAmount = 10_000_000
}

/// A flag set once, read by many clients.
final class BenchFlag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .relaxed) }
    func set() { value.store(true, ordering: .relaxed) }
}

/// The phase of a run that requests starting now belong to.
final class BenchPhase: Sendable {
    private let value = Atomic<Int>(0)
    var current: Int { value.load(ordering: .relaxed) }
    func set(_ phase: Int) { value.store(phase, ordering: .relaxed) }
}

/// Unique request ids across runs against the same cluster.
enum BenchRunID {
    private static let counter = Atomic<Int>(0)
    private static let prefix = String(UUID().uuidString.prefix(8))
    static func next() -> String { "bench-\(prefix)-\(counter.add(1, ordering: .relaxed).newValue)" }
}
