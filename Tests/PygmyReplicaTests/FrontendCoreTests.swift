import PygmyBookstore
import PygmyReplica
import Testing

/// The frontend's core: subscriptions follow the connection that carries them.
@Suite struct FrontendCoreTests {
    func frontend(lease: Duration? = .seconds(1)) -> CoreDriver<FrontendCore> {
        let config = FrontendCore.Config(
            name: "frontend",
            peers: [.catalog: ["catalog-1"], .order: ["order-1"]],
            timing: ReplicaTiming()
        )
        var driver = CoreDriver(FrontendCore(config: config, now: ReplicaTime(monotonic: .zero, wallMicros: 0)))
        driver.feed(.boot)
        driver.heartbeats(up: ["catalog-1", "order-1"], lease: lease)
        return driver
    }

    static let book = Book(item: 1, title: "T", topic: "t", stock: 5, cost: 10)

    /// Subscribes on connection `generation` (nil: the shell could not tell which connection carried it).
    func subscribe(_ driver: inout CoreDriver<FrontendCore>, generation: UInt64?) {
        driver.feed(.timer(.subscriptions))
        let calls = driver.takeCalls(where: { $0 == .subscribe })
        #expect(calls.count == 1)
        for (id, _, _) in calls { driver.feed(.reply(id, .answered(.ok, connection: generation))) }
    }

    /// Looks item 1 up; answers a miss from catalog-1 on connection `generation`. Returns whether it hit.
    func lookup(_ driver: inout CoreDriver<FrontendCore>, answeredOn generation: UInt64) -> Bool {
        let id = driver.request(.lookup(LookupRequest(item: 1)))
        if driver.answer(to: id) != nil { return true }
        for (call, _, _) in driver.takeCalls(where: { if case .lookup = $0 { true } else { false } }) {
            driver.feed(.reply(call, .answered(.book(Self.book, nil), connection: generation)))
        }
        #expect(driver.answer(to: id) == .success(.book(Self.book, nil)))
        return false
    }

    @Test("without a catalog replica holding a read lease, the cache is not used")
    func noLeaseNoCache() {
        var driver = frontend(lease: nil)
        subscribe(&driver, generation: 1)
        #expect(!lookup(&driver, answeredOn: 1))
        #expect(!lookup(&driver, answeredOn: 1), "a cached read was served with no lease anywhere")
    }

    @Test("once the subscribed replica's lease runs out, the cache is not used")
    func anExpiredLeaseStopsTheCache() {
        var driver = frontend()
        subscribe(&driver, generation: 1)
        #expect(!lookup(&driver, answeredOn: 1))
        #expect(lookup(&driver, answeredOn: 1))
        driver.now += .seconds(2)
        #expect(!lookup(&driver, answeredOn: 1), "a cached read was served after the lease ran out")
    }

    @Test("a subscription whose connection cannot be told is made again")
    func anUncertainSubscriptionIsRetried() {
        var driver = frontend()
        subscribe(&driver, generation: nil)
        #expect(driver.core.subscribed.isEmpty)
        subscribe(&driver, generation: 1)
        #expect(driver.core.subscribed == ["catalog-1": 1])
    }

    @Test("only answers on the subscribed connection are cached")
    func onlyAnswersOnTheSubscribedConnectionAreCached() {
        var driver = frontend()
        subscribe(&driver, generation: 1)
        // An answer on a newer connection (the subscribed one was replaced): not cached, and the
        // subscription is gone.
        #expect(!lookup(&driver, answeredOn: 2))
        #expect(driver.core.subscribed.isEmpty)
        #expect(!lookup(&driver, answeredOn: 2))
        subscribe(&driver, generation: 2)
        #expect(!lookup(&driver, answeredOn: 2))
        #expect(lookup(&driver, answeredOn: 2), "a fill on the subscribed connection must be cached")
        // A push invalidates it.
        driver.feed(.invalidated(Invalidation(item: 1, topic: "t")))
        #expect(!lookup(&driver, answeredOn: 2))
    }
}
