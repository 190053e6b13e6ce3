import COpenSSL
import PygmyRPC

/// What a verified peer certificate says about the peer: its subject and the Pygmy roles granted by
/// subject-alternative-name URIs of the form `pygmy://role/<name>` (see `docs/SECURITY.md`).
public struct TLSPeerCertificate: Sendable, Hashable {
    /// The URI prefix that grants a role.
    public static let roleURIPrefix = "pygmy://role/"
    /// The roles Pygmy knows. Role URIs naming anything else are ignored.
    public static let knownRoles: Set<String> = ["client", "admin", "frontend", "catalog", "order"]

    /// The subject in RFC 2253 form, for example `CN=catalog-1,OU=catalog,O=Pygmy`.
    public var subject: String
    /// Every URI in the subjectAltName extension, in certificate order.
    public var uris: [String]

    public init(subject: String, uris: [String]) {
        self.subject = subject
        self.uris = uris
    }

    /// The known roles named by `pygmy://role/<name>` URIs.
    public var roles: Set<String> {
        Set(
            uris.compactMap { uri -> String? in
                guard uri.hasPrefix(Self.roleURIPrefix) else { return nil }
                let role = String(uri.dropFirst(Self.roleURIPrefix.count))
                return Self.knownRoles.contains(role) ? role : nil
            }
        )
    }

    /// The identity announced to the RPC layer in `RPCPeerAuthenticated`.
    public var identity: RPCPeerIdentity { RPCPeerIdentity(subject: subject, roles: roles) }

    /// Reads subject and SAN URIs from an OpenSSL `X509` (borrowed, not freed here).
    init(_ certificate: OpaquePointer) {
        self.subject = Self.subject(of: certificate)
        self.uris = Self.uris(of: certificate)
    }

    private static func subject(of certificate: OpaquePointer) -> String {
        guard let name = X509_get_subject_name(certificate), let bio = BIO_new(BIO_s_mem()) else { return "" }
        defer { BIO_free(bio) }
        guard pygmy_X509_NAME_print_rfc2253(bio, name) >= 0 else { return "" }
        var data: UnsafeMutablePointer<CChar>?
        let length = pygmy_BIO_get_mem_data(bio, &data)
        guard let data, length > 0 else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self)
    }

    private static func uris(of certificate: OpaquePointer) -> [String] {
        guard let names = pygmy_X509_get_subject_alt_names(certificate) else { return [] }
        defer { GENERAL_NAMES_free(names) }
        var uris: [String] = []
        for index in 0..<pygmy_GENERAL_NAMES_count(names) {
            var length: Int32 = 0
            guard let bytes = pygmy_GENERAL_NAMES_uri(names, index, &length), length > 0 else { continue }
            uris.append(String(decoding: UnsafeBufferPointer(start: bytes, count: Int(length)), as: UTF8.self))
        }
        return uris
    }
}
