import Foundation
import Histogram
import PygmyBookstore
import PygmyNodes
import PygmyRPC
import Synchronization

/// Concurrent clients doing search / lookup / buy against a frontend, recording client-side latency
/// (HdrHistogram) and every buy's outcome. Shared by `pygmy demo` and `pygmy bench`.
public final class Workload: Sendable {
    /// What one request of a client does.
    public enum Operation: String, CaseIterable, Sendable {
        case search, lookup, buy
    }

    /// The weights of the operations in a client's sequence (equal by default).
    public struct Mix: Sendable {
        public var search = 1
        public var lookup = 1
        public var buy = 1

        public init() {}
    }

    /// One buy a client made and what it was told.
    public struct BuyOutcome: Sendable {
        public var requestId: String
        public var item: ItemID
        public var acknowledged: Bool
        /// The error of a buy that was not acknowledged.
        public var error: String?
    }

    private let histograms = Mutex<[Operation: Histogram<UInt64>]>([:])
    private let outcomes = Mutex<[BuyOutcome]>([])
    private let errors = Mutex<[String: Int]>([:])
    /// Copies the admin client added per item (after out-of-stock refusals).
    public let restocked = Mutex<[ItemID: Int]>([:])
    /// Operations finished so far, by every client.
    public let completed = Atomic<Int>(0)
    let topics = ["distributed systems", "graduate school"]
    let items: [ItemID]

    /// A workload over the books `items`.
    public init(items: [ItemID]) { self.items = items }

    /// Runs `clients` clients of `requestsPerClient` operations each. `admin` restocks an item that runs out.
    public func run(
        clients: Int,
        requestsPerClient: Int,
        mix: Mix,
        client makeClient: @escaping @Sendable () throws -> RPCClient,
        admin: RPCClient?
    ) async throws {
        let weights = [(Operation.search, mix.search), (.lookup, mix.lookup), (.buy, mix.buy)].filter { $0.1 > 0 }
        let total = weights.map(\.1).reduce(0, +)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<clients {
                let client = try makeClient()
                group.addTask {
                    var rng = SystemRandomNumberGenerator()
                    for n in 0..<requestsPerClient {
                        var pick = (n * 7 + index * 3) % total
                        var op = weights[0].0
                        for (candidate, weight) in weights {
                            if pick < weight {
                                op = candidate
                                break
                            }
                            pick -= weight
                        }
                        await self.once(op, client: client, admin: admin, rng: &rng)
                        self.completed.add(1, ordering: .relaxed)
                    }
                    await client.close()
                }
            }
            try await group.waitForAll()
        }
    }

    private func once(
        _ op: Operation,
        client: RPCClient,
        admin: RPCClient?,
        rng: inout SystemRandomNumberGenerator
    ) async {
        let item = items.randomElement(using: &rng)!
        let start = ContinuousClock.now
        do {
            switch op {
            case .search:
                _ = try await client.call(
                    Frontend.Search.self,
                    SearchRequest(topic: topics.randomElement(using: &rng)!)
                )
            case .lookup:
                _ = try await client.call(Frontend.Lookup.self, LookupRequest(item: item))
            case .buy:
                let id = UUID().uuidString
                do {
                    _ = try await client.call(Frontend.Buy.self, BuyRequest(item: item, quantity: 1, requestId: id))
                    outcomes.withLock { $0.append(BuyOutcome(requestId: id, item: item, acknowledged: true)) }
                } catch {
                    outcomes.withLock {
                        $0.append(BuyOutcome(requestId: id, item: item, acknowledged: false, error: "\(error)"))
                    }
                    if let rpc = error as? RPCError, rpc.code.rawValue == BookstoreError.Code.outOfStock.rawValue,
                        let admin
                    {
                        let request = RestockRequest(item: item, count: 10, opId: UUID().uuidString)
                        if (try? await admin.call(Frontend.Restock.self, request)) != nil {
                            restocked.withLock { $0[item, default: 0] += 10 }
                        }
                    }
                    throw error
                }
            }
            record(op, ContinuousClock.now - start)
        } catch let rpc as RPCError where rpc.code.rawValue == BookstoreError.Code.outOfStock.rawValue {
            record(op, ContinuousClock.now - start)  // a definite answer is a served request
        } catch {
            errors.withLock { $0["\(op.rawValue): \(Self.kind(error))", default: 0] += 1 }
        }
    }

    static func kind(_ error: any Error) -> String {
        switch error {
        case let rpc as RPCError:
            BookstoreError.Code(rawValue: rpc.code.rawValue).map { "\($0)" } ?? "\(rpc.code)"
        case let transport as TransportError: transport.kind.rawValue
        default: "\(type(of: error))"
        }
    }

    func record(_ op: Operation, _ elapsed: Duration) {
        let micros = UInt64(
            max(1, elapsed.components.seconds * 1_000_000 + elapsed.components.attoseconds / 1_000_000_000_000)
        )
        histograms.withLock { all in
            // Mutating in place: a copy out of the dictionary would duplicate the whole counts array.
            _ = all[
                op,
                default: Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
            ]
            .record(min(micros, 60_000_000))
        }
    }

    /// The client-side latency of `op` so far, or nil if none was served.
    public func summary(_ op: Operation) -> LatencySummary? {
        histograms.withLock { all in
            guard let h = all[op], h.totalCount > 0 else { return nil }
            return LatencySummary(
                operation: op.rawValue,
                count: Int(h.totalCount),
                meanMicros: h.mean,
                p50Micros: Int(h.valueAtPercentile(50)),
                p99Micros: Int(h.valueAtPercentile(99))
            )
        }
    }

    /// Every buy so far, in completion order.
    public var buys: [BuyOutcome] { outcomes.withLock { $0 } }
    /// Failed operations by "operation: error kind".
    public var errorCounts: [String: Int] { errors.withLock { $0 } }
}
