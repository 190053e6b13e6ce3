import Foundation
import PygmyBookstore
import Testing

@testable import PygmyNodes

/// `CatalogStore` folds restocks and refusals as `CatalogState` does: a restart loads the counts and
/// what is not folded only, and still knows every restock's op id.
@Suite struct CatalogStoreTests {
    /// A seeded store in a directory of its own, and the state it must restore (`write` applies to both).
    final class Fixture {
        let path = NSTemporaryDirectory() + "pygmy-catalog-store-\(UUID().uuidString)"
        var store: CatalogStore
        var memory = CatalogState()

        init() throws {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            store = try CatalogStore(directory: path, durability: .process)
            try write(CatalogSeed.original.map(CatalogMutation.addBook))
        }

        func write(_ mutations: [CatalogMutation]) throws {
            memory.apply(mutations)
            try store.persist(mutations)
        }

        /// Closes the store, opens it again and loads it, as a restart does.
        func restart() throws -> CatalogState {
            store.close()
            store = try CatalogStore(directory: path, durability: .process)
            return try store.load()
        }

        deinit {
            store.close()
            try? FileManager.default.removeItem(atPath: path)
        }
    }

    @Test("restocks fold into counts; a restart loads the rest; folded op ids are still known")
    func restocksFold() throws {
        let fixture = try Fixture()
        for i in 0..<10 {
            try fixture.write([.restock(Restock(opId: "r\(i)", item: 1, count: 2, timeMicros: Int64(i) * 100))])
        }
        // Stamped again later elsewhere: the earlier stays; stamped earlier: it wins.
        try fixture.write([.restock(Restock(opId: "r9", item: 1, count: 2, timeMicros: 5_000))])
        try fixture.write([.restock(Restock(opId: "r8", item: 1, count: 2, timeMicros: 750))])
        try fixture.write([fixture.memory.foldDecision(before: 800)])
        let memory = fixture.memory
        #expect(memory.restocks.keys.sorted() == ["r9"], "r8, stamped 750 now, is below the horizon")
        #expect(memory.folded.restocked == [1: 18])

        let loaded = try fixture.restart()
        #expect(loaded.restocks == memory.restocks)
        #expect(loaded.folded == memory.folded)
        #expect(loaded.stockOnHand(1) == memory.stockOnHand(1))
        #expect(loaded.digest == memory.digest)
        #expect(try fixture.store.recalled("r0") == Restock(opId: "r0", item: 1, count: 2, timeMicros: 0))
        #expect(try fixture.store.recalled("r8")?.timeMicros == 750)
        #expect(try fixture.store.recalled("nope") == nil)
    }

    @Test("refusals keep the later stamp, fold below a horizon, and a restart loads the rest")
    func refusalsFold() throws {
        let fixture = try Fixture()
        for i in 0..<10 { try fixture.write([.reject(requestId: "x\(i)", timeMicros: Int64(i) * 100)]) }
        try fixture.write([.reject(requestId: "x1", timeMicros: 900), .reject(requestId: "x2", timeMicros: 50)])
        try fixture.write([.reject(requestId: "old")])
        try fixture.write([fixture.memory.foldDecision(before: 800)])
        #expect(fixture.memory.refusals == ["x1": 900, "x8": 800, "x9": 900, "old": .max])

        let loaded = try fixture.restart()
        #expect(loaded.refusals == fixture.memory.refusals)
        #expect(loaded.digest == fixture.memory.digest)
    }
}
