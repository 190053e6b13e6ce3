import PygmyRPC

/// Which certificate roles may call which methods (PROTOCOL.md §8.4, `docs/SECURITY.md`).
///
/// On plaintext connections there is no verified identity and every call is allowed: plaintext is for
/// a cluster on one trusted host. With TLS every call is checked against the roles in the peer's
/// certificate. Decided deliberately:
/// - a `client` certificate (a customer) may search, look up and buy; it may not list the order log,
///   which holds every customer's purchases (there is no per-customer identity to filter it by), nor
///   read the cluster's status (node addresses, stock, digests);
/// - an `admin` certificate (an operator) may restock, change prices, list orders and read the status;
///   it does not imply `client`: an operator who also buys uses a certificate with both roles. It may
///   also read one replica's own state (`order.list` at an order replica, `catalog.inspect` at a
///   catalog replica: `pygmy orders --node`, `pygmy lookup --node`), which writes nothing.
public enum AccessPolicy {
    /// Roles allowed per method; a method missing here is refused to everyone on TLS connections.
    public static let allowedRoles: [String: Set<String>] = [
        Frontend.Search.name: ["client"],
        Frontend.Lookup.name: ["client"],
        Frontend.Buy.name: ["client"],
        Frontend.Orders.name: ["admin"],
        Frontend.OrdersPage.name: ["admin"],
        Frontend.Status.name: ["admin"],
        Frontend.Restock.name: ["admin"],
        Frontend.SetCost.name: ["admin"],
        Catalog.Search.name: ["frontend"],
        Catalog.Lookup.name: ["frontend"],
        Catalog.Subscribe.name: ["frontend"],
        Catalog.Restock.name: ["frontend"],
        Catalog.SetCost.name: ["frontend"],
        Catalog.Hold.name: ["order"],
        Catalog.Commit.name: ["order"],
        Catalog.Abort.name: ["order"],
        Catalog.Snapshot.name: ["catalog"],
        Catalog.Inspect.name: ["admin"],
        Order.Buy.name: ["frontend"],
        Order.List.name: ["frontend", "catalog", "order", "admin"],
        Order.Page.name: ["frontend", "admin"],
        Order.Replicate.name: ["order"],
        Order.Resolve.name: ["catalog"],
        Order.Join.name: ["catalog"],
        Consensus.Prepare.name: ["order"],
        Consensus.Accept.name: ["order"],
        Consensus.Learn.name: ["order"],
        NodeMethods.Health.name: ["client", "admin", "frontend", "catalog", "order"],
    ]

    /// The `RPCServer.Configuration.authorize` hook.
    @Sendable public static func authorize(method: String, peer: RPCPeer) -> RPCError? {
        guard let identity = peer.identity else { return nil }
        let allowed = allowedRoles[method] ?? []
        if identity.roles.isDisjoint(with: allowed) {
            let roles = identity.roles.isEmpty ? "no role" : "role \(identity.roles.sorted().joined(separator: ", "))"
            return RPCError(
                .permissionDenied,
                "\(identity.subject) (\(roles)) may not call \(method); allowed: \(allowed.sorted().joined(separator: ", "))"
            )
        }
        return nil
    }
}
