import ArgumentParser

/// The three servers compared. Each echoes a 32-byte payload back unchanged.
enum PeerKind: String, CaseIterable, Codable, Sendable, ExpressibleByArgument {
    /// Pygmy RPC: `RPCServer`/`RPCClient`, request and response are `Data`.
    case pygmy
    /// grpc-swift-2 over the HTTP/2 NIO plaintext transport, raw-bytes serializers.
    case grpc
    /// A bare SwiftNIO echo: u32 length prefix + bytes, no RPC layer. The floor.
    case nio
    /// Pygmy RPC inside mutual TLS (OpenSSL), once the connection is up.
    case pygmyTLS = "pygmy-tls"

    var label: String {
        switch self {
        case .pygmy: "Pygmy RPC"
        case .grpc: "gRPC (grpc-swift-2, HTTP/2)"
        case .nio: "bare SwiftNIO echo"
        case .pygmyTLS: "Pygmy RPC over mutual TLS"
        }
    }
}

/// The payload every peer echoes.
let echoPayloadSize = 32

/// One connection to an echo server; `echo()` makes one unary call with the 32-byte payload.
protocol EchoClient: Sendable {
    func echo() async throws
}

/// Thrown when a reply is not the payload that was sent.
struct BadEcho: Error, CustomStringConvertible {
    var bytes: Int
    var description: String { "echo came back with \(bytes) bytes, expected \(echoPayloadSize)" }
}

/// Starts the server for `kind` on 127.0.0.1:`port`, reports the bound port, and serves forever.
func serveEcho(kind: PeerKind, port: Int, bound: @Sendable (Int) -> Void) async throws {
    switch kind {
    case .pygmy: try await PygmyEcho.serve(port: port, tls: false, bound: bound)
    case .pygmyTLS: try await PygmyEcho.serve(port: port, tls: true, bound: bound)
    case .grpc: try await GRPCEcho.serve(port: port, bound: bound)
    case .nio: try await NIOEcho.serve(port: port, bound: bound)
    }
}

/// Connects a client of `kind` to 127.0.0.1:`port`, runs `body`, then closes it.
func withEchoClient<R: Sendable>(
    kind: PeerKind,
    port: Int,
    _ body: (any EchoClient) async throws -> R
) async throws -> R {
    switch kind {
    case .pygmy: try await PygmyEcho.withClient(port: port, tls: false, body)
    case .pygmyTLS: try await PygmyEcho.withClient(port: port, tls: true, body)
    case .grpc: try await GRPCEcho.withClient(port: port, body)
    case .nio: try await NIOEcho.withClient(port: port, body)
    }
}

/// Waits until the task is cancelled (servers run until the process exits).
func sleepForever() async {
    while !Task.isCancelled {
        try? await Task.sleep(for: .seconds(3600))
    }
}
