import Foundation
import PygmyBookstore
import PygmyNodes
import PygmyRPC
import Testing

/// Each node's Prometheus endpoint, scraped over HTTP from a running in-process cluster.
@Suite(.serialized) struct MetricsTests {
    @Test func scrapesShowTheCallsCacheCommitsPeersAndEpochOfARunningCluster() async throws {
        try await TestCluster.with(metrics: true) { (cluster: TestCluster) async throws -> Void in
            for _ in 0..<5 { _ = try await cluster.lookup(1) }
            _ = try await cluster.buy(1)
            _ = try await cluster.search("distributed systems")
            await #expect { _ = try await cluster.lookup(99) } throws: { bookstoreCode($0) == .unknownItem }
            await #expect { _ = try await cluster.client.call(Bogus.self, Empty()) } throws: {
                ($0 as? RPCError)?.code == .unimplemented
            }

            let front = try await Scrape.get(port: try #require(cluster.nodes["frontend"]?.metricsPort))
            #expect(front.status == 200)
            #expect(front.headers.contains("text/plain; version=0.0.4"))
            #expect((front.value("pygmy_rpc_requests_total", ["method": "frontend.lookup"]) ?? 0) >= 6)
            #expect(front.value("pygmy_rpc_requests_total", ["method": "frontend.buy"]) == 1)
            #expect(front.value("pygmy_rpc_errors_total", ["method": "frontend.lookup", "code": "unknownItem"]) == 1)
            #expect(front.value("pygmy_rpc_errors_total", ["method": "frontend.buy"]) == nil)
            // A name the node does not serve is counted under "unknown", so clients cannot add series.
            #expect(front.value("pygmy_rpc_errors_total", ["method": "unknown", "code": "unimplemented"]) == 1)
            #expect(!front.body.contains(Bogus.name))
            #expect(front.value("pygmy_rpc_request_duration_seconds_count", ["method": "frontend.buy"]) == 1)
            #expect((front.value("pygmy_rpc_request_duration_seconds_sum", ["method": "frontend.buy"]) ?? 0) > 0)
            #expect((front.value("pygmy_cache_hits_total") ?? 0) >= 3)
            #expect((front.value("pygmy_cache_misses_total") ?? 0) >= 1)
            #expect(front.value("pygmy_peer_up", ["peer": "catalog-1"]) == 1)
            #expect(front.value("pygmy_peer_up", ["peer": "order-2"]) == 1)
            #expect((front.value("pygmy_open_connections") ?? 0) >= 1)
            #expect(front.value("pygmy_node_info", ["role": "frontend", "version": PygmyVersion.current]) == 1)
            #expect(front.value("pygmy_membership_epoch") == nil)
            #expect(front.value("pygmy_sqlite_commit_duration_seconds_count") == nil)

            // A second scrape adds only what happened in between to the cache counters: one lookup, a miss
            // (the buy invalidated item 1) and then a hit.
            let (hits, misses) = (
                front.value("pygmy_cache_hits_total") ?? 0, front.value("pygmy_cache_misses_total") ?? 0
            )
            _ = try await cluster.lookup(1)
            _ = try await cluster.lookup(1)
            let again = try await Scrape.get(port: try #require(cluster.nodes["frontend"]?.metricsPort))
            #expect(again.value("pygmy_cache_hits_total") == hits + 1)
            #expect(again.value("pygmy_cache_misses_total") == misses + 1)

            let catalog = try await Scrape.get(port: try #require(cluster.nodes["catalog-1"]?.metricsPort))
            #expect(catalog.value("pygmy_membership_epoch") == 1)
            #expect((catalog.value("pygmy_sqlite_commit_duration_seconds_count") ?? 0) >= 2)  // the hold and the commit
            #expect(catalog.value("pygmy_rpc_requests_total", ["method": "catalog.hold"]) == 1)
            #expect(catalog.value("pygmy_rpc_requests_total", ["method": "catalog.commit"]) == 1)
            #expect(catalog.value("pygmy_holds_in_flight") == 0)
            #expect(catalog.value("pygmy_peer_up", ["peer": "order-1"]) == 1)
            #expect(catalog.value("pygmy_cache_hits_total") == nil)

            let order = try await Scrape.get(port: try #require(cluster.nodes["order-1"]?.metricsPort))
            #expect(order.value("pygmy_membership_epoch") == 1)
            #expect((order.value("pygmy_sqlite_commit_duration_seconds_count") ?? 0) >= 1)
            #expect((order.value("pygmy_rpc_requests_total", ["method": "node.health"]) ?? 0) >= 1)
        }
    }

    /// A method no node serves.
    enum Bogus: RPCMethod {
        typealias Request = Empty
        typealias Response = Empty
        static let name = "frontend.bogus"
    }

    @Test func otherPathsAndMethodsGetAClearRefusal() async throws {
        try await TestCluster.with(metrics: true) { (cluster: TestCluster) async throws -> Void in
            let port = try #require(cluster.nodes["catalog-2"]?.metricsPort)
            let missing = try await Scrape.get(port: port, path: "/")
            #expect(missing.status == 404 && missing.body.contains("only GET /metrics"), "\(missing)")
            let post = try await Scrape.get(port: port, method: "POST")
            #expect(post.status == 405, "\(post)")
            let query = try await Scrape.get(port: port, path: "/metrics?x=1")
            #expect(query.status == 200 && query.value("pygmy_membership_epoch") == 1)
        }
    }

    @Test func aNodeWithoutMetricsPortServesNoEndpoint() async throws {
        try await TestCluster.with { (cluster: TestCluster) async throws -> Void in
            #expect(cluster.nodes["frontend"]?.metricsPort == nil)
            #expect(cluster.nodes["frontend"]?.metrics == nil)
        }
    }
}
