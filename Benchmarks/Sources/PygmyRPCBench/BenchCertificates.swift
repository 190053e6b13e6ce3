import Foundation
import PygmyRPC
import PygmyTLS

/// Throwaway certificates for the TLS peer, made at run time by `certs/make-certs.sh`. The parent
/// process makes them and passes the directory to the server subprocess in `PYGMY_BENCH_CERTS`.
enum BenchCertificates {
    static let variable = "PYGMY_BENCH_CERTS"

    /// The certificate directory, made on first use.
    static func directory() throws -> String {
        if let existing = ProcessInfo.processInfo.environment[variable] { return existing }
        let dir = NSTemporaryDirectory() + "pygmy-bench-certs-\(getpid())"
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("certs/make-certs.sh").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [script, "-o", dir, "server:order:127.0.0.1,localhost"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw BadCertificates(script: script) }
        setenv(variable, dir, 1)
        return dir
    }

    static func security(for name: String) throws -> any RPCTransportSecurity {
        try OpenSSLTransportSecurity(configuration: .node(named: name, in: try directory()))
    }

    struct BadCertificates: Error, CustomStringConvertible {
        var script: String
        var description: String { "\(script) failed to make benchmark certificates" }
    }
}
