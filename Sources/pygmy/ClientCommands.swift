import ArgumentParser
import Foundation
import PygmyBookstore
import PygmyNodes
import PygmyRPC

/// Reads a positive integer argument, or says that it must be one.
func positiveInteger(_ name: String) -> @Sendable (String) throws -> Int {
    { text in
        guard let value = Int(text), value > 0 else {
            throw ValidationError("\(name) must be a positive integer, not \"\(text)\"")
        }
        return value
    }
}

struct Search: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the books on a topic.")

    @Argument(help: "The topic, for example \"distributed systems\".")
    var topic: String

    @OptionGroup var options: ClientOptions

    func run() async throws {
        try await reporting(json: options.json) { output in
            let result = try await options.withClient {
                try await $0.call(Frontend.Search.self, SearchRequest(topic: topic))
            }
            struct JSONResult: Encodable {
                var topic: String
                var items: [BookSummary]
            }
            output.emit(JSONResult(topic: topic, items: result.items)) {
                result.items.map { "\($0.item)\t\($0.title)" }.joined(separator: "\n")
            }
        }
    }
}

struct Lookup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a book's title, topic, stock and cost.",
        discussion: """
            With --node, asks that catalog replica itself (admin): its own stock of the item, negative
            included, and the copies held by buys in progress, whatever its state or read lease. Through the
            frontend, stock is never below 0.
            """
    )

    @Argument(help: "The item number.", transform: positiveInteger("the item number"))
    var item: Int

    @Option(
        name: .long,
        help: "Ask this catalog replica directly (admin): a name of the cluster's topology, or HOST:PORT."
    )
    var node: String?

    @OptionGroup var options: ClientOptions

    func run() async throws {
        try await reporting(json: options.json) { output in
            if let node {
                let raw = try await options.withClient(certificateRole: "admin", node: node) {
                    try await $0.call(Catalog.Inspect.self, LookupRequest(item: item))
                }
                return output.emit(raw) {
                    "\(raw.item)\t\(raw.title)\n\ttopic: \(raw.topic)\n\tstock: \(raw.stock) at \(raw.node) "
                        + "(\(raw.state)), \(raw.held) held\n\tcost:  \(raw.cost)"
                }
            }
            let book = try await options.withClient {
                try await $0.call(Frontend.Lookup.self, LookupRequest(item: item))
            }
            output.emit(book) {
                "\(book.item)\t\(book.title)\n\ttopic: \(book.topic)\n\tstock: \(book.stock)\n\tcost:  \(book.cost)"
            }
        }
    }
}

struct Buy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Buy copies of a book.",
        discussion: "Retrying with the same --request-id returns the first outcome; it never buys twice."
    )

    @Argument(help: "The item number.", transform: positiveInteger("the item number"))
    var item: Int

    @Option(name: .long, help: "How many copies.")
    var quantity = 1

    @Option(name: .long, help: "Idempotency key; a fresh UUID by default.")
    var requestId: String?

    @OptionGroup var options: ClientOptions

    func validate() throws {
        guard quantity > 0 else { throw ValidationError("--quantity must be at least 1") }
        if let requestId, requestId.isEmpty || requestId.utf8.count > 128 {
            throw ValidationError("--request-id must be 1 to 128 bytes")
        }
    }

    func run() async throws {
        try await reporting(json: options.json) { output in
            let request = BuyRequest(item: item, quantity: quantity, requestId: requestId ?? UUID().uuidString)
            let order = try await options.withClient { try await $0.call(Frontend.Buy.self, request) }
            output.emit(order) {
                "order \(order.order): \(order.quantity) × item \(order.item) for \(order.cost) (request \(order.requestId))"
                    + (order.replayed == true
                        ? "\nreplayed: this request id was decided earlier; nothing new was bought" : "")
            }
        }
    }
}

struct Orders: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the order log (admin).",
        discussion: """
            Pages through the log (PROTOCOL.md §6.3): without --limit, every order, fetched 1,000 at a time;
            with --limit N, one page of N and the cursor of the next (`next`), which --cursor takes to go on.
            A cursor never misses or repeats an order, even while buys go on. With --node, lists that order
            replica's own log (admin), with its refusals ("rejections") when --after is 0.
            """
    )

    @Option(name: .long, help: "Orders on one page (1 to 10000); prints the cursor of the next page.")
    var limit: Int?

    @Option(name: .long, help: "Go on from this cursor (the `next` of an earlier page).")
    var cursor: String?

    @Option(name: .long, help: "Only orders of this item.", transform: positiveInteger("the item number"))
    var item: Int?

    @Option(name: .long, help: "Only orders with a larger order number (a filter, not a cursor).")
    var after = 0

    @Option(
        name: .long,
        help: "Ask this order replica directly (admin): a name of the cluster's topology, or HOST:PORT."
    )
    var node: String?

    @OptionGroup var options: ClientOptions

    func validate() throws {
        if let limit, !(1...OrderPaging.maxLimit).contains(limit) {
            throw ValidationError("--limit must be 1 to \(OrderPaging.maxLimit), not \(limit)")
        }
        if node != nil, limit != nil || cursor != nil || item != nil {
            throw ValidationError("--node lists one replica's whole log; it takes no --limit, --cursor or --item")
        }
    }

    /// What `--json` prints: the orders and, after one page of `--limit`, the cursor of the next.
    struct Listing: Encodable {
        var orders: [OrderRecord]
        var next: String?
    }

    func run() async throws {
        try await reporting(json: options.json) { output in
            if let node {
                let log = try await options.withClient(certificateRole: "admin", node: node) {
                    try await $0.call(Order.List.self, OrdersRequest(after: after))
                }
                return output.emit(log) {
                    let orders = log.orders.map(Self.line)
                    let refusals = log.rejections.map { "refused\t\($0.requestId)\t\($0.message)" }
                    let lines = orders + refusals
                    return lines.isEmpty ? "no orders at \(node)" : lines.joined(separator: "\n")
                }
            }
            // Admin: the log holds every customer's orders (PROTOCOL.md §8.4).
            let listing = try await options.withClient(certificateRole: "admin") { client in
                var listing = Listing(orders: [], next: cursor)
                repeat {
                    let request = OrderPageRequest(limit: limit ?? 1000, cursor: listing.next, item: item)
                    let page = try await client.call(Frontend.OrdersPage.self, request)
                    listing.orders += page.orders.filter { $0.order > after }
                    listing.next = page.next
                } while limit == nil && listing.next != nil
                return listing
            }
            output.emit(listing) {
                var lines = listing.orders.map(Self.line)
                if lines.isEmpty { lines = ["no orders"] }
                if let next = listing.next { lines.append("next page: --cursor \(next)") }
                return lines.joined(separator: "\n")
            }
        }
    }

    static func line(_ order: OrderRecord) -> String {
        "\(order.order)\titem \(order.item)\t× \(order.quantity)\tpaid \(order.total)\t\(order.requestId)"
    }
}

struct Restock: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Add copies of a book (admin).")

    @Argument(help: "The item number.", transform: positiveInteger("the item number"))
    var item: Int

    @Argument(help: "How many copies to add.", transform: positiveInteger("the count"))
    var count: Int

    @Option(name: .long, help: "Operation id: retrying with the same one restocks once (default: a fresh UUID).")
    var opId: String?

    @OptionGroup var options: ClientOptions

    func validate() throws {
        guard count > 0 else { throw ValidationError("count must be at least 1") }
    }

    func run() async throws {
        try await reporting(json: options.json) { output in
            let request = RestockRequest(item: item, count: count, opId: opId ?? UUID().uuidString)
            let book = try await options.withClient(certificateRole: "admin") {
                try await $0.call(Frontend.Restock.self, request)
            }
            output.emit(book) { "item \(book.item): \(book.stock) in stock" }
        }
    }
}

struct Price: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Change a book's cost (admin).",
        discussion: """
            Every price carries a version; replicas keep the price with the highest (version, op id). The
            version is the number the op id starts with: the default op id is the time in microseconds since
            1970 and a UUID ("1733500000000000-9F2C…"), printed with the result. Retrying with that op id
            sends the same version, so it changes nothing once applied and never overwrites a price set
            after it; a newer op id (a larger number) wins everywhere in the same way.
            """
    )

    @Argument(help: "The item number.", transform: positiveInteger("the item number"))
    var item: Int

    @Argument(help: "The new cost of one copy.")
    var cost: Int

    @Option(
        name: .long,
        help:
            "Operation id, starting with its version number, e.g. \"$(date +%s%6N)-price-2\" (default: now in µs and a UUID)."
    )
    var opId: String?

    @OptionGroup var options: ClientOptions

    /// The version an op id carries: the number it starts with (digits up to the first non-digit).
    static func version(of opId: String) -> Int64? {
        let digits = opId.prefix { $0.isASCII && $0.isNumber }
        return digits.isEmpty ? nil : Int64(digits)
    }

    func validate() throws {
        guard cost >= 0 else { throw ValidationError("cost must not be negative") }
        if let opId, Self.version(of: opId) == nil {
            throw ValidationError(
                "--op-id \"\(opId)\" must start with its version, a number (up to 19 digits), for example "
                    + "\"$(date +%s%6N)-\(opId)\": a retry with the same op id then sets the same version"
            )
        }
    }

    func run() async throws {
        try await reporting(json: options.json) { output in
            let opId = opId ?? "\(Int64(Date().timeIntervalSince1970 * 1_000_000))-\(UUID().uuidString)"
            let version = Self.version(of: opId) ?? 0
            let request = SetCostRequest(item: item, cost: cost, opId: opId, version: version)
            let book = try await options.withClient(certificateRole: "admin") {
                try await $0.call(Frontend.SetCost.self, request)
            }
            struct JSONResult: Encodable {
                var item: Int
                var title: String
                var topic: String
                var stock: Int
                var cost: Int
                var opId: String
            }
            let result = JSONResult(
                item: book.item,
                title: book.title,
                topic: book.topic,
                stock: book.stock,
                cost: book.cost,
                opId: opId
            )
            output.emit(result) { "item \(book.item) now costs \(book.cost) (op id \(opId))" }
        }
    }
}

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the membership and every node: role, address, state, version, epoch, lease, cache counters.",
        discussion: """
            The first line names the membership epoch and its catalog members; a catalog replica outside it
            is marked "excluded". LEASE is how much of a catalog replica's read lease was left ("none": it
            serves no reads). --json adds "membership" and "excluded" to the frontend's status.
            --check exits 7 unless every node is up and ready; --wait keeps asking until they are (at most
            --timeout seconds), then behaves as --check. For scripts: pygmy status --wait --timeout 30 && ...
            """
    )

    @Flag(name: .long, help: "Exit 7 unless every node is up and ready.")
    var check = false

    @Flag(name: .long, help: "Wait (up to --timeout) until every node is up and ready; implies --check.")
    var wait = false

    @OptionGroup var options: ClientOptions

    /// Why the cluster is not wholly ready, or nil when it is.
    static func notReady(_ status: ClusterStatus) -> String? {
        var problems = status.unreachable.map { "\($0) is unreachable" }
        problems += status.nodes.filter { $0.state != "ready" }.map { "\($0.name) is \($0.state)" }
        return problems.isEmpty ? nil : problems.joined(separator: ", ")
    }

    func run() async throws {
        try await reporting(json: options.json) { output in
            let deadline = ContinuousClock.now + .milliseconds(Int64(options.timeout * 1000))
            // Admin: the status shows the cluster's internals (PROTOCOL.md §8.4).
            var status = try await options.withClient(certificateRole: "admin") {
                try await $0.call(Frontend.Status.self, Empty())
            }
            while wait, Self.notReady(status) != nil, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(200))
                if let next = try? await options.withClient(
                    certificateRole: "admin",
                    { try await $0.call(Frontend.Status.self, Empty()) }
                ) {
                    status = next
                }
            }
            output.emit(StatusJSON(status)) { StatusTable.render(status) }
            if check || wait, let problem = Self.notReady(status) {
                throw CommandFailure(code: "notReady", message: "not every node is ready: \(problem)", exit: Exit.busy)
            }
        }
    }
}

/// What `status --json` prints: the frontend's `ClusterStatus` plus the cluster's current membership.
struct StatusJSON: Encodable {
    var nodes: [NodeStatus]
    var unreachable: [String]
    /// The newest membership any replica reports (chosen memberships only grow in epoch).
    var membership: Membership?
    /// Catalog replicas of the status that are not members of `membership`.
    var excluded: [String]

    init(_ status: ClusterStatus) {
        nodes = status.nodes
        unreachable = status.unreachable
        membership = StatusTable.membership(status)
        excluded = StatusTable.excluded(status, from: membership)
    }
}

enum StatusTable {
    /// The newest membership a node reports.
    static func membership(_ status: ClusterStatus) -> Membership? {
        status.nodes.compactMap(\.membership).max { $0.epoch < $1.epoch }
    }

    /// Catalog replicas (answering or not) that `membership` leaves out.
    static func excluded(_ status: ClusterStatus, from membership: Membership?) -> [String] {
        guard let membership else { return [] }
        let catalogs =
            status.nodes.filter { $0.role == "catalog" }.map(\.name)
            + status.unreachable.filter { $0.hasPrefix("catalog") }
        return catalogs.filter { !membership.contains($0) }.sorted()
    }

    static func render(_ status: ClusterStatus) -> String {
        var lines: [String] = []
        let membership = membership(status)
        let excluded = Set(excluded(status, from: membership))
        if let membership {
            lines.append(
                "membership: epoch \(membership.epoch), catalog members \(membership.catalogs.joined(separator: ", "))"
                    + (excluded.isEmpty ? "" : "; excluded \(excluded.sorted().joined(separator: ", "))")
            )
        }
        let pending = status.nodes.compactMap(\.pendingMembership).filter { $0.epoch > (membership?.epoch ?? 0) }
        if let next = pending.max(by: { $0.epoch < $1.epoch }) {
            lines.append(
                "pending:    epoch \(next.epoch), catalog members \(next.catalogs.joined(separator: ", "))"
                    + " (accepted by a voter, not yet known to be chosen)"
            )
        }
        lines.append(
            "NODE        ROLE      ADDRESS               STATE      UP      VERSION  EPOCH  LEASE    CACHE hit/miss"
        )
        for node in status.nodes {
            let cache = node.cacheHits.map { "\($0)/\(node.cacheMisses ?? 0)" } ?? "-"
            let epoch = node.membership.map { "\($0.epoch)" } ?? "-"
            let lease = node.role == "catalog" ? (node.leaseMillis.map { "\($0)ms" } ?? "none") : "-"
            lines.append(
                [
                    node.name.padding(11), node.role.padding(9), node.address.padding(21), node.state.padding(10),
                    "up".padding(7), (node.version ?? "?").padding(8), epoch.padding(6), lease.padding(8), cache,
                ].joined(separator: " ") + (excluded.contains(node.name) ? "  excluded" : "")
            )
        }
        for name in status.unreachable {
            lines.append(
                [name.padding(11), "?".padding(9), "?".padding(21), "-".padding(10), "DOWN"].joined(separator: " ")
                    + (excluded.contains(name) ? "  excluded" : "")
            )
        }
        return lines.joined(separator: "\n")
    }
}

extension String {
    func padding(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
