import Foundation
import PygmyBookstore
import Testing

@testable import PygmyNodes

/// `CatalogStore` folds restocks as `CatalogState` does: a restart loads the counts and the unfolded
/// restocks only, and still knows every op id.
@Suite struct CatalogStoreTests {
    @Test("restocks fold into counts; a restart loads the rest; folded op ids are still known")
    func restocksFold() throws {
        let path = NSTemporaryDirectory() + "pygmy-catalog-store-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: path) }
        var store = try CatalogStore(directory: path, durability: .process)
        var memory = CatalogState()
        func write(_ mutations: [CatalogMutation]) throws {
            memory.apply(mutations)
            try store.persist(mutations)
        }
        try write(CatalogSeed.original.map(CatalogMutation.addBook))
        for i in 0..<10 {
            try write([.restock(Restock(opId: "r\(i)", item: 1, count: 2, timeMicros: Int64(i) * 100))])
        }
        // Stamped again later elsewhere: the earlier stays; stamped earlier: it wins.
        try write([.restock(Restock(opId: "r9", item: 1, count: 2, timeMicros: 5_000))])
        try write([.restock(Restock(opId: "r8", item: 1, count: 2, timeMicros: 750))])
        try write([memory.foldDecision(before: 800)])
        #expect(memory.restocks.keys.sorted() == ["r9"], "r8, stamped 750 now, is below the horizon")
        #expect(memory.folded.restocked == [1: 18])
        store.close()

        store = try CatalogStore(directory: path, durability: .process)
        defer { store.close() }
        let loaded = try store.load()
        #expect(loaded.restocks == memory.restocks)
        #expect(loaded.folded == memory.folded)
        #expect(loaded.stockOnHand(1) == memory.stockOnHand(1))
        #expect(loaded.digest == memory.digest)
        #expect(try store.recalled("r0") == Restock(opId: "r0", item: 1, count: 2, timeMicros: 0))
        #expect(try store.recalled("r8")?.timeMicros == 750)
        #expect(try store.recalled("nope") == nil)
    }
    @Test("refusals keep the later stamp, fold below a horizon, and a restart loads the rest")
    func refusalsFold() throws {
        let path = NSTemporaryDirectory() + "pygmy-catalog-store-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: path) }
        var store = try CatalogStore(directory: path, durability: .process)
        var memory = CatalogState()
        func write(_ mutations: [CatalogMutation]) throws {
            memory.apply(mutations)
            try store.persist(mutations)
        }
        try write(CatalogSeed.original.map(CatalogMutation.addBook))
        for i in 0..<10 { try write([.reject(requestId: "x\(i)", timeMicros: Int64(i) * 100)]) }
        try write([.reject(requestId: "x1", timeMicros: 900), .reject(requestId: "x2", timeMicros: 50)])
        try write([.reject(requestId: "old")])
        try write([memory.foldDecision(before: 800)])
        #expect(memory.refusals == ["x1": 900, "x8": 800, "x9": 900, "old": .max])
        store.close()

        store = try CatalogStore(directory: path, durability: .process)
        defer { store.close() }
        let loaded = try store.load()
        #expect(loaded.refusals == memory.refusals)
        #expect(loaded.digest == memory.digest)
    }
}
