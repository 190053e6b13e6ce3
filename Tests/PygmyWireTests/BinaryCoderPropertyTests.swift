import Foundation
import PropertyBased
import PygmyWire
import Testing

/// Round-trip properties over generated values, including arbitrary Unicode text.
@Suite struct BinaryCoderPropertyTests {
    static let text = Gen<UInt32>.value(in: 0...0x10FFFF)
        .map { Unicode.Scalar($0) ?? "\u{FFFD}" }
        .array(of: 0...24)
        .map { scalars in String(String.UnicodeScalarView(scalars)) }

    static let book = zip(Gen.int(), text, text, Gen.int(in: -5...1_000_000), Gen.int())
        .map { Book(item: $0, title: $1, topic: $2, stock: $3, cost: $4) }

    @Test func booksRoundTrip() async {
        await propertyCheck(count: 500, input: Self.book.array(of: 0...12)) { books in
            #expect((try? roundTrip(books)) == books)
        }
    }

    @Test func integersRoundTripAndSmallOnesStayShort() async {
        await propertyCheck(count: 1000, input: Gen.int64(), Gen.uint64()) { signed, unsigned in
            #expect((try? roundTrip(signed)) == signed)
            #expect((try? roundTrip(unsigned)) == unsigned)
            let encoded = try? BinaryEncoder().encode(signed)
            #expect(encoded?.count == 1 + VarInt.length(of: VarInt.zigZag(signed)))
        }
    }

    @Test func optionalsAndDictionariesRoundTrip() async {
        let generator = zip(
            Self.text.optional.array(of: 0...10),
            zip(Self.text, Gen.int()).dictionary(ofAtMost: 0...8),
            Gen.double(in: -1e300...1e300)
        )
        await propertyCheck(count: 500, input: generator) { strings, dictionary, double in
            #expect((try? roundTrip(strings)) == strings)
            #expect((try? roundTrip(dictionary)) == dictionary)
            #expect((try? roundTrip(double)) == double)
        }
    }

    @Test func shapesRoundTrip() async {
        let leaf = Gen<Int>.int(in: 0...3).map { n -> Shape in
            switch n {
            case 0: .point
            case 1: .circle(radius: Double(n) / 3)
            case 2: .rectangle(Double(n), -Double(n))
            default: .labelled("n\(n)", tags: n.isMultiple(of: 2) ? nil : ["t"])
            }
        }
        let generator = leaf.array(of: 0...5).array(of: 0...4).map { groups in groups.map(Shape.group) }
        await propertyCheck(count: 300, input: generator) { shapes in
            #expect((try? roundTrip(shapes)) == shapes)
        }
    }
}
