import Foundation
import NIOCore
import PygmyTLS
import Synchronization

/// Certificates made once per test run by `certs/make-certs.sh` into a fresh temporary directory
/// (deleted when the test process exits). Nothing is read from or written to the repository.
struct TestCertificates: Sendable {
    /// The directory holding `ca.crt`, `<name>.crt` and `<name>.key`.
    let directory: String

    /// The node and client certificates the tests use (client and admin are added by the script).
    static let specs = [
        "server:frontend:127.0.0.1,localhost",
        "catalog-1:catalog:127.0.0.1",
        "ops:admin+client:",
        "wronghost:catalog:10.9.8.7,elsewhere.example",
        "--expired", "expired:client:",
        "--expired", "expired-server:frontend:127.0.0.1",
        "--untrusted", "rogue:client:",
        "--untrusted", "rogue-server:frontend:127.0.0.1",
    ]

    private static let generated: Result<TestCertificates, any Error> = Result { try generate() }

    /// The shared certificates, generated on first use.
    static func shared() throws -> TestCertificates { try generated.get() }

    private static func generate() throws -> TestCertificates {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("pygmy-tls-tests-\(UUID().uuidString)").path
        let script = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("certs/make-certs.sh").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [script, "--out", directory] + specs
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let log = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            try? FileManager.default.removeItem(atPath: directory)
            throw CertificateGenerationFailed(log: String(decoding: log, as: UTF8.self))
        }
        CleanUp.directory.withLock { $0 = directory }
        atexit { CleanUp.removeDirectory() }
        return TestCertificates(directory: directory)
    }

    /// `<directory>/<file>`.
    func path(_ file: String) -> String { "\(directory)/\(file)" }

    /// A configuration presenting certificate `name` (none if `nil`) and trusting `ca`.
    func configuration(
        _ name: String?,
        ca: String = "ca",
        requireClientCertificate: Bool = true,
        minimumVersion: TLSConfiguration.ProtocolVersion = .tls12,
        handshakeTimeout: TimeAmount = .seconds(10)
    ) -> TLSConfiguration {
        TLSConfiguration(
            certificateChainFile: name.map { path("\($0).crt") },
            privateKeyFile: name.map { path("\($0).key") },
            trustedCAFile: path("\(ca).crt"),
            minimumVersion: minimumVersion,
            handshakeTimeout: handshakeTimeout,
            requireClientCertificate: requireClientCertificate
        )
    }

    /// A loaded context for ``configuration(_:ca:requireClientCertificate:minimumVersion:handshakeTimeout:)``.
    func context(
        _ name: String?,
        requireClientCertificate: Bool = true,
        minimumVersion: TLSConfiguration.ProtocolVersion = .tls12,
        handshakeTimeout: TimeAmount = .seconds(10)
    ) throws -> TLSContext {
        try TLSContext(
            configuration: configuration(
                name,
                requireClientCertificate: requireClientCertificate,
                minimumVersion: minimumVersion,
                handshakeTimeout: handshakeTimeout
            )
        )
    }
}

/// `make-certs.sh` failed; `log` is its output.
struct CertificateGenerationFailed: Error, CustomStringConvertible {
    var log: String
    var description: String { "make-certs.sh failed:\n\(log)" }
}

/// Removes the generated keys when the test process exits.
private enum CleanUp {
    static let directory = Mutex<String?>(nil)

    static func removeDirectory() {
        if let path = directory.withLock({ $0 }) { try? FileManager.default.removeItem(atPath: path) }
    }
}
