import PygmyRPC
import Testing

@testable import PygmyNodes

/// The access policy, role by role and method by method, against the table of PROTOCOL.md §8.4.
@Suite struct AccessPolicyTests {
    static let roles = ["client", "admin", "frontend", "catalog", "order"]

    /// PROTOCOL.md §8.4, written out: who may call what.
    static let table: [String: Set<String>] = [
        "client": ["frontend.search", "frontend.lookup", "frontend.buy", "node.health"],
        "admin": [
            "frontend.restock", "frontend.setCost", "frontend.orders", "frontend.ordersPage", "frontend.status",
            "order.list", "order.page", "catalog.inspect", "node.health",
        ],
        "frontend": [
            "catalog.search", "catalog.lookup", "catalog.subscribe", "catalog.restock", "catalog.setCost", "order.buy",
            "order.list", "order.page", "node.health",
        ],
        "order": [
            "catalog.hold", "catalog.commit", "catalog.abort", "order.list", "order.replicate", "membership.prepare",
            "membership.accept", "membership.learn", "node.health",
        ],
        "catalog": ["catalog.snapshot", "order.list", "order.resolve", "order.join", "node.health"],
    ]

    func peer(_ roles: Set<String>) -> RPCPeer {
        RPCPeer(
            address: "10.0.0.1:1",
            announcedRole: .client,
            identity: RPCPeerIdentity(subject: "CN=test", roles: roles)
        )
    }

    @Test("§8.4 each role may call exactly its methods", arguments: roles)
    func eachRoleCallsExactlyItsMethods(_ role: String) {
        for method in AccessPolicy.allowedRoles.keys.sorted() {
            let allowed = AccessPolicy.authorize(method: method, peer: peer([role])) == nil
            #expect(
                allowed == Self.table[role]!.contains(method),
                "\(role) \(allowed ? "may" : "may not") call \(method)"
            )
        }
    }

    @Test("§8.4 a certificate with several roles may call what any of them may; no role, nothing")
    func rolesCombine() {
        let both = peer(["client", "admin"])
        #expect(AccessPolicy.authorize(method: "frontend.buy", peer: both) == nil)
        #expect(AccessPolicy.authorize(method: "frontend.restock", peer: both) == nil)
        let none = peer([])
        for method in AccessPolicy.allowedRoles.keys {
            #expect(AccessPolicy.authorize(method: method, peer: none)?.code == .permissionDenied)
        }
        #expect(AccessPolicy.authorize(method: "frontend.nothing", peer: both)?.code == .permissionDenied)
    }

    @Test("plaintext (no verified identity) is not checked")
    func plaintextIsNotChecked() {
        let plain = RPCPeer(address: "127.0.0.1:1", announcedRole: .client, identity: nil)
        #expect(AccessPolicy.authorize(method: "frontend.orders", peer: plain) == nil)
    }
}
