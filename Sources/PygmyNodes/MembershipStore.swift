import Foundation
import GRDB
import PygmyBookstore
import PygmyWire

/// A replica's membership vote (`MembershipAcceptor`) in its SQLite file: one row, in Pygmy's binary
/// encoding. The table is made by a GRDB migration.
enum MembershipStore {
    static func migrate(_ database: DatabaseQueue) throws {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("membership") { db in
            try db.execute(
                sql: "CREATE TABLE membership(id INTEGER PRIMARY KEY CHECK (id = 1), value BLOB NOT NULL)"
            )
        }
        try migrator.migrate(database)
    }

    /// The stored vote, or a first one at epoch 1 with every catalog replica of the topology.
    static func load(_ database: DatabaseQueue, catalogs: [String]) throws -> MembershipAcceptor {
        let initial = MembershipAcceptor(current: Membership(epoch: 1, catalogs: catalogs))
        return try database.read { db in
            guard let bytes = try Data.fetchOne(db, sql: "SELECT value FROM membership WHERE id = 1") else {
                return initial
            }
            return try BinaryDecoder().decode(MembershipAcceptor.self, from: bytes)
        }
    }

    static func persist(_ database: DatabaseQueue, _ acceptor: MembershipAcceptor) throws {
        let bytes = try BinaryEncoder().encode(acceptor)
        try database.write { db in
            try db.execute(
                sql:
                    "INSERT INTO membership(id, value) VALUES (1, ?) ON CONFLICT(id) DO UPDATE SET value = excluded.value",
                arguments: [Data(bytes)]
            )
        }
    }
}
