/// An item number in the catalog.
public typealias ItemID = Int

/// A book as a client sees it: what lookup returns.
public struct Book: Codable, Sendable, Hashable {
    public var item: ItemID
    public var title: String
    public var topic: String
    /// Copies that can be bought now (on hand minus copies held by buys in progress).
    public var stock: Int
    /// Price of one copy, in whole currency units.
    public var cost: Int

    public init(item: ItemID, title: String, topic: String, stock: Int, cost: Int) {
        self.item = item
        self.title = title
        self.topic = topic
        self.stock = stock
        self.cost = cost
    }
}

/// One search hit: an item and its title.
public struct BookSummary: Codable, Sendable, Hashable {
    public var item: ItemID
    public var title: String

    public init(item: ItemID, title: String) {
        self.item = item
        self.title = title
    }
}

/// A book as the catalog's seed data describes it.
public struct CatalogSeed: Codable, Sendable, Hashable {
    public var item: ItemID
    public var title: String
    public var topic: String
    public var stock: Int
    public var cost: Int

    public init(item: ItemID, title: String, topic: String, stock: Int, cost: Int) {
        self.item = item
        self.title = title
        self.topic = topic
        self.stock = stock
        self.cost = cost
    }

    /// The four books of the original store.
    public static let original: [CatalogSeed] = [
        CatalogSeed(
            item: 1,
            title: "How to get a good grade in 677 in 20 minutes a day",
            topic: "distributed systems",
            stock: 10,
            cost: 30
        ),
        CatalogSeed(item: 2, title: "RPCs for Dummies", topic: "distributed systems", stock: 4, cost: 40),
        CatalogSeed(
            item: 3,
            title: "Xen and the Art of Surviving Graduate School",
            topic: "graduate school",
            stock: 10,
            cost: 75
        ),
        CatalogSeed(
            item: 4,
            title: "Cooking for the Impatient Graduate Student",
            topic: "graduate school",
            stock: 5,
            cost: 150
        ),
    ]
}

/// A committed purchase: one line of the replicated order log.
public struct OrderRecord: Codable, Sendable, Hashable {
    /// Unique across the cluster: each order replica numbers its own orders in its own residue class.
    public var order: Int
    /// The client's request id; at most one order exists per request id.
    public var requestId: String
    public var item: ItemID
    public var quantity: Int
    /// Price of one copy when bought.
    public var unitCost: Int
    /// Microseconds since 1970-01-01T00:00:00Z.
    public var timeMicros: Int64
    /// The order replica that coordinated the buy.
    public var coordinator: String

    public init(
        order: Int,
        requestId: String,
        item: ItemID,
        quantity: Int,
        unitCost: Int,
        timeMicros: Int64,
        coordinator: String
    ) {
        self.order = order
        self.requestId = requestId
        self.item = item
        self.quantity = quantity
        self.unitCost = unitCost
        self.timeMicros = timeMicros
        self.coordinator = coordinator
    }

    /// What the buyer paid (saturating: a corrupt record cannot make this trap).
    public var total: Int {
        let (product, overflow) = unitCost.multipliedReportingOverflow(by: quantity)
        return overflow ? .max : product
    }
}
