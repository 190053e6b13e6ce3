import Foundation
import NIOCore
import NIOPosix

/// Per-link silent drops on a `MultiHostNetwork`, with nftables inside each host's namespace: every host
/// gets a table `inet pygmy` with a set `blocked` of peer addresses, and two rules that drop every packet
/// from (input) or to (output) an address in the set. A cut between two hosts puts each one's address in
/// the other's set; healing empties the sets. Nothing is added outside the namespaces.
final class PartitionNetwork {
    let network: MultiHostNetwork
    /// The cuts in force, each an unordered pair of host ids (`"c1|o2"`, smaller id first).
    private(set) var cuts: Set<String> = []
    /// What each host's `blocked` set holds now.
    private var blocked: [String: Set<String>] = [:]

    init(network: MultiHostNetwork) { self.network = network }

    /// nftables' `nft`, or nil.
    static let nftExecutable: String? = ["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    /// Why the partition test cannot run here, or nil when it can: root, `ip netns` and `nft`.
    static let unavailableReason: String? = {
        if let reason = MultiHostNetwork.unavailableReason { return reason }
        guard nftExecutable != nil else { return "nftables' `nft` is not installed (.ci/run installs it)" }
        return nil
    }()

    static func pair(_ a: String, _ b: String) -> String { a < b ? "\(a)|\(b)" : "\(b)|\(a)" }

    /// Runs `nft script` inside host `id`'s namespace; throws with its output when it fails.
    func nft(on id: String, _ script: String) async throws {
        let command = network.onHost(id, [Self.nftExecutable ?? "/usr/sbin/nft", script])
        let result = try await MultiHostCommand.run(command.executable, command.arguments, timeout: .seconds(10))
        guard result.status == 0 else {
            throw MultiHostCommand.LaunchError(
                description: "nft on \(id) failed (\(result.status)): \(script): \(result.output)"
            )
        }
    }

    /// The table, the set and the two dropping rules on host `id` (the set starts empty: nothing dropped).
    func installFirewall(on id: String) async throws {
        try await nft(
            on: id,
            "add table inet pygmy; add set inet pygmy blocked { type ipv4_addr; }; "
                + "add chain inet pygmy in { type filter hook input priority 0; policy accept; }; "
                + "add chain inet pygmy out { type filter hook output priority 0; policy accept; }; "
                + "add rule inet pygmy in ip saddr @blocked drop; add rule inet pygmy out ip daddr @blocked drop"
        )
        blocked[id] = []
    }

    /// Makes `pairs` (host id pairs) exactly the cuts in force: each host whose set changes gets its new set
    /// in one nft transaction.
    func setCuts(_ pairs: [(String, String)]) async throws {
        var wanted: [String: Set<String>] = [:]
        for id in blocked.keys { wanted[id] = [] }
        for (a, b) in pairs {
            guard let hostA = network.hosts[a], let hostB = network.hosts[b] else { continue }
            wanted[a, default: []].insert(hostB.address)
            wanted[b, default: []].insert(hostA.address)
        }
        for (id, addresses) in wanted.sorted(by: { $0.key < $1.key }) where blocked[id] != addresses {
            var script = "flush set inet pygmy blocked"
            if !addresses.isEmpty {
                script += "; add element inet pygmy blocked { \(addresses.sorted().joined(separator: ", ")) }"
            }
            try await nft(on: id, script)
            blocked[id] = addresses
        }
        cuts = Set(pairs.map { Self.pair($0.0, $0.1) })
    }

    func healAll() async throws { try await setCuts([]) }
}

/// An event loop group whose threads live in a network namespace: sockets are created on the loop's
/// threads, so connections made on it leave from that namespace. Linux threads inherit the namespace of
/// the thread that creates them, so the group is created on a thread of its own that first joins the
/// namespace (`setns`), and that thread then exits; the test process itself stays where it was.
enum NamespacedEventLoopGroup {
    struct Failure: Error, CustomStringConvertible { var description: String }

    static func make(namespace: String, threads: Int = 1) async throws -> MultiThreadedEventLoopGroup {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                do {
                    try joinNetworkNamespace(namespace)
                    continuation.resume(returning: MultiThreadedEventLoopGroup(numberOfThreads: threads))
                } catch {
                    continuation.resume(throwing: error)
                }
            }.start()
        }
    }

    /// `setns(open("/var/run/netns/NAME"), CLONE_NEWNET)` for the calling thread only.
    private static func joinNetworkNamespace(_ namespace: String) throws {
        #if os(Linux)
        typealias SetNS = @convention(c) (Int32, Int32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "setns") else {
            throw Failure(description: "setns is not available")
        }
        let setns = unsafeBitCast(symbol, to: SetNS.self)
        let fd = open("/var/run/netns/\(namespace)", O_RDONLY)
        guard fd >= 0 else { throw Failure(description: "cannot open namespace \(namespace): errno \(errno)") }
        defer { close(fd) }
        let cloneNewNet: Int32 = 0x4000_0000
        guard setns(fd, cloneNewNet) == 0 else {
            throw Failure(description: "setns into \(namespace) failed: errno \(errno)")
        }
        #else
        throw Failure(description: "network namespaces are Linux only")
        #endif
    }
}
