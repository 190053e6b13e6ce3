import Foundation
import Synchronization

/// An exclusive `flock` on `LOCK` in a replica's data directory, taken before SQLite opens its file and
/// held until the store closes (or the process dies: the kernel then drops it). A second node pointed
/// at the same directory fails at once with the holder's pid, instead of waiting for SQLite's busy
/// timeout and failing with "database is locked".
final class DataDirectoryLock: Sendable {
    /// The name of the lock file in the data directory.
    static let fileName = "LOCK"

    private let descriptor: Mutex<Int32>

    /// Takes the lock. A holder that is closing (a node restarted in the same process) gets a second to
    /// let go; after that the directory is in use.
    ///
    /// - Throws: `TopologyError` naming the directory and the holder's pid, or why the file cannot be opened.
    init(directory: String) throws {
        let path = (directory as NSString).appendingPathComponent(Self.fileName)
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw TopologyError(
                "cannot open lock file \(path) (\(String(cString: strerror(errno)).lowercased())); "
                    + "check the data directory's permissions or change dataDir in the topology"
            )
        }
        var attempts = 0
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let error = errno
            attempts += 1
            guard error == EWOULDBLOCK || error == EINTR, attempts < 20 else {
                let holder = Self.holder(fd)
                close(fd)
                throw TopologyError(
                    "data directory \(directory) is in use by another node"
                        + (holder.map { " (pid \($0))" } ?? "")
                        + "; stop that node first, or give this one its own dataDir in the topology"
                )
            }
            usleep(50_000)
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        descriptor = Mutex(fd)
    }

    /// The pid the holder wrote into the lock file, if any.
    private static func holder(_ fd: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return nil }
        return Int32(String(decoding: buffer[..<count], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Releases the lock (idempotent).
    func release() {
        let fd = descriptor.withLock { fd -> Int32 in
            defer { fd = -1 }
            return fd
        }
        if fd >= 0 { close(fd) }
    }

    deinit { release() }
}
