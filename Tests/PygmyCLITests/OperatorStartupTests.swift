import Foundation
import Testing

extension LiveProcessTests.OperatorTests {
    /// A one-catalog topology (plus a frontend and an order replica that are never started) in `dir`,
    /// with catalog-1 on `port` and its data in `dataDir`.
    func catalogTopology(
        _ dir: String,
        port: Int,
        dataDir: String,
        file: String = "topology.json"
    ) async throws
        -> String
    {
        let path = (dir as NSString).appendingPathComponent(file)
        let base = PygmyProcess.freeBasePort()
        let made = try await PygmyProcess.run([
            "topology", "init", "--out", path, "--frontend", "127.0.0.1:\(base)", "--catalog", "127.0.0.1:\(port)",
            "--order", "127.0.0.1:\(base + 1)",
        ])
        #expect(made.status == 0, "\(made.stdout) \(made.stderr)")
        let text = try String(contentsOfFile: path, encoding: .utf8)
        try text.replacingOccurrences(of: "\"dataDir\" : \"catalog-1\"", with: "\"dataDir\" : \"\(dataDir)\"")
            .write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// A node whose port another process holds names the address and the next step, without the socket
    /// call's text.
    @Test func aNodeOnABusyPortNamesTheAddress() async throws {
        let dir = PygmyProcess.temporaryDirectory("pygmy-ops-busy")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try await FakeServer.with(replies: []) { server in
            let config = try await catalogTopology(dir, port: server.port, dataDir: dir + "/data")
            let result = try await PygmyProcess.run(["node", "catalog", "--config", config, "--name", "catalog-1"])
            #expect(result.status == 1, "\(result.stderr)")
            #expect(
                result.stderr.contains(
                    "cannot listen on 127.0.0.1:\(server.port): address already in use; "
                        + "another process holds it"
                ),
                "\(result.stderr)"
            )
            #expect(!result.stderr.contains("errno") && !result.stderr.contains("bind("), "\(result.stderr)")
        }
    }

    /// A second node pointed at a data directory in use fails at once, naming the directory and the
    /// holder's pid, instead of SQLite's "database is locked" after its busy timeout.
    @Test func aSecondNodeOnTheSameDataDirectoryIsRefused() async throws {
        let dir = PygmyProcess.temporaryDirectory("pygmy-ops-datadir")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = dir + "/data"
        let first = try await catalogTopology(dir, port: PygmyProcess.freeBasePort(), dataDir: data)
        let second = try await catalogTopology(
            dir,
            port: PygmyProcess.freeBasePort(),
            dataDir: data,
            file: "second.json"
        )
        let process = Process()
        process.executableURL = URL(fileURLWithPath: PygmyProcess.executable)
        process.arguments = ["node", "catalog", "--config", first, "--name", "catalog-1"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        try await withCleanup {
            let lock = data + "/LOCK"
            for _ in 0..<100 where (try? String(contentsOfFile: lock, encoding: .utf8))?.isEmpty != false {
                try await Task.sleep(for: .milliseconds(50))
            }
            let result = try await PygmyProcess.run(["node", "catalog", "--config", second, "--name", "catalog-1"])
            #expect(result.status == 1, "\(result.stderr)")
            #expect(
                result.stderr.contains(
                    "data directory \(data) is in use by another node (pid \(process.processIdentifier))"
                ),
                "\(result.stderr)"
            )
            #expect(!result.stderr.contains("SQLite") && !result.stderr.contains("locked"), "\(result.stderr)")
            #expect(process.isRunning)
        } cleanup: {
            process.terminate()
            _ = await process.exited()
        }
    }

    /// A file that cannot be written or read is named, with the reason, without Foundation's error text.
    @Test func aMissingFileIsNamedWithoutLibraryText() async throws {
        let path = "/nonexistent-\(UUID().uuidString.prefix(8))/topology.json"
        let result = try await PygmyProcess.run(["topology", "init", "--out", path, "--json"])
        let (code, message) = try failure(result, exit: 1)
        #expect(code == "fileError", "\(message)")
        #expect(message.contains(path) && message.contains("no such file"), "\(message)")
        #expect(!message.contains("Domain") && !message.contains("Code="), "\(message)")
    }
}
