import PygmyBookstore
import PygmyReplica
import Testing

/// A catalog replica's rejoin (docs/DESIGN.md, "Catalog rejoin"), driven input by input.
@Suite struct CatalogRejoinTests {
    @Test("a restock a peer applied while the replica rejoined is there when it becomes ready")
    func restocksAppliedDuringTheRejoinAreCaughtUp() {
        var driver = AdminWriteFencingTests().catalog(
            "catalog-2",
            membership: Membership(epoch: 1, catalogs: ["catalog-1", "catalog-2"])
        )
        let before = driver.core.state
        // A frontend that took catalog-2 for down restocked at catalog-1 alone, after its first snapshot.
        var after = before
        after.apply(.restock(Restock(opId: "r1", item: 1, count: 5, timeMicros: 1)))
        driver.join(peerState: before, laterState: after)
        #expect(driver.core.phase == .ready)
        #expect(driver.core.state.stockOnHand(1) == before.stockOnHand(1) + 5, "ready without catalog-1's restock")
    }
}
