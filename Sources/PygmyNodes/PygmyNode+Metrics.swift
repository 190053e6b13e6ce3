import Logging
import NIOCore
import PygmyRPC

extension PygmyNode {
    /// The node's metrics endpoint, if its topology entry has a `metricsPort`: each scrape reads what the
    /// node's core and server know now (`NodeMetricsSample`) into `metrics`, then renders it.
    static func metricsServer(
        _ spec: NodeSpec,
        _ metrics: NodeMetrics?,
        _ role: Role,
        _ server: RPCServer,
        _ loop: any EventLoop
    ) -> MetricsServer? {
        guard let metrics, let (host, port) = spec.metricsAddress else { return nil }
        return MetricsServer(host: host, port: port, group: loop) {
            var sample: NodeMetricsSample
            switch role {
            case .frontend(let node): sample = await node.metricsSample()
            case .catalog(let node): sample = await node.metricsSample()
            case .order(let node): sample = await node.metricsSample()
            }
            sample.openConnections = server.connectionCount
            sample.callsInFlight = server.callsInFlight
            return metrics.render(sample)
        }
    }

    /// Starts the metrics endpoint on the node's loop; returns its URL for the start-up log line, or "off".
    /// A port that cannot be bound stops the node's RPC server again and throws.
    func startMetrics() async throws -> String {
        guard let metricsServer else { return "off" }
        let address: SocketAddress
        do {
            address = try await metricsServer.start()
        } catch {
            await server.shutdown(gracePeriod: .zero)
            let (host, port) = spec.metricsAddress ?? ("?", 0)
            throw TopologyError("node \(spec.name): cannot serve metrics on \(host):\(port): \(error)")
        }
        let host = address.ipAddress ?? "?"
        return "http://\(host.contains(":") ? "[\(host)]" : host):\(address.port ?? 0)/metrics"
    }

    /// The port the metrics endpoint is bound to (nil: no endpoint, or not started).
    public var metricsPort: Int? { metricsServer?.localAddress?.port }
}
