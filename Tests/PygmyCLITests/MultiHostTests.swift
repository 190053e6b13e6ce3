import Foundation
import PygmyNodes
import Testing

extension LiveProcessTests {
    /// The whole cluster on five "hosts" — one Linux network namespace per node, plus one for the client —
    /// joined by a bridge, every connection mutual TLS, every node addressed by its own IP: what
    /// `docs/DEPLOYMENT.md` describes, run for real through the `pygmy` command.
    ///
    /// Needs root (network namespaces) and iproute2; it is skipped elsewhere. Everything it makes — the
    /// namespaces, the bridge, the veth pairs, the 10.77.0.0/24 addresses, the processes and the temporary
    /// directory — exists only for the run and is removed afterwards, also when the test fails.
    @Suite(.serialized)
    struct MultiHostTests {
        @Test(
            "A five-host cluster over mutual TLS: serves, sells through a cut cable once a majority leaves the host out, re-admits it, refuses bad clients",
            .enabled(
                if: MultiHostNetwork.unavailableReason == nil,
                "needs root and iproute2's `ip netns` on Linux: \(MultiHostNetwork.unavailableReason ?? "")"
            ),
            .timeLimit(.minutes(2))
        )
        func clusterAcrossNetworkNamespaces() async throws {
            let run = MultiHostRun()
            try await withCleanup {
                do {
                    try await run.setUp()
                    try await run.exercise()
                } catch {
                    run.failed = true
                    throw error
                }
            } cleanup: {
                await run.tearDown()
            }
        }

        /// The files `docs/DEPLOYMENT.md` tells operators to install: the example topology loads as a valid
        /// five-host, all-TLS topology, and the systemd unit runs the node named by its instance.
        @Test("deploy/: the example topology and the systemd unit")
        func deploymentFiles() throws {
            let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent()
            let topology = try Topology.load(path: root.appendingPathComponent("deploy/topology.example.jsonc").path)
            #expect(topology.nodes.count == 5)
            #expect(topology.nodes(.frontend).count == 1)
            #expect(topology.nodes(.catalog).count == 2)
            #expect(topology.nodes(.order).count == 2)
            #expect(Set(topology.nodes.map(\.host)).count == 5, "one node per host")
            for node in topology.nodes {
                let tls = try #require(node.tls, "\(node.name) has no tls")
                #expect(
                    tls.certificate == "/etc/pygmy/tls/\(node.name).crt" && tls.key == "/etc/pygmy/tls/\(node.name).key"
                )
                #expect(tls.ca == "/etc/pygmy/tls/ca.crt")
                if node.role != .frontend { #expect(node.dataDir == "/var/lib/pygmy/\(node.name)") }
            }
            let unit = try String(
                contentsOf: root.appendingPathComponent("deploy/pygmy-node@.service"),
                encoding: .utf8
            )
            #expect(
                unit.contains(
                    "ExecStart=/usr/local/bin/pygmy node ${PYGMY_ROLE} --config /etc/pygmy/topology.json --name %i"
                )
            )
            #expect(unit.contains("EnvironmentFile=/etc/pygmy/%i.env"))
            #expect(unit.contains("StateDirectory=pygmy"))
        }
    }
}

/// The state and the steps of one multi-host run.
final class MultiHostRun {
    /// Node name → (host id, role, address). One node per host, all on the same port.
    static let layout: [(name: String, host: String, role: String, address: String)] = [
        ("frontend", "fe", "frontend", "10.77.0.10"),
        ("catalog-1", "c1", "catalog", "10.77.0.21"),
        ("catalog-2", "c2", "catalog", "10.77.0.22"),
        ("order-1", "o1", "order", "10.77.0.31"),
        ("order-2", "o2", "order", "10.77.0.32"),
    ]
    static let clientHost = (id: "cl", address: "10.77.0.100")
    /// A second address of the frontend's host, not in its certificate. The frontend listens on 0.0.0.0
    /// (`listenHost`), so it answers there too, but a client that dials it must refuse the certificate.
    static let frontendAlias = "10.77.0.11"
    static let port = 7000
    /// The seed stock (the original four books).
    static let seedStock = [1: 10, 2: 4, 3: 10, 4: 5]

    let started = ContinuousClock.now
    /// Every wait and command of the run ends by then, so a hang fails the test in bounded time (the
    /// tear-down adds at most a few seconds).
    let budget: ContinuousClock.Instant
    /// `<tmp>/pygmy-multihost-<pid>-<random>`: the pid tells a crashed run's leftovers from a live run's.
    let directory = PygmyProcess.temporaryDirectory("pygmy-multihost-\(getpid())")
    let network = MultiHostNetwork(ip: MultiHostNetwork.ipExecutable ?? "/usr/sbin/ip")
    var nodes: [MultiHostNode] = []
    var failed = false
    /// What the catalog replicas must hold once everything has converged.
    var expectedStock = MultiHostRun.seedStock

    var frontendAddress: String { "\(Self.layout[0].address):\(Self.port)" }
    var certs: String { directory + "/certs" }

    init() { budget = started + .seconds(80) }

    /// `limit`, cut to what is left of the run's budget; throws once the budget is spent.
    func withinBudget(_ limit: Duration, _ what: String) throws -> Duration {
        let left = budget - ContinuousClock.now
        guard left > .zero else { throw Failure("the run's 80 s budget is spent before \(what)") }
        return min(limit, left)
    }

    // MARK: Reporting

    func log(_ message: String) {
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print("[multihost +\(String(format: "%5.1f", seconds))s] \(message)")
    }

    /// Records an issue (and remembers to print the node logs) when `condition` is false.
    func check(
        _ condition: Bool,
        _ comment: @autoclosure () -> String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        guard !condition else { return }
        failed = true
        Issue.record(Comment(rawValue: comment()), sourceLocation: sourceLocation)
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    // MARK: Set-up

    func setUp() async throws {
        await network.removeStale()
        removeStaleDirectories()
        do {
            try await network.createSwitch()
            for node in Self.layout { try await network.addHost(node.host, address: node.address) }
            try await network.addAddress(Self.frontendAlias, to: Self.layout[0].host)
            try await network.addHost(Self.clientHost.id, address: Self.clientHost.address)
        } catch {
            // Root, but namespaces cannot be made (a container without CAP_SYS_ADMIN, say): not our failure.
            try Test.cancel("cannot build the namespace network here: \(error)")
        }
        log("network: \(Self.layout.count + 1) namespaces on bridge br0 in \(network.switchNamespace)")

        try await makeCertificates()
        try writeTopology()
        try MultiHostNode.startAll(Self.layout, on: network, directory: directory, into: &nodes)
        log("started \(nodes.count) nodes, one per namespace")
        let status = try await waitForCluster(within: .seconds(30), "every node ready") { status in
            status.unreachable.isEmpty && status.nodes.count == Self.layout.count
                && status.nodes.allSatisfy { $0.state == "ready" && $0.peersDown.isEmpty }
        }
        for node in Self.layout {
            let reported = status.nodes.first { $0.name == node.name }
            check(
                reported?.address == "\(node.address):\(Self.port)",
                "\(node.name) reports address \(reported?.address ?? "-"), not \(node.address):\(Self.port)"
            )
        }
        log("cluster healthy: every node ready and every peer up")
    }

    /// Temporary directories of earlier runs whose process is gone (killed before it could clean up).
    func removeStaleDirectories() {
        let temporary = NSTemporaryDirectory()
        for name in (try? FileManager.default.contentsOfDirectory(atPath: temporary)) ?? [] {
            let parts = name.split(separator: "-")
            guard parts.count == 4, parts[0] == "pygmy", parts[1] == "multihost", let pid = pid_t(parts[2]),
                pid != getpid(), kill(pid, 0) == -1, errno == ESRCH
            else { continue }
            print("[multihost] removing stale directory \(name)")
            try? FileManager.default.removeItem(atPath: (temporary as NSString).appendingPathComponent(name))
        }
    }

    /// A certificate per node whose subjectAltName holds the node's IP and role URI, the default `client`
    /// and `admin` certificates, and `rogue` (role client) signed by a CA nobody trusts.
    func makeCertificates() async throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("certs/make-certs.sh").path
        var arguments = ["bash", script, "--out", certs]
        arguments += Self.layout.map { "\($0.name):\($0.role):\($0.address)" }
        arguments += ["--untrusted", "rogue:client:"]
        let result = try await MultiHostCommand.run("/usr/bin/env", arguments, timeout: .seconds(60))
        guard result.status == 0 else { throw Failure("make-certs.sh failed (\(result.status)): \(result.output)") }
        log("certificates made with certs/make-certs.sh")
    }

    /// One topology file, shared by every node: addresses, ports, data directories and TLS files.
    func writeTopology() throws {
        let entries = Self.layout.map { node in
            let dataDir =
                node.role == "frontend" ? #", "listenHost": "0.0.0.0""# : #", "dataDir": "data/\#(node.name)""#
            return #"""
                    {"name": "\#(node.name)", "role": "\#(node.role)", "host": "\#(node.address)", "port": \#(Self.port)\#(dataDir),
                     "tls": {"certificate": "certs/\#(node.name).crt", "key": "certs/\#(node.name).key", "ca": "certs/ca.crt"}}
                """#
        }
        let text = """
            // Written by MultiHostTests: one node per network namespace ("host"), mutual TLS everywhere.
            // Relative paths resolve against this file's directory.
            {
              "heartbeatMillis": 200,
              "nodes": [
            \(entries.joined(separator: ",\n"))
              ]
            }

            """
        try text.write(toFile: "\(directory)/topology.json", atomically: true, encoding: .utf8)
    }

    // MARK: The client's view

    struct Credentials {
        var cert: String?
        var key: String?
        var ca: String?
    }

    func credentials(_ name: String) -> Credentials {
        Credentials(cert: "\(certs)/\(name).crt", key: "\(certs)/\(name).key", ca: "\(certs)/ca.crt")
    }

    /// Runs `pygmy arguments… --frontend … [--cert --key --ca]` in the client's namespace.
    func pygmy(
        _ arguments: [String],
        as credentials: Credentials? = nil,
        frontend: String? = nil,
        timeout: Duration = .seconds(20)
    ) async throws -> MultiHostCommand.Result {
        let credentials = credentials ?? self.credentials("client")
        var full = arguments + ["--frontend", frontend ?? frontendAddress]
        if let cert = credentials.cert { full += ["--cert", cert] }
        if let key = credentials.key { full += ["--key", key] }
        if let ca = credentials.ca { full += ["--ca", ca] }
        let command = network.onHost(Self.clientHost.id, [PygmyProcess.executable] + full)
        let limit = try withinBudget(timeout, "pygmy \(arguments.joined(separator: " "))")
        return try await MultiHostCommand.run(command.executable, command.arguments, timeout: limit)
    }

    func decode<T: Decodable>(_ type: T.Type, _ result: MultiHostCommand.Result) throws -> T {
        let line = result.stdout.split(separator: "\n").last.map(String.init) ?? ""
        do {
            return try JSONDecoder().decode(T.self, from: Data(line.utf8))
        } catch {
            throw Failure("expected \(T.self) JSON, got: \(result.output)")
        }
    }

    struct StatusJSON: Decodable {
        struct Node: Decodable {
            var name: String
            var role: String
            var address: String
            var state: String
            var peersDown: [String]
            var stock: [Stock]?
            var membership: Membership?
        }
        struct Membership: Decodable, Equatable {
            var epoch: Int
            var catalogs: [String]
        }
        struct Stock: Decodable, Equatable {
            var item: Int
            var onHand: Int
            var held: Int
        }
        var nodes: [Node]
        var unreachable: [String]

        func node(_ name: String) -> Node? { nodes.first { $0.name == name } }
    }

    struct SearchJSON: Decodable {
        struct Item: Decodable {
            var item: Int
            var title: String
        }
        var topic: String
        var items: [Item]
    }

    struct BookJSON: Decodable {
        var item: Int
        var title: String
        var topic: String
        var stock: Int
        var cost: Int
    }

    struct OrderJSON: Decodable {
        var order: Int
        var item: Int
        var quantity: Int
        var cost: Int
        var requestId: String
    }

    struct OrdersJSON: Decodable {
        struct Entry: Decodable {
            var order: Int
            var requestId: String
            var item: Int
            var quantity: Int
            var unitCost: Int
            var coordinator: String
        }
        var orders: [Entry]
    }

    struct ErrorJSON: Decodable {
        struct Body: Decodable {
            var code: String
            var message: String
        }
        var error: Body
    }

    /// Polls `pygmy status --json` from the client's host until `done` holds; fails with the last answer
    /// (and any node that exited) otherwise.
    @discardableResult
    func waitForCluster(
        within limit: Duration,
        _ what: String,
        until done: (StatusJSON) -> Bool
    ) async throws -> StatusJSON {
        let deadline = ContinuousClock.now + (try withinBudget(limit, what))
        var last = "no answer yet"
        while ContinuousClock.now < deadline {
            if let dead = nodes.first(where: { !$0.isRunning }) {
                throw Failure("node \(dead.name) exited (status \(dead.process.terminationStatus)) waiting for \(what)")
            }
            let result = try await pygmy(["status", "--json", "--timeout", "3"], as: credentials("admin"))
            if result.status == 0, let status = try? decode(StatusJSON.self, result) {
                if done(status) { return status }
            }
            last = "exit \(result.status): \(result.output)"
            try await Task.sleep(for: .milliseconds(250))
        }
        throw Failure("timed out after \(limit) waiting for \(what); last status: \(last)")
    }

    // MARK: The scenario

    func exercise() async throws {
        try await serveThroughTheCLI()
        try await refuseClientsWithoutAValidCertificate()
        try await keepSellingWhileACatalogHostIsCutOff()
        try await checkOrderLog()
    }

    /// search, lookup and buy from the client host, over mutual TLS, through the frontend's IP.
    func serveThroughTheCLI() async throws {
        let search = try await pygmy(["search", "distributed systems", "--json"])
        check(search.status == 0, "search failed: \(search.output)")
        let found = try decode(SearchJSON.self, search)
        check(found.topic == "distributed systems", "search topic: \(found.topic)")
        check(found.items.map(\.item) == [1, 2], "search items: \(found.items.map(\.item))")
        check(found.items.contains { $0.title == "RPCs for Dummies" }, "search titles: \(search.stdout)")

        let lookup = try await pygmy(["lookup", "1", "--json"])
        check(lookup.status == 0, "lookup failed: \(lookup.output)")
        let book = try decode(BookJSON.self, lookup)
        check(book.item == 1 && book.topic == "distributed systems", "lookup: \(lookup.stdout)")
        check(book.stock == 10 && book.cost == 30, "lookup stock/cost: \(lookup.stdout)")
        check(book.title == "How to get a good grade in 677 in 20 minutes a day", "lookup title: \(book.title)")

        let buy = try await pygmy(["buy", "1", "--request-id", "multihost-first", "--json"])
        check(buy.status == 0, "buy failed: \(buy.output)")
        let order = try decode(OrderJSON.self, buy)
        check(order.item == 1 && order.quantity == 1 && order.cost == 30, "buy: \(buy.stdout)")
        check(order.requestId == "multihost-first" && order.order > 0, "buy: \(buy.stdout)")
        expectedStock[1]! -= 1

        let after = try decode(BookJSON.self, try await pygmy(["lookup", "1", "--json"]))
        check(after.stock == 9, "lookup after the buy says stock \(after.stock), not 9")
        log("search, lookup and buy work across hosts (order \(order.order))")
    }

    /// (a) plaintext, (b) a certificate from another CA, (c) a client certificate calling an admin operation;
    /// and the other way round, (d) a frontend reached at an address its certificate does not name.
    func refuseClientsWithoutAValidCertificate() async throws {
        // (a) No certificate at all: the client speaks plaintext to a TLS port.
        let plain = try await pygmy(["status", "--json", "--timeout", "5"], as: Credentials())
        check([5, 6].contains(plain.status), "plaintext client: exit \(plain.status), not 5 or 6: \(plain.output)")
        if let error = try? decode(ErrorJSON.self, plain) {
            check(
                ["unreachable", "tlsFailure"].contains(error.error.code) && !error.error.message.isEmpty,
                "plaintext client: \(plain.stdout)"
            )
        } else {
            check(false, "plaintext client printed no JSON error: \(plain.output)")
        }
        try await expectLog(
            of: "frontend",
            containing: "wrong version number",
            "the frontend's view of the plaintext client"
        )

        // (b) A client certificate signed by a CA the cluster does not trust.
        let rogue = try await pygmy(
            ["status", "--json", "--timeout", "5"],
            as: Credentials(cert: "\(certs)/rogue.crt", key: "\(certs)/rogue.key", ca: "\(certs)/ca.crt")
        )
        check(rogue.status == 6, "untrusted certificate: exit \(rogue.status), not 6: \(rogue.output)")
        if let error = try? decode(ErrorJSON.self, rogue) {
            check(error.error.code == "tlsFailure", "untrusted certificate: code \(error.error.code)")
            check(error.error.message.contains("unknown ca"), "untrusted certificate: message \(error.error.message)")
        } else {
            check(false, "untrusted certificate printed no JSON error: \(rogue.output)")
        }
        try await expectLog(
            of: "frontend",
            containing: "unable to get local issuer certificate",
            "the frontend's view of the untrusted certificate"
        )

        // (c) A valid certificate with role `client` may not restock; `admin` may.
        let denied = try await pygmy(["restock", "4", "2", "--json"], as: credentials("client"))
        check(denied.status == 6, "client restock: exit \(denied.status), not 6: \(denied.output)")
        if let error = try? decode(ErrorJSON.self, denied) {
            check(error.error.code == "permissionDenied", "client restock: code \(error.error.code)")
            check(
                error.error.message.contains("may not call") || error.error.message.contains("permission denied"),
                "client restock: message \(error.error.message)"
            )
        } else {
            check(false, "client restock printed no JSON error: \(denied.output)")
        }
        // The order log and the status are an operator's: a client certificate may not read them, and an
        // admin certificate may not buy (PROTOCOL.md §8.4).
        for (arguments, role) in [
            (["orders", "--json"], "client"), (["status", "--json"], "client"),
            (["buy", "1", "--request-id", "multihost-admin", "--json"], "admin"),
        ] {
            let refused = try await pygmy(arguments, as: credentials(role))
            let code = (try? decode(ErrorJSON.self, refused))?.error.code
            check(
                refused.status == 6 && code == "permissionDenied",
                "\(role) \(arguments[0]): expected permissionDenied (exit 6), got \(refused.output)"
            )
        }
        let restock = try await pygmy(["restock", "4", "2", "--json"], as: credentials("admin"))
        check(restock.status == 0, "admin restock failed: \(restock.output)")
        let restocked = try decode(BookJSON.self, restock)
        check(restocked.item == 4 && restocked.stock == 7, "admin restock: \(restock.stdout)")
        expectedStock[4]! += 2

        // (d) The client checks the address it dialled against the frontend's certificate.
        let alias = try await pygmy(
            ["status", "--json", "--timeout", "5"],
            frontend: "\(Self.frontendAlias):\(Self.port)"
        )
        check(
            alias.status == 6,
            "frontend dialled at an address not in its certificate: exit \(alias.status): \(alias.output)"
        )
        if let error = try? decode(ErrorJSON.self, alias) {
            check(
                error.error.message.contains("IP address mismatch"),
                "address mismatch: message \(error.error.message)"
            )
        } else {
            check(false, "address mismatch printed no JSON error: \(alias.output)")
        }
        for (what, result) in [
            ("no certificate (plaintext)", plain), ("certificate from another CA", rogue),
            ("client certificate, restock", denied), ("frontend at an address not in its certificate", alias),
        ] {
            let message = (try? decode(ErrorJSON.self, result)).map { "\($0.error.code): \($0.error.message)" } ?? "-"
            log("refused \(what): exit \(result.status), \(message)")
        }
        log("admin restock: item 4 now has \(restocked.stock)")
    }

    /// Waits (briefly: the server logs before it closes the connection) for a line in a node's log.
    func expectLog(
        of name: String,
        containing text: String,
        _ what: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let node = nodes.first { $0.name == name }!
        let deadline = ContinuousClock.now + .seconds(3)
        while ContinuousClock.now < deadline {
            if node.log.contains(text) { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        check(false, "\(what): \(name)'s log lacks \"\(text)\"", sourceLocation: sourceLocation)
    }

    /// Unplugs catalog-1's host: its process is alive for all anyone knows, so buys stop until a
    /// majority of the replicas (catalog-2, order-1, order-2) agrees on a membership without it; then
    /// they go on, held at catalog-2 only. Reads go on from catalog-2. Once the cable is back, catalog-1
    /// is re-admitted in a later epoch, copies what it missed, and both replicas agree.
    func keepSellingWhileACatalogHostIsCutOff() async throws {
        try await network.setLink(of: "c1", up: false)
        log("catalog-1's link is down")
        let excluded = try await waitForCluster(within: .seconds(20), "a membership without catalog-1") { status in
            status.node("order-1")?.membership.map { !$0.catalogs.contains("catalog-1") } ?? false
        }
        log("catalog-1 left out: \(excluded.node("order-1")?.membership.map { "epoch \($0.epoch)" } ?? "?")")
        let buys = 4
        for index in 1...buys {
            let begin = ContinuousClock.now
            let buy = try await pygmy(["buy", "3", "--request-id", "multihost-cut-\(index)", "--json"])
            check(buy.status == 0, "buy \(index) with catalog-1 cut off and left out failed: \(buy.output)")
            if buy.status == 0 {
                let order = try decode(OrderJSON.self, buy)
                check(order.item == 3 && order.quantity == 1 && order.cost == 75, "buy \(index): \(buy.stdout)")
                expectedStock[3]! -= 1
            }
            log("buy \(index) of \(buys) with catalog-1 cut off: exit \(buy.status) in \(ContinuousClock.now - begin)")
        }
        let cutOff = try await waitForCluster(within: .seconds(10), "catalog-1 to be reported unreachable") {
            $0.unreachable == ["catalog-1"]
        }
        let survivor = cutOff.node("catalog-2")?.stock?.first { $0.item == 3 }?.onHand
        check(
            survivor == expectedStock[3],
            "catalog-2 has \(survivor.map(String.init) ?? "-") of item 3, not \(expectedStock[3]!)"
        )
        let lookup = try await pygmy(["lookup", "3", "--json"])
        check(lookup.status == 0, "lookup with catalog-1 cut off failed: \(lookup.output)")
        if lookup.status == 0 {
            let book = try decode(BookJSON.self, lookup)
            check(book.stock == expectedStock[3], "lookup with catalog-1 cut off says stock \(book.stock)")
        }

        try await network.setLink(of: "c1", up: true)
        log("catalog-1's link is up again")
        let expected = expectedStock.keys.sorted().map {
            StatusJSON.Stock(item: $0, onHand: expectedStock[$0]!, held: 0)
        }
        let healed = try await waitForCluster(within: .seconds(30), "catalog-1 to be re-admitted and resync") {
            status in
            status.unreachable.isEmpty && status.nodes.allSatisfy { $0.state == "ready" && $0.peersDown.isEmpty }
                && status.node("catalog-1")?.stock == expected && status.node("catalog-2")?.stock == expected
                && status.node("catalog-1")?.membership?.catalogs.count == 2
        }
        check(healed.node("catalog-1")?.stock == healed.node("catalog-2")?.stock, "replicas differ after resync")
        log(
            "catalog-1 resynced: both replicas hold \(expected.map { "\($0.item):\($0.onHand)" }.joined(separator: " "))"
        )
        check(
            healed.node("catalog-1")?.membership?.catalogs == ["catalog-1", "catalog-2"],
            "catalog-1 was not re-admitted: \(String(describing: healed.node("catalog-1")?.membership))"
        )
    }

    /// Every buy is in the order log, exactly once.
    func checkOrderLog() async throws {
        let orders = try await pygmy(["orders", "--json"], as: credentials("admin"))
        check(orders.status == 0, "orders failed: \(orders.output)")
        let log = try decode(OrdersJSON.self, orders)
        let ids = log.orders.map(\.requestId).sorted()
        let expected = (["multihost-first"] + (1...4).map { "multihost-cut-\($0)" }).sorted()
        check(ids == expected, "order log request ids: \(ids), expected \(expected)")
        check(Set(log.orders.map(\.order)).count == log.orders.count, "order numbers repeat: \(orders.stdout)")
        check(
            log.orders.allSatisfy { ["order-1", "order-2"].contains($0.coordinator) && $0.quantity == 1 },
            "order log entries: \(orders.stdout)"
        )
        self.log("the order log has each of the \(expected.count) buys once")
    }

    // MARK: Tear-down

    /// Stops every node, deletes the namespaces (with the bridge and veth pairs) and the temporary
    /// directory; prints the node logs first when anything failed.
    func tearDown() async {
        await MultiHostNode.stopAll(nodes, label: "multihost", printLogs: failed, network: network)
        if failed && !nodes.isEmpty {
            print("===== topology.json =====")
            print((try? String(contentsOfFile: "\(directory)/topology.json", encoding: .utf8)) ?? "(none)")
        }
        let left = await network.destroy()
        if !left.isEmpty { Issue.record("namespaces left behind: \(left)") }
        try? FileManager.default.removeItem(atPath: directory)
        log("torn down: processes stopped, namespaces, bridge and \(directory) removed")
    }
}
