import Foundation

/// The keys a configuration file may contain, level by level. A key outside the schema is an error:
/// a typo such as `"tsl"` must never quietly turn TLS off.
indirect enum ConfigSchema: Sendable {
    /// An object with exactly these keys (each optional or not, as the decoder decides).
    case object([String: ConfigSchema])
    /// A list whose elements follow one schema.
    case list(ConfigSchema)
    /// A string, number, boolean or null.
    case leaf

    /// An object whose keys are `keys`, all leaves.
    static func leaves(_ keys: [String]) -> ConfigSchema {
        .object(Dictionary(uniqueKeysWithValues: keys.map { ($0, .leaf) }))
    }
}

/// Decodes configuration JSON strictly: syntax errors, unknown keys and values of the wrong type are
/// reported with their line, column and key path, in words an operator can act on.
enum StrictJSON {
    struct Problem: Error, CustomStringConvertible {
        var description: String
    }

    /// Decodes `T` from `text` after checking it against `schema`. Lines whose first non-blank
    /// characters are `//` are comments (kept as blank lines, so positions stay true).
    static func decode<T: Decodable>(_ type: T.Type, from text: String, schema: ConfigSchema) throws -> T {
        let json = text.split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces).hasPrefix("//") ? "" : String($0) }
            .joined(separator: "\n")
        let map: JSONSourceMap
        do {
            map = try JSONSourceMap(json)
        } catch let error as JSONSourceMap.SyntaxError {
            throw Problem(description: "\(error.position): not valid JSON: \(error.message)")
        }
        try check(map.root, against: schema, path: [])
        do {
            return try JSONDecoder().decode(T.self, from: Data(json.utf8))
        } catch let error as DecodingError {
            throw Problem(description: describe(error, map: map))
        }
    }

    private static func check(_ value: JSONSourceMap.Value, against schema: ConfigSchema, path: [String]) throws {
        switch (value, schema) {
        case (.object(let members, _), .object(let known)):
            for member in members {
                guard let inner = known[member.key] else {
                    let name = "\"\(render(path + [member.key]))\""
                    let hint =
                        suggestion(for: member.key, among: Array(known.keys))
                        .map { "did you mean \"\($0)\"?" }
                        ?? "known keys here: \(known.keys.sorted().joined(separator: ", "))"
                    throw Problem(description: "\(member.keyPosition): unknown key \(name); \(hint)")
                }
                try check(member.value, against: inner, path: path + [member.key])
            }
        case (.array(let elements, _), .list(let inner)):
            for (index, element) in elements.enumerated() {
                try check(element, against: inner, path: path + ["\(index)"])
            }
        default:
            // Shapes that differ from the schema (a list where an object belongs, ...) are the
            // decoder's to report, with the type it expected.
            return
        }
    }

    /// The closest known key within two edits (a typo), if any.
    static func suggestion(for key: String, among known: [String]) -> String? {
        let scored = known.map { ($0, editDistance(key.lowercased(), $0.lowercased())) }
        guard let best = scored.min(by: { $0.1 < $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }),
            best.1 <= max(2, key.count / 4)
        else { return nil }
        return best.0
    }

    /// Optimal-string-alignment distance: insertions, deletions, substitutions and swaps of neighbours.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a)
        let b = Array(b)
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
        var d = Array(repeating: Array(repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { d[i][0] = i }
        for j in 0...b.count { d[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
                if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                    d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
                }
            }
        }
        return d[a.count][b.count]
    }

    /// `nodes[2].tls.key`-style text for a key path.
    static func render(_ path: [String]) -> String {
        var text = ""
        for component in path {
            if Int(component) != nil {
                text += "[\(component)]"
            } else {
                text += text.isEmpty ? component : ".\(component)"
            }
        }
        return text.isEmpty ? "the document" : text
    }

    private static func components(_ path: [any CodingKey]) -> [String] {
        path.map { $0.intValue.map(String.init) ?? $0.stringValue }
    }

    private static func describe(_ error: DecodingError, map: JSONSourceMap) -> String {
        switch error {
        case .keyNotFound(let key, let context):
            let path = components(context.codingPath)
            return "\(map.value(at: path).position): \(render(path)) lacks the required key \"\(key.stringValue)\""
        case .typeMismatch(let type, let context), .valueNotFound(let type, let context):
            let path = components(context.codingPath)
            return "\(map.value(at: path).position): \(render(path)) must be \(describe(type))"
        case .dataCorrupted(let context):
            let path = components(context.codingPath)
            var reason = context.debugDescription
            if reason.contains("Cannot initialize") {
                reason = "is not one of the allowed values (see docs/DEPLOYMENT.md)"
            }
            return "\(map.value(at: path).position): \(render(path)) \(reason)"
        @unknown default:
            return "\(error)"
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type, is Int64.Type, is UInt16.Type: "a whole number"
        case is Double.Type: "a number"
        case is String.Type: "a string"
        case is Bool.Type: "true or false"
        case is [Any].Type: "a list"
        case is [String: Any].Type: "an object"
        default: "a \(type)"
        }
    }
}
