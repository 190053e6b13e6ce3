import Foundation

/// Types that exercise every shape the coder supports.
struct AllPrimitives: Codable, Equatable {
    var bool: Bool
    var int: Int
    var int8: Int8
    var int16: Int16
    var int32: Int32
    var int64: Int64
    var uint: UInt
    var uint8: UInt8
    var uint16: UInt16
    var uint32: UInt32
    var uint64: UInt64
    var float: Float
    var double: Double
    var string: String
}

struct Book: Codable, Equatable {
    var item: Int
    var title: String
    var topic: String
    var stock: Int
    var cost: Int
}

struct Containers: Codable, Equatable {
    var optionalPresent: String?
    var optionalAbsent: Int?
    var list: [Int]
    var listOfOptionals: [String?]
    var nested: [[UInt8]]
    var byName: [String: Int]
    var byNumber: [Int: String]
    var byUUID: [UUID: Bool]
    var data: Data
    var date: Date
    var uuid: UUID
    var empty: [Book]
}

enum Shape: Codable, Equatable {
    case point
    case circle(radius: Double)
    case rectangle(Double, Double)
    case labelled(String, tags: [String]?)
    indirect case group([Shape])
}

class Animal: Codable, Equatable {
    var name: String
    init(name: String) { self.name = name }
    static func == (a: Animal, b: Animal) -> Bool { a.isEqual(to: b) }
    func isEqual(to other: Animal) -> Bool { type(of: self) == type(of: other) && name == other.name }
}

final class Dog: Animal {
    var goodBoy: Bool
    init(name: String, goodBoy: Bool) {
        self.goodBoy = goodBoy
        super.init(name: name)
    }
    enum CodingKeys: String, CodingKey { case goodBoy }
    required init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        goodBoy = try c.decode(Bool.self, forKey: .goodBoy)
        try super.init(from: c.superDecoder())
    }
    override func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(goodBoy, forKey: .goodBoy)
        try super.encode(to: c.superEncoder())
    }
    override func isEqual(to other: Animal) -> Bool {
        guard let dog = other as? Dog else { return false }
        return dog.goodBoy == goodBoy && super.isEqual(to: other)
    }
}

/// Encodes through nested keyed and unkeyed containers and an unkeyed superEncoder by hand.
struct HandWritten: Codable, Equatable {
    var a: Int
    var pairs: [(String, Int)]
    var inner: String

    static func == (l: Self, r: Self) -> Bool {
        l.a == r.a && l.inner == r.inner && l.pairs.map(\.0) == r.pairs.map(\.0) && l.pairs.map(\.1) == r.pairs.map(\.1)
    }

    init(a: Int, pairs: [(String, Int)], inner: String) {
        self.a = a
        self.pairs = pairs
        self.inner = inner
    }

    enum Keys: String, CodingKey { case a, pairs, box }
    enum BoxKeys: String, CodingKey { case inner }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(a, forKey: .a)
        var list = c.nestedUnkeyedContainer(forKey: .pairs)
        for (k, v) in pairs {
            var pair = list.nestedUnkeyedContainer()
            try pair.encode(k)
            try pair.encode(v)
        }
        var box = c.nestedContainer(keyedBy: BoxKeys.self, forKey: .box)
        try box.encode(inner, forKey: .inner)
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        a = try c.decode(Int.self, forKey: .a)
        var list = try c.nestedUnkeyedContainer(forKey: .pairs)
        var pairs: [(String, Int)] = []
        while !list.isAtEnd {
            var pair = try list.nestedUnkeyedContainer()
            pairs.append((try pair.decode(String.self), try pair.decode(Int.self)))
        }
        self.pairs = pairs
        let box = try c.nestedContainer(keyedBy: BoxKeys.self, forKey: .box)
        inner = try box.decode(String.self, forKey: .inner)
    }
}

/// Version 1 and version 2 of one message: v2 gained an optional field.
struct OrderV1: Codable, Equatable {
    var item: Int
    var quantity: Int
}

struct OrderV2: Codable, Equatable {
    var item: Int
    var giftNote: String?
    var quantity: Int
}

extension Book {
    static let sample = Book(
        item: 1,
        title: "How to get a good grade in 677 in 20 minutes a day",
        topic: "distributed systems",
        stock: 10,
        cost: 30
    )
}

/// Writes to a nested container after its parent moved on: the format cannot express this.
struct Interleaved: Encodable {
    enum Keys: String, CodingKey { case first, second }
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        var first = c.nestedUnkeyedContainer(forKey: .first)
        try c.encode(2, forKey: .second)
        try first.encode(1)
    }
}

/// Opens a nested container after its parent moved on.
struct InterleavedNested: Encodable {
    enum Keys: String, CodingKey { case first, second }
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        var first = c.nestedUnkeyedContainer(forKey: .first)
        try c.encode(2, forKey: .second)
        var inner = first.nestedUnkeyedContainer()
        try? inner.encode(1)
    }
}

/// An enum case mixing unlabelled and labelled associated values: keys `_0`, `label`, `_2`.
enum Mixed: Codable, Equatable {
    case values(Int, label: String, Bool)
}

/// A value that is nothing but its children, each one container level deeper.
struct Nested: Codable, Equatable {
    var children: [Nested]

    /// A chain of `levels` values, each holding the next.
    static func chain(_ levels: Int) -> Nested {
        var value = Nested(children: [])
        for _ in 1..<levels { value = Nested(children: [value]) }
        return value
    }

    init(children: [Nested]) { self.children = children }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.unkeyedContainer()
        for child in children { try c.encode(child) }
    }

    init(from decoder: any Decoder) throws {
        var c = try decoder.unkeyedContainer()
        var children: [Nested] = []
        while !c.isAtEnd { children.append(try c.decode(Nested.self)) }
        self.children = children
    }
}
