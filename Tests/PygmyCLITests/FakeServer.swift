import Foundation
import Synchronization

/// A TCP server on 127.0.0.1 (port 0, so the kernel picks a free one) that is not a Pygmy node: on every
/// connection it answers each of the client's first reads with the next of `replies` (none: it stays silent),
/// and keeps the connection open. Its threads are its own, never the
/// cooperative pool's.
final class FakeServer: Sendable {
    let port: Int
    private let listener: Int32
    private let connections = Mutex<[Int32]>([])

    init(replies: [[UInt8]]) throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.listener = listener
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(listener, 16) == 0 else {
            close(listener)
            throw CocoaError(.fileWriteUnknown)
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        let listening = listener
        port = Int(UInt16(bigEndian: addr.sin_port))
        Thread { [self] in
            while true {
                let fd = accept(listening, nil, nil)
                guard fd >= 0 else { return }
                connections.withLock { $0.append(fd) }
                Thread {
                    var buffer = [UInt8](repeating: 0, count: 4096)
                    for reply in replies {
                        guard read(fd, &buffer, buffer.count) > 0 else { return }
                        _ = reply.withUnsafeBytes { write(fd, $0.baseAddress, reply.count) }
                    }
                }
                .start()
            }
        }
        .start()
    }

    /// Closes the listener and every connection.
    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        for fd in connections.withLock({ $0 }) {
            shutdown(fd, Int32(SHUT_RDWR))
            close(fd)
        }
    }

    /// Runs `body` with a fake server, stopping it afterwards.
    static func with<T>(replies: [[UInt8]], _ body: (FakeServer) async throws -> T) async throws -> T {
        let server = try FakeServer(replies: replies)
        return try await withCleanup({ try await body(server) }, cleanup: { server.stop() })
    }
}
