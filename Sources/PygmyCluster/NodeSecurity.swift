import Logging
import PygmyNodes
import PygmyRPC
import PygmyTLS

extension PygmyNode {
    /// The OpenSSL transport security a node's `tls` settings ask for (certificate, key and CA resolved
    /// against the topology's directory; client certificates required), or `(nil, nil)` for a plaintext
    /// node. The composition root (`pygmy node`, its `--check`, tests) passes it to `PygmyNode.init`:
    /// PygmyNodes itself never links OpenSSL.
    /// - Throws: what `OpenSSLTransportSecurity` throws for files it cannot read or use.
    public static func openSSLSecurity(for spec: NodeSpec, in topology: Topology, logger: Logger) throws -> Security {
        guard let tls = spec.tls else { return (nil, nil) }
        let configuration = TLSConfiguration(
            certificateChainFile: topology.resolve(tls.certificate),
            privateKeyFile: topology.resolve(tls.key),
            trustedCAFile: topology.resolve(tls.ca),
            minimumVersion: .tls12,
            requireClientCertificate: true
        )
        var logger = logger
        logger[metadataKey: "node"] = "\(spec.name)"
        let security = try OpenSSLTransportSecurity(configuration: configuration, logger: logger)
        return (security, security)
    }
}
