import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A node's Prometheus endpoint: plain HTTP/1.1 on a port of its own (`metricsPort`), serving
/// `GET /metrics` and a 404 for every other path. Not part of the RPC protocol, and without TLS: it binds
/// loopback unless `metricsHost` says otherwise.
final class MetricsServer: Sendable {
    private let host: String
    private let port: Int
    private let group: any EventLoopGroup
    private let render: @Sendable () async -> String
    private let channel = Mutex<(any Channel)?>(nil)

    /// - Parameters:
    ///   - group: where the endpoint's connections run (the node's loop).
    ///   - render: makes the body of one scrape (the metrics in the Prometheus text format).
    init(host: String, port: Int, group: any EventLoopGroup, render: @escaping @Sendable () async -> String) {
        self.host = host
        self.port = port
        self.group = group
        self.render = render
    }

    /// The bound address once `start` has returned.
    var localAddress: SocketAddress? { channel.withLock { $0?.localAddress } }

    /// Binds and starts serving; returns the bound address (port 0 picks a free port).
    @discardableResult
    func start() async throws -> SocketAddress {
        let render = self.render
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 16)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.configureHTTPServerPipeline(withErrorHandling: true)
                    try sync.addHandler(IdleStateHandler(allTimeout: .seconds(60)))
                    try sync.addHandler(MetricsHTTPHandler(render: render))
                }
            }
        let bound = try await bootstrap.bind(host: host, port: port).get()
        channel.withLock { $0 = bound }
        return bound.localAddress!
    }

    /// Stops accepting and closes the listening socket (scrapes in progress finish on their own).
    func stop() async {
        let bound = channel.withLock { channel in
            defer { channel = nil }
            return channel
        }
        try? await bound?.close()
    }
}

/// Answers one HTTP connection's requests: `GET` (or `HEAD`) `/metrics` with the rendered metrics, anything
/// else with 404 or 405 and a line saying what is served here.
final class MetricsHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let render: @Sendable () async -> String
    private var head: HTTPRequestHead?

    init(render: @escaping @Sendable () async -> String) { self.render = render }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break
        case .end:
            guard let head else { return }
            self.head = nil
            answer(head, context)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    private func answer(_ head: HTTPRequestHead, _ context: ChannelHandlerContext) {
        let path = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        guard path == "/metrics" else {
            return respond(.notFound, "not found: this port serves only GET /metrics\n", head, context)
        }
        guard head.method == .GET || head.method == .HEAD else {
            return respond(.methodNotAllowed, "method not allowed: use GET /metrics\n", head, context)
        }
        let promise = context.eventLoop.makePromise(of: String.self)
        promise.completeWithTask(render)
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        promise.futureResult.whenSuccess { body in
            let (handler, context) = bound.value
            handler.respond(.ok, body, head, context, type: "text/plain; version=0.0.4; charset=utf-8")
        }
    }

    private func respond(
        _ status: HTTPResponseStatus,
        _ body: String,
        _ request: HTTPRequestHead,
        _ context: ChannelHandlerContext,
        type: String = "text/plain; charset=utf-8"
    ) {
        guard context.channel.isActive else { return }
        let keepAlive = request.isKeepAlive
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: type)
        headers.add(name: "Content-Length", value: "\(body.utf8.count)")
        headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        if status == .methodNotAllowed { headers.add(name: "Allow", value: "GET, HEAD") }
        let responseHead = HTTPResponseHead(version: request.version, status: status, headers: headers)
        context.write(wrapOutboundOut(.head(responseHead)), promise: nil)
        if request.method != .HEAD {
            context.write(
                wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))),
                promise: nil
            )
        }
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            done.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
