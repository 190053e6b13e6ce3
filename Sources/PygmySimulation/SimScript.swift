/// A fault scheduled at a fixed time, for named scenarios (the shapes a real-process test would make)
/// instead of faults drawn from the seed.
public struct SimStep: Sendable {
    public enum Action: Sendable {
        case crash(String)
        case restart(String)
        case hang(String)
        case resume(String)
        /// Cuts these links, each in both directions.
        case cut([(String, String)])
        /// Cuts the link from the first node to the second only.
        case cutOneWay(String, String)
        /// Cuts every link of the node.
        case isolate(String)
        /// Heals every cut link.
        case healAll
        case reset(String, String)
    }

    /// When, in simulated microseconds from the start.
    public var at: Int64
    public var action: Action

    public init(at: Int64, _ action: Action) {
        self.at = at
        self.action = action
    }
}

extension SimCluster {
    /// Schedules `script`'s steps.
    func run(_ script: [SimStep]) {
        for step in script {
            world.at(step.at) { [unowned self] in perform(step.action) }
        }
    }

    private func perform(_ action: SimStep.Action) {
        let names = servers.map(\.name)
        switch action {
        case .crash(let name): world.host(name).crash()
        case .restart(let name): world.host(name).restart()
        case .hang(let name): world.host(name).hang()
        case .resume(let name): world.host(name).resume()
        case .cut(let pairs):
            world.log("SCRIPT cut \(pairs.map { "\($0.0)⇄\($0.1)" }.joined(separator: " "))")
            for (a, b) in pairs {
                world.block(a, b)
                world.block(b, a)
            }
        case .cutOneWay(let from, let to):
            world.log("SCRIPT cut \(from)→\(to)")
            world.block(from, to)
        case .isolate(let name):
            world.log("SCRIPT isolate \(name)")
            for other in names where other != name {
                world.block(name, other)
                world.block(other, name)
            }
        case .healAll:
            world.log("SCRIPT heal")
            for link in world.blocked { world.unblock(link.from, link.to) }
        case .reset(let a, let b):
            world.reset(a, b, "connection reset by peer")
            world.reset(b, a, "connection reset by peer")
        }
    }
}
