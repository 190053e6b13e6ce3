import Foundation
import Histogram
import Logging
import PygmyRPC
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The loopback floors `pygmy bench` states its targets against: a 32-byte echo over a bare TCP socket,
/// and the same over Pygmy RPC. The servers run in a child process (`pygmy bench --serve-echo`), as the
/// frontend does, so each round trip crosses processes just like a bookstore request.
public enum BenchEcho {
    enum Method: RPCMethod {
        typealias Request = Data
        typealias Response = Data
        static let name = "bench.echo"
    }

    static let payloadSize = 32

    // MARK: The server process

    /// Serves both echoes, prints `PORTS <raw> <rpc>` and returns when stdin closes.
    public static func serve() async throws {
        let (listener, rawPort) = try RawSocket.listen()
        let acceptThread = Thread { RawSocket.acceptLoop(listener) }
        acceptThread.start()
        var router = RPCRouter()
        router.register(Method.self) { request, _ in request }
        var logger = Logger(label: "pygmy.bench.echo")
        logger.logLevel = .warning
        let server = RPCServer(
            configuration: .defaults {
                $0.host = "127.0.0.1"
                $0.port = 0
            },
            router: router,
            logger: logger
        )
        let address = try await server.start()
        FileHandle.standardOutput.write(Data("PORTS \(rawPort) \(address.port ?? 0)\n".utf8))
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            let waiter = Thread {
                _ = FileHandle.standardInput.readDataToEndOfFile()
                done.resume()
            }
            waiter.start()
        }
        await server.shutdown()
    }

    /// The echo server as a child process.
    final class ServerProcess {
        let process: Process
        let rawPort: Int
        let rpcPort: Int
        private let stdin: Pipe

        init() throws {
            process = Process()
            process.executableURL = URL(fileURLWithPath: LocalCluster.executable())
            process.arguments = ["bench", "--serve-echo"]
            let stdout = Pipe()
            stdin = Pipe()
            process.standardOutput = stdout
            process.standardInput = stdin
            process.standardError = FileHandle.nullDevice
            try process.run()
            BenchCleanup.track(pid: process.processIdentifier)
            var text = ""
            while !text.contains("\n") {
                let chunk = stdout.fileHandleForReading.availableData
                guard !chunk.isEmpty else { throw BenchError("the echo server exited before reporting its ports") }
                text += String(decoding: chunk, as: UTF8.self)
            }
            let parts = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
            guard parts.count >= 3, parts[0] == "PORTS", let raw = Int(parts[1]), let rpc = Int(parts[2]) else {
                throw BenchError("unexpected echo server output: \(text)")
            }
            rawPort = raw
            rpcPort = rpc
        }

        func stop() {
            BenchCleanup.untrack(pid: process.processIdentifier)
            try? stdin.fileHandleForWriting.close()
            let deadline = Date().addingTimeInterval(5)
            while process.isRunning && Date() < deadline { usleep(10_000) }
            if process.isRunning { process.terminate() }
        }
    }

    // MARK: Measurements

    /// Round trips of 32 bytes over a blocking socket, one at a time, on a thread of its own.
    static func rawLatency(port: Int, calls: Int, warmup: Int) async throws -> Histogram<UInt64> {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                do {
                    let fd = try RawSocket.connect(port: port)
                    defer { close(fd) }
                    var histogram = Histogram<UInt64>.micros()
                    var buffer = [UInt8](repeating: 0x2A, count: payloadSize)
                    for n in 0..<(warmup + calls) {
                        let start = ContinuousClock.now
                        try RawSocket.writeAll(fd, buffer)
                        try RawSocket.readExactly(fd, &buffer)
                        if n >= warmup { histogram.record(ContinuousClock.now - start) }
                    }
                    continuation.resume(returning: histogram)
                } catch {
                    continuation.resume(throwing: error)
                }
            }
            thread.start()
        }
    }

    static func rpcClient(port: Int) -> RPCClient {
        var configuration = RPCClient.Configuration()
        configuration.defaultTimeout = .seconds(10)
        return RPCClient(host: "127.0.0.1", port: port, configuration: configuration)
    }

    /// Sequential Pygmy RPC echo calls.
    static func rpcLatency(port: Int, calls: Int, warmup: Int) async throws -> Histogram<UInt64> {
        let client = rpcClient(port: port)
        try await client.connect()
        let payload = Data(repeating: 0x2A, count: payloadSize)
        // On the connection's own thread, as a latency-minded caller would run (see `RPCClient.executor`).
        let histogram = try await withTaskExecutorPreference(client.executor) {
            var histogram = Histogram<UInt64>.micros()
            for n in 0..<(warmup + calls) {
                let start = ContinuousClock.now
                let reply = try await client.call(Method.self, payload)
                guard reply.count == payloadSize else { throw BenchError("echo returned \(reply.count) bytes") }
                if n >= warmup { histogram.record(ContinuousClock.now - start) }
            }
            return histogram
        }
        await client.close()
        return histogram
    }

    /// Pygmy RPC echo calls per second from `clients` closed-loop clients, one connection each.
    static func rpcThroughput(port: Int, clients: Int, seconds: Double) async throws -> Double {
        var connections: [RPCClient] = []
        for _ in 0..<clients {
            let client = rpcClient(port: port)
            try await client.connect()
            connections.append(client)
        }
        let payload = Data(repeating: 0x2A, count: payloadSize)
        let start = ContinuousClock.now
        let deadline = start + .milliseconds(Int64(seconds * 1000))
        let total = try await withThrowingTaskGroup(of: Int.self) { group in
            for client in connections {
                group.addTask(executorPreference: client.executor) {
                    var count = 0
                    while ContinuousClock.now < deadline {
                        _ = try await client.call(Method.self, payload)
                        count += 1
                    }
                    return count
                }
            }
            return try await group.reduce(0, +)
        }
        let elapsed = ContinuousClock.now - start
        for client in connections { await client.close() }
        return Double(total) / elapsed.seconds
    }
}

/// Just enough of the BSD socket API for a loopback echo.
enum RawSocket {
    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ what: String) { description = "\(what): \(String(cString: strerror(errno)))" }
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port)).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    private static func tcpSocket() throws -> Int32 {
        #if canImport(Glibc)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw Failure("socket") }
        return fd
    }

    private static func noDelay(_ fd: Int32) {
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    /// A listening socket on 127.0.0.1 and a free port.
    static func listen() throws -> (Int32, Int) {
        let fd = try tcpSocket()
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else { throw Failure("bind") }
        #if canImport(Glibc)
        guard Glibc.listen(fd, 64) == 0 else { throw Failure("listen") }
        #else
        guard Darwin.listen(fd, 64) == 0 else { throw Failure("listen") }
        #endif
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return (fd, Int(UInt16(bigEndian: actual.sin_port)))
    }

    /// The first of five consecutive free ports at or after `from`, in steps of five.
    static func freeBase(from: Int) throws -> Int {
        var base = from
        while !(0..<5).allSatisfy({ isFree(port: base + $0) }) {
            base += 5
            guard base < 65_000 else { throw BenchError("no five consecutive free ports from \(from) on") }
        }
        return base
    }

    /// Whether 127.0.0.1:`port` can be bound now (another process may still take it a moment later; the
    /// start-up check then reports the node that could not bind). As the nodes' servers do, a port in
    /// TIME_WAIT after a stopped cluster counts as free (SO_REUSEADDR).
    static func isFree(port: Int) -> Bool {
        guard let fd = try? tcpSocket() else { return false }
        defer { close(fd) }
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = loopback(port: port)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        } == 0
    }

    /// Accepts forever; each connection gets a thread that writes back what it reads.
    static func acceptLoop(_ listener: Int32) {
        while true {
            let fd = accept(listener, nil, nil)
            guard fd >= 0 else {
                if errno == EINTR { continue }
                return
            }
            noDelay(fd)
            let thread = Thread {
                var buffer = [UInt8](repeating: 0, count: 4096)
                while true {
                    let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                    guard n > 0 else { break }
                    guard (try? writeAll(fd, Array(buffer[0..<n]))) != nil else { break }
                }
                close(fd)
            }
            thread.start()
        }
    }

    static func connect(port: Int) throws -> Int32 {
        let fd = try tcpSocket()
        var address = loopback(port: port)
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                #if canImport(Glibc)
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                #else
                Darwin.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                #endif
            }
        }
        guard status == 0 else {
            close(fd)
            throw Failure("connect")
        }
        noDelay(fd)
        return fd
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw Failure("write") }
            offset += n
        }
    }

    static func readExactly(_ fd: Int32, _ buffer: inout [UInt8]) throws {
        var offset = 0
        let count = buffer.count
        while offset < count {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + offset, count - offset) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw Failure("read") }
            offset += n
        }
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
