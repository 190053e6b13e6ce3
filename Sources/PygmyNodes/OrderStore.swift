import Foundation
import GRDB
import PygmyBookstore

/// An order replica's durable log in SQLite.
final class OrderStore: Sendable {
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

    init(directory: String, durability: Durability) throws {
        (database, lock) = try durability.open(directory: directory, file: "orders.sqlite")
        try database.write { db in
            try db.execute(
                sql: """
                    CREATE TABLE IF NOT EXISTS orders(request_id TEXT PRIMARY KEY, order_no INTEGER NOT NULL UNIQUE,
                        item INTEGER NOT NULL, quantity INTEGER NOT NULL, unit_cost INTEGER NOT NULL,
                        time_micros INTEGER NOT NULL, coordinator TEXT NOT NULL, delivered INTEGER NOT NULL);
                    CREATE TABLE IF NOT EXISTS rejection(request_id TEXT PRIMARY KEY, code INTEGER NOT NULL,
                        message TEXT NOT NULL);
                    CREATE TABLE IF NOT EXISTS pending(request_id TEXT PRIMARY KEY, item INTEGER NOT NULL,
                        quantity INTEGER NOT NULL);
                    """
            )
        }
        try MembershipStore.migrate(database)
        try Self.migrateSequence(database)
    }

    /// Gives every order the replica's append sequence (`seq`: the order in which this replica learnt
    /// its orders, which order pages follow) and indexes it, also by item.
    static func migrateSequence(_ database: DatabaseQueue) throws {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("orders-sequence") { db in
            try db.execute(
                sql: """
                    ALTER TABLE orders ADD COLUMN seq INTEGER;
                    UPDATE orders SET seq = rowid;
                    CREATE UNIQUE INDEX orders_by_seq ON orders(seq);
                    CREATE INDEX orders_by_item ON orders(item, seq);
                    """
            )
        }
        migrator.registerMigration("fold-floor") { db in
            try db.execute(
                sql: "CREATE TABLE fold_floor(id INTEGER PRIMARY KEY CHECK (id = 1), micros INTEGER NOT NULL)"
            )
        }
        migrator.registerMigration("log-counters") { db in
            try db.execute(
                sql: """
                    CREATE TABLE log_counters(id INTEGER PRIMARY KEY CHECK (id = 1), digest INTEGER NOT NULL,
                        count INTEGER NOT NULL, sequence INTEGER NOT NULL, latest_time INTEGER NOT NULL,
                        digest_mark INTEGER NOT NULL, digest_below_mark INTEGER NOT NULL);
                    CREATE INDEX orders_by_time ON orders(time_micros);
                    CREATE INDEX orders_undelivered ON orders(delivered) WHERE delivered = 0;
                    """
            )
        }
        migrator.registerMigration("refusal-time") { db in
            try db.execute(
                sql: """
                    ALTER TABLE rejection ADD COLUMN time_micros INTEGER;
                    CREATE INDEX rejection_by_time ON rejection(time_micros);
                    ALTER TABLE log_counters ADD COLUMN refusals_below_mark INTEGER NOT NULL DEFAULT 0;
                    DELETE FROM log_counters;
                    """
            )
        }
        // The counters describe only what lies before the digest mark, written when that changes, not
        // with every order; orders before the mark count as delivered, so no index on undelivered.
        migrator.registerMigration("counters-below-mark") { db in
            try db.execute(
                sql: """
                    DROP TABLE log_counters;
                    CREATE TABLE log_counters(id INTEGER PRIMARY KEY CHECK (id = 1), digest_mark INTEGER NOT NULL,
                        digest_below_mark INTEGER NOT NULL, orders_below_mark INTEGER NOT NULL,
                        count_below_mark INTEGER NOT NULL, refusals_below_mark INTEGER NOT NULL,
                        sequence INTEGER NOT NULL, latest_time INTEGER NOT NULL);
                    DROP INDEX orders_undelivered;
                    """
            )
        }
        try migrator.migrate(database)
    }

    /// Up to `request.limit` orders after the cursor's sequence (validated by the caller), and the cursor of
    /// the next page when there is one.
    func page(_ request: OrderPageRequest, replica: String) throws -> OrderPage {
        let after = request.cursor.flatMap(OrderPaging.parse)?.sequence ?? 0
        return try database.read { db in
            let rows =
                if let item = request.item {
                    try Row.fetchAll(
                        db,
                        sql: "SELECT * FROM orders WHERE item = ? AND seq > ? ORDER BY seq LIMIT ?",
                        arguments: [item, after, request.limit + 1]
                    )
                } else {
                    try Row.fetchAll(
                        db,
                        sql: "SELECT * FROM orders WHERE seq > ? ORDER BY seq LIMIT ?",
                        arguments: [after, request.limit + 1]
                    )
                }
            let page = rows.prefix(request.limit)
            let next: String? =
                rows.count > request.limit
                ? OrderPaging.cursor(replica: replica, sequence: page.last!["seq"]) : nil
            return OrderPage(orders: page.map(Self.record), next: next)
        }
    }

    static func record(_ row: Row) -> OrderRecord {
        OrderRecord(
            order: row["order_no"],
            requestId: row["request_id"],
            item: row["item"],
            quantity: row["quantity"],
            unitCost: row["unit_cost"],
            timeMicros: row["time_micros"],
            coordinator: row["coordinator"]
        )
    }

    /// The log as the replica restarts with it: the counters last stored, the orders and refusals at or
    /// after their digest mark (`OrderLogState.loads`: bounded however long the history), and every
    /// pending buy; a store written before these counters were kept is replayed whole.
    func load(replicaIndex: Int, replicaCount: Int) throws -> OrderLogState {
        try database.read { db in
            let floor = try Int64.fetchOne(db, sql: "SELECT micros FROM fold_floor WHERE id = 1") ?? 0
            let pending = try Row.fetchAll(db, sql: "SELECT * FROM pending").map {
                PendingBuy(requestId: $0["request_id"], item: $0["item"], quantity: $0["quantity"])
            }
            guard let counters = try Self.counters(db) else {
                let rejections = try Row.fetchAll(db, sql: "SELECT * FROM rejection").map(Self.rejection)
                return try Self.replay(db, replicaIndex, replicaCount, rejections, pending, floor)
            }
            // Refusals without a time (older stores) are never folded (`OrderLogState.loads`).
            let rejections = try Row.fetchAll(
                db,
                sql: "SELECT * FROM rejection WHERE time_micros IS NULL OR time_micros >= ?",
                arguments: [counters.digestMark]
            ).map(Self.rejection)
            let rows = try Row.fetchAll(
                db,
                sql: "SELECT * FROM orders WHERE time_micros >= ?",
                arguments: [counters.digestMark]
            )
            return OrderLogState.restored(
                replicaIndex: replicaIndex,
                replicaCount: replicaCount,
                counters: counters,
                orders: rows.map(Self.record),
                undelivered: Set(rows.filter { ($0["delivered"] as Int) == 0 }.map { $0["request_id"] }),
                rejections: rejections,
                pending: pending,
                promisedFloor: floor
            )
        }
    }

    /// The whole log, replayed (a store written before counters were kept).
    private static func replay(
        _ db: Database,
        _ replicaIndex: Int,
        _ replicaCount: Int,
        _ rejections: [Rejection],
        _ pending: [PendingBuy],
        _ floor: Int64
    ) throws -> OrderLogState {
        var state = OrderLogState(replicaIndex: replicaIndex, replicaCount: replicaCount)
        for row in try Row.fetchAll(db, sql: "SELECT * FROM orders ORDER BY order_no") {
            let record = Self.record(row)
            state.apply(.order(record))
            if (row["delivered"] as Int) == 1 { state.apply(.delivered(requestId: record.requestId)) }
        }
        state.apply(rejections.map(OrderMutation.reject))
        state.apply(.promiseFloor(floor))
        state.apply(pending.map(OrderMutation.begin))
        return state
    }

    private static func counters(_ db: Database) throws -> OrderLogState.Counters? {
        try Row.fetchOne(db, sql: "SELECT * FROM log_counters WHERE id = 1").map { row in
            OrderLogState.Counters(
                digestMark: row["digest_mark"],
                digestBelowMark: UInt64(bitPattern: row["digest_below_mark"]),
                ordersBelowMark: UInt64(bitPattern: row["orders_below_mark"]),
                countBelowMark: row["count_below_mark"],
                refusalsBelowMark: UInt64(bitPattern: row["refusals_below_mark"]),
                sequence: row["sequence"],
                latestTime: row["latest_time"]
            )
        }
    }

    static func rejection(_ row: Row) -> Rejection {
        let code = BookstoreError.Code(rawValue: UInt16(row["code"] as Int)) ?? .outOfStock
        return Rejection(
            requestId: row["request_id"],
            code: code,
            message: row["message"],
            timeMicros: row["time_micros"]
        )
    }

    /// The outcome this log holds for `requestId`: an order, a refusal, or nil.
    func outcome(of requestId: String) throws -> BuyOutcome? {
        // Two lookups, not one transaction: an order outranks a refusal of the same id, and both are
        // written only by this node's shell, which waits for this answer.
        if let row = try database.lookUp("SELECT * FROM orders WHERE request_id = ?", [requestId]) {
            return .ordered(Self.record(row))
        }
        return try database.lookUp("SELECT * FROM rejection WHERE request_id = ?", [requestId])
            .map { .rejected(Self.rejection($0)) }
    }

    /// The orders numbered above `after`, oldest number first, and (with `after` 0) every refusal: the
    /// whole-log answer of `order.list` without `since`, read from the store.
    func snapshot(after: Int) throws -> OrderLogSnapshot {
        try database.read { db in
            OrderLogSnapshot(
                orders: try Row.fetchAll(
                    db,
                    sql: "SELECT * FROM orders WHERE order_no > ? ORDER BY order_no",
                    arguments: [after]
                ).map(Self.record),
                rejections: after == 0
                    ? try Row.fetchAll(db, sql: "SELECT * FROM rejection ORDER BY request_id").map(Self.rejection) : []
            )
        }
    }

    func persist(_ mutations: [OrderMutation]) throws {
        guard !mutations.isEmpty else { return }
        try database.writeTransaction { db in
            for mutation in mutations {
                switch mutation {
                case .begin(let p):
                    try db.executeCached(
                        "INSERT OR IGNORE INTO pending VALUES (?, ?, ?)",
                        [p.requestId, p.item, p.quantity]
                    )
                case .forget(let requestId):
                    try db.executeCached("DELETE FROM pending WHERE request_id = ?", [requestId])
                case .order(let o):
                    try db.executeCached("DELETE FROM pending WHERE request_id = ?", [o.requestId])
                    try db.executeCached("DELETE FROM rejection WHERE request_id = ?", [o.requestId])
                    try db.executeCached(
                        """
                        INSERT OR IGNORE INTO orders(request_id, order_no, item, quantity, unit_cost, time_micros,
                            coordinator, delivered, seq)
                        VALUES (?, ?, ?, ?, ?, ?, ?, 0, (SELECT IFNULL(MAX(seq), 0) + 1 FROM orders))
                        """,
                        [o.requestId, o.order, o.item, o.quantity, o.unitCost, o.timeMicros, o.coordinator]
                    )
                case .reject(let r):
                    try db.executeCached("DELETE FROM pending WHERE request_id = ?", [r.requestId])
                    try db.executeCached(
                        """
                        INSERT INTO rejection(request_id, code, message, time_micros)
                        SELECT ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM orders WHERE request_id = ?)
                        ON CONFLICT(request_id) DO UPDATE SET code = excluded.code, message = excluded.message,
                            time_micros = excluded.time_micros
                        WHERE (IFNULL(excluded.time_micros, 0), excluded.code, excluded.message)
                            < (IFNULL(rejection.time_micros, 0), rejection.code, rejection.message)
                        """,
                        [r.requestId, Int(r.code.rawValue), r.message, r.timeMicros, r.requestId]
                    )
                case .delivered(let requestId):
                    try db.executeCached("UPDATE orders SET delivered = 1 WHERE request_id = ?", [requestId])
                case .counters(let c):
                    try db.executeCached(
                        """
                        INSERT OR REPLACE INTO log_counters(id, digest_mark, digest_below_mark, orders_below_mark,
                            count_below_mark, refusals_below_mark, sequence, latest_time)
                        VALUES (1, ?, ?, ?, ?, ?, ?, ?)
                        """,
                        [
                            c.digestMark, Int64(bitPattern: c.digestBelowMark), Int64(bitPattern: c.ordersBelowMark),
                            c.countBelowMark, Int64(bitPattern: c.refusalsBelowMark), c.sequence, c.latestTime,
                        ]
                    )
                case .promiseFloor(let micros):
                    try db.executeCached(
                        "INSERT INTO fold_floor(id, micros) VALUES (1, ?) ON CONFLICT(id) DO UPDATE SET micros = excluded.micros",
                        [micros]
                    )
                }
            }
        }
    }
}
