import NIOCore
import NIOPosix
import Testing

@testable import PygmyNodes

/// The one-loop-per-node design (docs/DESIGN.md, "Threads"): a node's actor and its tasks run on the
/// node's event loop.
@Suite struct NodeExecutorTests {
    actor OnLoop {
        let executor: NodeExecutor
        nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }
        init(_ executor: NodeExecutor) { self.executor = executor }
        func onItsLoop() -> Bool { executor.eventLoop.inEventLoop }
    }

    @Test func anActorOnANodeExecutorRunsOnTheLoop() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let loop = group.next()
        let other = group.next()
        #expect(loop !== other)
        let executor = NodeExecutor(loop)
        let actor = OnLoop(executor)
        for _ in 0..<10 { #expect(await actor.onItsLoop()) }
        try await group.shutdownGracefully()
    }

    @Test func tasksPreferringItAndTheirChildrenRunOnTheLoop() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let executor = NodeExecutor(loop)
        let onLoop = await Task(executorPreference: executor) { () async -> [Bool] in
            var seen = [loop.inEventLoop]
            await withTaskGroup(of: Bool.self) { children in
                for _ in 0..<4 { children.addTask(executorPreference: executor) { loop.inEventLoop } }
                for await child in children { seen.append(child) }
            }
            try? await Task.sleep(for: .milliseconds(1))
            seen.append(loop.inEventLoop)
            return seen
        }.value
        #expect(onLoop == Array(repeating: true, count: 6))
        try await group.shutdownGracefully()
    }

    /// A real node: its catalog actor runs on the loop its server and peer clients use.
    @Test func aCatalogReplicaRunsOnItsNodesLoop() async throws {
        try await TestCluster.with { (cluster: TestCluster) async throws -> Void in
            let catalog = cluster.catalog("catalog-1")
            #expect(await catalog.runsOnItsLoop())
            let order = cluster.order("order-1")
            #expect(await order.runsOnItsLoop())
        }
    }
}
