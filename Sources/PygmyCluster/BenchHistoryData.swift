import Foundation
import PygmyBookstore
import PygmyNodes
import PygmyReplica
import Synchronization

/// A synthetic, converged history of `orders` buys, written into the data directories of a local
/// cluster whose nodes are not running, as the cluster itself would have stored it.
///
/// Buy `i` (from 0) takes one copy of seed book `i % books`, coordinated by order replica `i % n` of `n`,
/// which gives it order number `i + 1` (replica `k` hands out `k+1, k+1+n, …`: `OrderLogState`). Every
/// order replica gets every order, marked delivered; every catalog replica gets every commit and, per
/// batch and item, a restock of the batch's buys plus one copy, written before the batch's commits, so
/// stock never goes negative and ends at seed + batches.
struct BenchHistoryData {
    let orders: Int
    let seeds: [CatalogSeed]
    let orderReplicas: [String]
    let batchOrders: Int

    /// One batch: its orders, and the restocks that cover them.
    func batch(_ index: Int, startMicros: Int64) -> (orders: [OrderRecord], restocks: [Restock]) {
        let range = (index * batchOrders)..<min(orders, (index + 1) * batchOrders)
        var records: [OrderRecord] = []
        records.reserveCapacity(range.count)
        var bought: [ItemID: Int] = [:]
        for i in range {
            let seed = seeds[i % seeds.count]
            bought[seed.item, default: 0] += 1
            records.append(
                OrderRecord(
                    order: i + 1,
                    requestId: Self.requestId(i, of: orders),
                    item: seed.item,
                    quantity: 1,
                    unitCost: seed.cost,
                    timeMicros: startMicros + Int64(i) * 1000,
                    coordinator: orderReplicas[i % orderReplicas.count]
                )
            )
        }
        // Stamped as a catalog replica stamps a restock it applies: just before the batch's first buy.
        let stamp = startMicros + Int64(range.lowerBound) * 1000
        let restocks = bought.keys.sorted().map {
            Restock(opId: "history-restock-\(index)-\($0)", item: $0, count: bought[$0]! + 1, timeMicros: stamp)
        }
        return (records, restocks)
    }

    var batches: Int { (orders + batchOrders - 1) / batchOrders }

    /// Stock on hand every replica should report after the load: seed + restocks − committed.
    func expectedStock() -> [ItemID: Int] {
        var stock = Dictionary(uniqueKeysWithValues: seeds.map { ($0.item, $0.stock) })
        for index in 0..<batches {
            let range = (index * batchOrders)..<min(orders, (index + 1) * batchOrders)
            var items = Set<ItemID>()
            for i in range { items.insert(seeds[i % seeds.count].item) }
            for item in items { stock[item, default: 0] += 1 }
        }
        return stock
    }

    /// A request id shaped like the UUIDs clients send (36 characters), unique per buy and size.
    static func requestId(_ i: Int, of orders: Int) -> String {
        String(format: "%08x-0000-4000-8000-%012llx", orders, UInt64(i))
    }

    /// Writes the history into each replica's data directory (`directories`: node name → directory),
    /// one transaction per batch and replica, the four replicas in parallel. Blocks the calling thread.
    func write(directories: [(name: String, role: NodeRole, directory: String)], progress: BenchProgress?) throws {
        let orderNames = directories.filter { $0.role == .order }.map(\.name).sorted()
        let loaders = try directories.map {
            try HistoryLoader(
                role: $0.role,
                directory: $0.directory,
                replicaIndex: orderNames.firstIndex(of: $0.name) ?? 0,
                replicaCount: max(1, orderNames.count)
            )
        }
        defer { loaders.forEach { $0.close() } }
        let startMicros = Int64(Date().timeIntervalSince1970 * 1_000_000) - Int64(orders) * 1000
        let failure = Mutex<(any Error)?>(nil)
        // As a running cluster would have, the catalogs have folded every commit older than the default
        // retention (ReplicaTiming.foldRetention) at the end of the history.
        let retention = ReplicaTiming().foldRetention?.microseconds ?? 0
        let foldBefore = startMicros + Int64(orders) * 1000 - retention
        var foldDigest: UInt64 = 0
        var restockDigest: UInt64 = 0
        for (k, replica) in directories.enumerated() where replica.role == .order {
            loaders[k].markFolded(before: foldBefore)
        }
        for index in 0..<batches {
            let (records, restocks) = batch(index, startMicros: startMicros)
            let commits = records.map { CommittedBuy($0) }
            for record in records where record.timeMicros < foldBefore {
                foldDigest ^= FoldState.commitHash(record.requestId)
            }
            for restock in restocks where restock.time < foldBefore { restockDigest ^= restock.digestHash }
            DispatchQueue.concurrentPerform(iterations: loaders.count) { k in
                do {
                    if directories[k].role == .order {
                        try loaders[k].append(orders: records)
                    } else {
                        try loaders[k].append(restocks: restocks, commits: commits)
                    }
                } catch {
                    failure.withLock { if $0 == nil { $0 = error } }
                }
            }
            if let error = failure.withLock({ $0 }) { throw error }
            for _ in 0..<records.count { progress?.tick() }
        }
        if foldBefore > startMicros {
            for (k, replica) in directories.enumerated() where replica.role == .catalog {
                try loaders[k].fold(before: foldBefore, digest: foldDigest, restocks: restockDigest)
            }
        }
    }
}
