import Foundation
import GRDB
import PygmyBookstore

/// A catalog replica's durable state in SQLite. Every batch of mutations is one transaction, so a crash
/// leaves either all of a decision on disk or none of it.
final class CatalogStore: Sendable {
    private let database: DatabaseQueue
    /// Keeps a second node out of the data directory while this store is open.
    private let lock: DataDirectoryLock

    /// Closes the database: its exclusive lock is released, and every later use throws. A node that stops
    /// (or a test's simulated crash) closes its store so that its next start can open the file at once.
    /// The replica's membership vote (epoch 1 with `catalogs` if none was stored).
    func loadMembership(catalogs: [String]) throws -> MembershipAcceptor {
        try MembershipStore.load(database, catalogs: catalogs)
    }

    /// Makes the replica's membership vote durable.
    func persistMembership(_ acceptor: MembershipAcceptor) throws {
        try MembershipStore.persist(database, acceptor)
    }

    func close() {
        try? database.close()
        lock.release()
    }

    /// Opens (creating if needed) the database in `directory`.
    init(directory: String, durability: Durability) throws {
        (database, lock) = try durability.open(directory: directory, file: "catalog.sqlite")
        try database.write { db in
            try db.execute(
                sql: """
                    CREATE TABLE IF NOT EXISTS seed(item INTEGER PRIMARY KEY, title TEXT NOT NULL,
                        topic TEXT NOT NULL, stock INTEGER NOT NULL, cost INTEGER NOT NULL);
                    CREATE TABLE IF NOT EXISTS price(item INTEGER PRIMARY KEY, cost INTEGER NOT NULL,
                        version INTEGER NOT NULL, op_id TEXT NOT NULL);
                    CREATE TABLE IF NOT EXISTS hold(request_id TEXT PRIMARY KEY, item INTEGER NOT NULL,
                        quantity INTEGER NOT NULL, coordinator TEXT NOT NULL, created_micros INTEGER NOT NULL);
                    CREATE TABLE IF NOT EXISTS committed(request_id TEXT PRIMARY KEY, item INTEGER NOT NULL,
                        quantity INTEGER NOT NULL);
                    CREATE TABLE IF NOT EXISTS restock(op_id TEXT PRIMARY KEY, item INTEGER NOT NULL,
                        count INTEGER NOT NULL);
                    CREATE TABLE IF NOT EXISTS rejected(request_id TEXT PRIMARY KEY);
                    """
            )
        }
        try MembershipStore.migrate(database)
        try Self.migrateFold(database)
    }

    /// Commits keep their decision time, and folded commits live on as per-item counts (`FoldState`).
    static func migrateFold(_ database: DatabaseQueue) throws {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("fold") { db in
            try db.execute(
                sql: """
                    ALTER TABLE committed ADD COLUMN time_micros INTEGER;
                    CREATE INDEX committed_by_time ON committed(time_micros);
                    CREATE TABLE folded_sold(item INTEGER PRIMARY KEY, sold INTEGER NOT NULL);
                    CREATE TABLE fold_state(id INTEGER PRIMARY KEY CHECK (id = 1), before INTEGER NOT NULL,
                        digest INTEGER NOT NULL);
                    DELETE FROM rejected WHERE request_id IN (SELECT request_id FROM committed);
                    """
            )
        }
        migrator.registerMigration("restock-fold") { db in
            try db.execute(
                sql: """
                    ALTER TABLE restock ADD COLUMN time_micros INTEGER;
                    ALTER TABLE restock ADD COLUMN folded INTEGER NOT NULL DEFAULT 0;
                    CREATE INDEX restock_unfolded ON restock(folded) WHERE folded = 0;
                    CREATE TABLE folded_restocked(item INTEGER PRIMARY KEY, count INTEGER NOT NULL);
                    ALTER TABLE fold_state ADD COLUMN restock_digest INTEGER NOT NULL DEFAULT 0;
                    """
            )
            try foldUnstampedRestocks(db)
        }
        migrator.registerMigration("hold-attempt") { db in
            try db.execute(sql: "ALTER TABLE hold ADD COLUMN attempt INTEGER")
        }
        // Refusals with their coordinator's stamp, folded (deleted) below a horizon; older rows have none
        // and are never folded.
        migrator.registerMigration("refusal-fold") { db in
            try db.execute(
                sql: """
                    ALTER TABLE rejected ADD COLUMN time_micros INTEGER;
                    CREATE INDEX rejected_by_time ON rejected(time_micros);
                    """
            )
        }
        try migrator.migrate(database)
    }

    /// Restocks stored before they had a time count as time 0: in a store that has folded already, they
    /// are below its horizon, so they are folded into counts now (as every replica does with its own).
    static func foldUnstampedRestocks(_ db: Database) throws {
        guard let before = try Int64.fetchOne(db, sql: "SELECT before FROM fold_state WHERE id = 1"), before > 0 else {
            return
        }
        var digest: UInt64 = 0
        for row in try Row.fetchAll(db, sql: "SELECT * FROM restock WHERE time_micros IS NULL") {
            digest ^= Restock(opId: row["op_id"], item: row["item"], count: row["count"]).digestHash
        }
        try db.execute(
            sql: """
                INSERT INTO folded_restocked(item, count)
                    SELECT item, SUM(count) FROM restock WHERE time_micros IS NULL GROUP BY item;
                UPDATE restock SET folded = 1, time_micros = 0 WHERE time_micros IS NULL;
                UPDATE fold_state SET restock_digest = ?;
                """,
            arguments: [Int64(bitPattern: digest)]
        )
    }

    /// The restock with op id `opId`, folded or not: a retry of a folded one must apply nothing.
    func recalled(_ opId: String) throws -> Restock? {
        try database.lookUp("SELECT * FROM restock WHERE op_id = ?", [opId]).map(Self.restock)
    }

    static func restock(_ row: Row) -> Restock {
        Restock(opId: row["op_id"], item: row["item"], count: row["count"], timeMicros: row["time_micros"])
    }

    /// Rebuilds the in-memory state from disk.
    func load() throws -> CatalogState {
        try database.read { db in
            var state = CatalogState()
            for row in try Row.fetchAll(db, sql: "SELECT * FROM seed ORDER BY item") {
                state.apply(
                    .addBook(
                        CatalogSeed(
                            item: row["item"],
                            title: row["title"],
                            topic: row["topic"],
                            stock: row["stock"],
                            cost: row["cost"]
                        )
                    )
                )
            }
            if let row = try Row.fetchOne(db, sql: "SELECT * FROM fold_state WHERE id = 1") {
                var sold: [ItemID: Int] = [:]
                for item in try Row.fetchAll(db, sql: "SELECT item, sold FROM folded_sold") {
                    sold[item["item"]] = item["sold"]
                }
                var restocked: [ItemID: Int] = [:]
                for item in try Row.fetchAll(db, sql: "SELECT item, count FROM folded_restocked") {
                    restocked[item["item"]] = item["count"]
                }
                state.restore(
                    FoldState(
                        before: row["before"],
                        sold: sold,
                        digest: UInt64(bitPattern: row["digest"] as Int64),
                        restocked: restocked,
                        restockDigest: UInt64(bitPattern: row["restock_digest"] as Int64)
                    )
                )
            }
            for row in try Row.fetchAll(db, sql: "SELECT * FROM restock WHERE folded = 0") {
                state.apply(.restock(Self.restock(row)))
            }
            for row in try Row.fetchAll(db, sql: "SELECT * FROM committed") {
                state.apply(
                    .commit(
                        CommittedBuy(
                            requestId: row["request_id"],
                            item: row["item"],
                            quantity: row["quantity"],
                            timeMicros: row["time_micros"]
                        )
                    )
                )
            }
            for row in try Row.fetchAll(db, sql: "SELECT request_id, time_micros FROM rejected") {
                state.apply(.reject(requestId: row["request_id"], timeMicros: row["time_micros"]))
            }
            for row in try Row.fetchAll(db, sql: "SELECT * FROM hold") {
                state.apply(
                    .hold(
                        Hold(
                            requestId: row["request_id"],
                            item: row["item"],
                            quantity: row["quantity"],
                            coordinator: row["coordinator"],
                            createdMicros: row["created_micros"],
                            attempt: row["attempt"]
                        )
                    )
                )
            }
            for row in try Row.fetchAll(db, sql: "SELECT * FROM price") {
                state.apply(
                    .setPrice(
                        PriceSetting(item: row["item"], cost: row["cost"], version: row["version"], opId: row["op_id"])
                    )
                )
            }
            return state
        }
    }

    /// Writes `mutations` in one transaction.
    func persist(_ mutations: [CatalogMutation]) throws {
        guard !mutations.isEmpty else { return }
        try database.writeTransaction { db in
            for mutation in mutations {
                switch mutation {
                case .addBook(let s):
                    try db.executeCached(
                        "INSERT OR IGNORE INTO seed(item, title, topic, stock, cost) VALUES (?, ?, ?, ?, ?)",
                        [s.item, s.title, s.topic, s.stock, s.cost]
                    )
                case .hold(let h):
                    try db.executeCached(
                        """
                        INSERT OR IGNORE INTO hold(request_id, item, quantity, coordinator, created_micros, attempt)
                        VALUES (?, ?, ?, ?, ?, ?)
                        """,
                        [h.requestId, h.item, h.quantity, h.coordinator, h.createdMicros, h.attempt]
                    )
                case .releaseHold(let requestId):
                    try db.executeCached("DELETE FROM hold WHERE request_id = ?", [requestId])
                case .commit(let c):
                    try db.executeCached("DELETE FROM hold WHERE request_id = ?", [c.requestId])
                    try db.executeCached("DELETE FROM rejected WHERE request_id = ?", [c.requestId])
                    try db.executeCached(
                        "INSERT OR IGNORE INTO committed(request_id, item, quantity, time_micros) VALUES (?, ?, ?, ?)",
                        [c.requestId, c.item, c.quantity, c.timeMicros]
                    )
                case .restock(let r):
                    // As in memory: a replica that stamped it later takes the earlier time.
                    try db.executeCached(
                        """
                        INSERT INTO restock(op_id, item, count, time_micros) VALUES (?, ?, ?, ?)
                        ON CONFLICT(op_id) DO UPDATE SET item = excluded.item, count = excluded.count,
                            time_micros = excluded.time_micros
                        WHERE restock.folded = 0 AND (IFNULL(excluded.time_micros, 0), excluded.item, excluded.count)
                            < (IFNULL(restock.time_micros, 0), restock.item, restock.count)
                        """,
                        [r.opId, r.item, r.count, r.timeMicros]
                    )
                case .setPrice(let p):
                    try db.executeCached(
                        "INSERT OR REPLACE INTO price VALUES (?, ?, ?, ?)",
                        [p.item, p.cost, p.version, p.opId]
                    )
                case .reject(let requestId, let time):
                    try db.executeCached("DELETE FROM hold WHERE request_id = ?", [requestId])
                    // As in memory: of two stamps the later stays, and none (never folded) outlasts any.
                    try db.executeCached(
                        """
                        INSERT INTO rejected(request_id, time_micros) SELECT ?, ?
                            WHERE NOT EXISTS (SELECT 1 FROM committed WHERE request_id = ?)
                        ON CONFLICT(request_id) DO UPDATE SET time_micros = excluded.time_micros
                        WHERE rejected.time_micros IS NOT NULL
                            AND (excluded.time_micros IS NULL OR excluded.time_micros > rejected.time_micros)
                        """,
                        [requestId, time, requestId]
                    )
                case .fold(let before, let digest, let restocks):
                    try Self.fold(db, before: before, digest: digest, restocks: restocks)
                }
            }
        }
    }
}

extension CatalogStore {
    /// Moves the commits decided before `before` into `folded_sold`, adds the restocks stamped before it
    /// to `folded_restocked` and drops the refusals stamped before it, as `CatalogState` does in memory.
    /// Restocks keep their rows (marked folded), so a retry of one is still known.
    static func fold(_ db: Database, before: Int64, digest: UInt64, restocks: UInt64) throws {
        try db.executeCached(
            """
            INSERT INTO folded_restocked(item, count)
                SELECT item, SUM(count) FROM restock WHERE folded = 0 AND IFNULL(time_micros, 0) < ? GROUP BY item
            ON CONFLICT(item) DO UPDATE SET count = count + excluded.count
            """,
            [before]
        )
        try db.executeCached(
            "UPDATE restock SET folded = 1 WHERE folded = 0 AND IFNULL(time_micros, 0) < ?",
            [before]
        )
        try db.executeCached(
            """
            INSERT INTO folded_sold(item, sold)
                SELECT item, SUM(quantity) FROM committed WHERE time_micros < ? GROUP BY item
            ON CONFLICT(item) DO UPDATE SET sold = sold + excluded.sold
            """,
            [before]
        )
        try db.executeCached("DELETE FROM committed WHERE time_micros < ?", [before])
        try db.executeCached("DELETE FROM rejected WHERE time_micros < ?", [before])
        try db.executeCached(
            """
            INSERT INTO fold_state(id, before, digest, restock_digest) VALUES (1, ?, ?, ?)
            ON CONFLICT(id) DO UPDATE SET before = excluded.before, digest = excluded.digest,
                restock_digest = excluded.restock_digest
            """,
            [before, Int64(bitPattern: digest), Int64(bitPattern: restocks)]
        )
    }
}

extension Database {
    /// Runs one statement from the connection's statement cache: it is compiled once, on first use,
    /// instead of on every transaction.
    func executeCached(_ sql: String, _ arguments: StatementArguments = StatementArguments()) throws {
        try cachedStatement(sql: sql).execute(arguments: arguments)
    }
}

extension DatabaseQueue {
    /// The first row of one query from the statement cache, outside any transaction: for a lookup on
    /// the hot path (a buy's request id, a restock's op id). `read` would also compile and run a
    /// savepoint and two `query_only` pragmas each time, several times the cost of the query itself.
    /// One statement needs no transaction to be consistent, and this node's writes go through the same
    /// serial queue.
    func lookUp(_ sql: String, _ arguments: StatementArguments) throws -> Row? {
        try inDatabase { db in try Row.fetchOne(db.cachedStatement(sql: sql), arguments: arguments) }
    }

    /// One write transaction, like `write`, but with its BEGIN and COMMIT statements taken from the
    /// statement cache too (`write` compiles both anew on every transaction). Rolls back if `updates`
    /// or the commit throws.
    func writeTransaction(_ updates: (Database) throws -> Void) throws {
        try writeWithoutTransaction { db in
            try db.executeCached("BEGIN IMMEDIATE TRANSACTION")
            do {
                try updates(db)
                try db.executeCached("COMMIT TRANSACTION")
            } catch {
                try? db.rollback()
                throw error
            }
        }
    }
}

/// How hard SQLite works to keep committed transactions.
public enum Durability: String, Sendable, Codable {
    /// Survives a crash of the process (the fault model of the tests): WAL, synchronous=NORMAL.
    case process
    /// Also survives power loss: WAL, synchronous=FULL (an fsync per transaction).
    case power

    /// Opens (creating if needed) `directory/file` with these settings, after taking the directory's
    /// lock (`DataDirectoryLock`), which the caller holds while the database is open.
    func open(directory: String, file: String) throws -> (DatabaseQueue, DataDirectoryLock) {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), !isDirectory.boolValue {
            throw TopologyError(
                "data directory \(directory) is a file, not a directory; move it away or change dataDir in the topology"
            )
        }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw TopologyError(
                "cannot create data directory \(directory) (\((error as NSError).localizedDescription)); "
                    + "check its parent's permissions or change dataDir in the topology"
            )
        }
        let lock = try DataDirectoryLock(directory: directory)
        let database = try DatabaseQueue(
            path: (directory as NSString).appendingPathComponent(file),
            configuration: configuration()
        )
        return (database, lock)
    }

    private func configuration() -> Configuration {
        var configuration = Configuration()
        // Another connection may hold the file briefly: a restarted node opening it while the
        // previous incarnation's last connection checkpoints the WAL on close. Wait instead of
        // failing the start with SQLITE_BUSY ("database is locked").
        configuration.busyMode = .timeout(10)
        let synchronous = self == .power ? "FULL" : "NORMAL"
        configuration.prepareDatabase { db in
            // One process owns a replica's file: exclusive locking takes the lock once instead of with
            // fcntl calls around every transaction (8% of an order replica's CPU under load), and keeps a
            // second process that was pointed at the same directory out.
            try db.execute(sql: "PRAGMA locking_mode = EXCLUSIVE")
            try db.execute(sql: "PRAGMA journal_mode = WAL")
            try db.execute(sql: "PRAGMA synchronous = \(synchronous)")
            // The WAL is checkpointed every 1,000 pages (SQLite's default). The checkpoint runs inside a
            // commit, on the node's loop: 10,000 pages saved a few fdatasyncs but took buys' p99 at 10
            // clients from 12 ms to 33 ms, and 3,000 to 19 ms, for no throughput measurable.
        }
        return configuration
    }
}
