/// A JSON document parsed only far enough to say where things are: every object key and value with
/// its line and column, so configuration errors can point at the text the operator wrote.
///
/// `JSONDecoder` still does the decoding; this parser exists for the messages around it (syntax
/// errors with a position, unknown keys, and the position of a value the decoder refused).
struct JSONSourceMap {
    /// A 1-based line and column in the source text.
    struct Position: Hashable, Sendable, CustomStringConvertible {
        var line: Int
        var column: Int
        var description: String { "line \(line), column \(column)" }
    }

    /// A parsed value and where it starts.
    indirect enum Value {
        case object([(key: String, keyPosition: Position, value: Value)], Position)
        case array([Value], Position)
        case scalar(Position)

        var position: Position {
            switch self {
            case .object(_, let p), .array(_, let p), .scalar(let p): p
            }
        }
    }

    struct SyntaxError: Error, CustomStringConvertible {
        var position: Position
        var message: String
        var description: String { "\(position): \(message)" }
    }

    let root: Value

    /// Parses `text`; throws `SyntaxError` naming the first place that is not JSON.
    init(_ text: String) throws {
        var parser = Parser(bytes: Array(text.utf8))
        parser.skipWhitespace()
        root = try parser.value(depth: 0)
        parser.skipWhitespace()
        if parser.index < parser.bytes.count { throw parser.error("unexpected text after the end of the document") }
    }

    /// The value at a decoder's coding path (keys by name, array elements by index), or the deepest
    /// value on the way there.
    func value(at path: [String]) -> Value {
        var current = root
        for component in path {
            switch current {
            case .object(let members, _):
                guard let member = members.last(where: { $0.key == component }) else { return current }
                current = member.value
            case .array(let elements, _):
                guard let index = Int(component.hasPrefix("Index ") ? String(component.dropFirst(6)) : component),
                    elements.indices.contains(index)
                else { return current }
                current = elements[index]
            case .scalar:
                return current
            }
        }
        return current
    }

    private struct Parser {
        let bytes: [UInt8]
        var index = 0
        var line = 1
        var lineStart = 0

        var position: Position { Position(line: line, column: index - lineStart + 1) }

        func error(_ message: String) -> SyntaxError { SyntaxError(position: position, message: message) }

        mutating func skipWhitespace() {
            while index < bytes.count {
                switch bytes[index] {
                case UInt8(ascii: "\n"):
                    index += 1
                    line += 1
                    lineStart = index
                case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"):
                    index += 1
                default:
                    return
                }
            }
        }

        mutating func expect(_ byte: UInt8, _ what: String) throws {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == byte else { throw error("expected \(what)") }
            index += 1
        }

        mutating func value(depth: Int) throws -> Value {
            guard depth < 64 else { throw error("nested more than 64 levels deep") }
            skipWhitespace()
            guard index < bytes.count else { throw error("the document ends where a value was expected") }
            let start = position
            switch bytes[index] {
            case UInt8(ascii: "{"):
                index += 1
                var members: [(key: String, keyPosition: Position, value: Value)] = []
                skipWhitespace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
                    index += 1
                    return .object(members, start)
                }
                while true {
                    skipWhitespace()
                    let keyPosition = position
                    guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
                        throw error("expected a quoted key (trailing commas and comments after JSON are not allowed)")
                    }
                    let key = try string()
                    try expect(UInt8(ascii: ":"), "':' after key \"\(key)\"")
                    members.append((key, keyPosition, try value(depth: depth + 1)))
                    skipWhitespace()
                    guard index < bytes.count else { throw error("the document ends inside an object") }
                    if bytes[index] == UInt8(ascii: ",") {
                        index += 1
                    } else if bytes[index] == UInt8(ascii: "}") {
                        index += 1
                        return .object(members, start)
                    } else {
                        throw error("expected ',' or '}' after the value of \"\(key)\"")
                    }
                }
            case UInt8(ascii: "["):
                index += 1
                var elements: [Value] = []
                skipWhitespace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                    index += 1
                    return .array(elements, start)
                }
                while true {
                    elements.append(try value(depth: depth + 1))
                    skipWhitespace()
                    guard index < bytes.count else { throw error("the document ends inside a list") }
                    if bytes[index] == UInt8(ascii: ",") {
                        index += 1
                    } else if bytes[index] == UInt8(ascii: "]") {
                        index += 1
                        return .array(elements, start)
                    } else {
                        throw error("expected ',' or ']' in a list")
                    }
                }
            case UInt8(ascii: "\""):
                _ = try string()
                return .scalar(start)
            default:
                let scalarStart = index
                while index < bytes.count, !Self.delimiters.contains(bytes[index]) { index += 1 }
                let word = String(decoding: bytes[scalarStart..<index], as: UTF8.self)
                guard !word.isEmpty, word == "true" || word == "false" || word == "null" || Self.isNumber(word) else {
                    index = scalarStart
                    throw error(
                        "expected a value, found \(word.isEmpty ? "'\(Character(Unicode.Scalar(bytes[index])))'" : "\"\(word)\"")"
                    )
                }
                return .scalar(start)
            }
        }

        static let delimiters: Set<UInt8> = Set(" \t\r\n,]}:".utf8)

        static func isNumber(_ word: String) -> Bool {
            word.allSatisfy { "0123456789+-.eE".contains($0) } && word.first.map { $0 == "-" || $0.isNumber } == true
        }

        /// Reads a quoted string (the index is at its opening quote) and returns its raw content.
        mutating func string() throws -> String {
            index += 1
            let start = index
            var escaped = false
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\n") { throw error("a string runs past the end of its line") }
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    let text = String(decoding: bytes[start..<index], as: UTF8.self)
                    index += 1
                    return text
                }
                index += 1
            }
            throw error("a string is not closed")
        }
    }
}
