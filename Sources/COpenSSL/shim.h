#ifndef PYGMY_COPENSSL_SHIM_H
#define PYGMY_COPENSSL_SHIM_H
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/bio.h>
#include <openssl/pem.h>

/* Small wrappers around OpenSSL function-like macros, which Swift cannot import. */

/// SSL_CTX_set_min_proto_version
static inline int pygmy_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_min_proto_version(ctx, version);
}

/// The options every Pygmy context uses: renegotiation and compression off, server cipher preference,
/// and no session resumption (no tickets, no session cache): every connection does a full handshake,
/// so every connection verifies the peer certificate.
static inline void pygmy_SSL_CTX_set_secure_options(SSL_CTX *ctx) {
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_NO_TICKET
                                 | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_num_tickets(ctx, 0);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
}

/// SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_AUTO_RETRY)
static inline void pygmy_SSL_CTX_set_default_mode(SSL_CTX *ctx) {
    SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_AUTO_RETRY);
}

/// SSL_set_tlsext_host_name (Server Name Indication)
static inline int pygmy_SSL_set_tlsext_host_name(SSL *ssl, const char *name) {
    return (int)SSL_set_tlsext_host_name(ssl, name);
}

/// BIO_set_mem_eof_return: what an empty memory BIO returns on read (-1: "retry later", not EOF).
static inline void pygmy_BIO_set_mem_eof_return(BIO *bio, int value) {
    (void)BIO_set_mem_eof_return(bio, value);
}

/// X509_NAME_print_ex with RFC 2253 formatting ("CN=catalog-1,OU=catalog,O=Pygmy").
static inline int pygmy_X509_NAME_print_rfc2253(BIO *bio, const X509_NAME *name) {
    return X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253);
}

/// BIO_get_mem_data: the readable bytes of a memory BIO, without consuming them.
static inline long pygmy_BIO_get_mem_data(BIO *bio, char **data) {
    return BIO_get_mem_data(bio, data);
}

/// The subjectAltName extension of a certificate, or NULL. Free with GENERAL_NAMES_free.
static inline GENERAL_NAMES *pygmy_X509_get_subject_alt_names(const X509 *cert) {
    return (GENERAL_NAMES *)X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
}

/// sk_GENERAL_NAME_num
static inline int pygmy_GENERAL_NAMES_count(const GENERAL_NAMES *names) {
    return sk_GENERAL_NAME_num(names);
}

/// The URI of the index-th general name, or NULL if that name is not a URI.
static inline const unsigned char *pygmy_GENERAL_NAMES_uri(const GENERAL_NAMES *names, int index, int *length) {
    const GENERAL_NAME *name = sk_GENERAL_NAME_value(names, index);
    if (name == NULL || name->type != GEN_URI || name->d.uniformResourceIdentifier == NULL) return NULL;
    *length = ASN1_STRING_length(name->d.uniformResourceIdentifier);
    return ASN1_STRING_get0_data(name->d.uniformResourceIdentifier);
}

#endif
