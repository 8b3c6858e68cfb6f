// SecurityContext: mbedTLS's RNG, certificates and server configurations.
#include <mbedtls/error.h>
#include <mbedtls/ssl_internal.h>

#include <algorithm>
#include <cstring>

#include "coap/security_internal.h"

namespace coap {
namespace {

// DTLS handshake retransmission: the first wait, doubled up to the last
// (RFC 6347 4.2.4.1: 1 s initial, 60 s at most).
constexpr uint32_t kDtlsTimeoutMinMs = 1000;
constexpr uint32_t kDtlsTimeoutMaxMs = 16000;

int entropy_from(void* p, unsigned char* out, size_t len) {
  static_cast<SecurityContext::Impl*>(p)->random(std::span<uint8_t>(out, len));
  return 0;
}

// mbedTLS wants NUL-terminated PEM with the NUL counted in the length.
std::vector<unsigned char> pem_buffer(const std::string& pem) {
  std::vector<unsigned char> b(pem.begin(), pem.end());
  b.push_back('\0');
  return b;
}

Status parse_chain(mbedtls_x509_crt* crt, const std::string& pem, const char* what) {
  const auto buf = pem_buffer(pem);
  const int rc = mbedtls_x509_crt_parse(crt, buf.data(), buf.size());
  if (rc != 0) return error(what, " is not a PEM certificate: ", mbedtls_error_text(rc));
  return {};
}

// The server side's PSK lookup: the identity the client named, or refusal.
int server_psk(void* p, mbedtls_ssl_context* ssl, const unsigned char* id, size_t len) {
  auto* ctx = static_cast<SecurityContext::Impl*>(p);
  const std::string_view identity(reinterpret_cast<const char*>(id), len);
  for (const PskEntry& e : ctx->creds.psk) {
    if (e.identity != identity) continue;
    if (auto* channel = static_cast<MbedChannel*>(ssl->p_bio))
      channel->set_psk_identity(std::string(identity));
    return mbedtls_ssl_set_hs_psk(ssl, e.key.data(), e.key.size());
  }
  return -1;  // MBEDTLS_ERR_SSL_UNKNOWN_IDENTITY for the client
}

Status configure_server(mbedtls_ssl_config& conf, SecurityContext::Impl& ctx, bool datagram) {
  const int rc = mbedtls_ssl_config_defaults(
      &conf, MBEDTLS_SSL_IS_SERVER,
      datagram ? MBEDTLS_SSL_TRANSPORT_DATAGRAM : MBEDTLS_SSL_TRANSPORT_STREAM,
      MBEDTLS_SSL_PRESET_DEFAULT);
  if (rc != 0) return error("mbedTLS refused the server configuration: ", mbedtls_error_text(rc));
  configure_common(conf, ctx, datagram);
  // mbedTLS 2.28 sends no PSK identity hint (ssl_srv.c writes an empty one
  // whatever is configured): Credentials::psk_hint is kept, not sent.
  if (!ctx.creds.psk.empty()) mbedtls_ssl_conf_psk_cb(&conf, server_psk, &ctx);
  if (ctx.certs.has_own) {
    const int own = mbedtls_ssl_conf_own_cert(&conf, &ctx.certs.own, &ctx.certs.key);
    if (own != 0) return error("the certificate does not fit its key: ", mbedtls_error_text(own));
  }
  if (ctx.certs.has_ca) {
    mbedtls_ssl_conf_ca_chain(&conf, &ctx.certs.ca, nullptr);
    mbedtls_ssl_conf_authmode(&conf, MBEDTLS_SSL_VERIFY_REQUIRED);
  } else {
    mbedtls_ssl_conf_authmode(&conf, MBEDTLS_SSL_VERIFY_NONE);
  }
  if (datagram)
    mbedtls_ssl_conf_dtls_cookies(&conf, mbedtls_ssl_cookie_write, mbedtls_ssl_cookie_check,
                                  &ctx.cookies);
  return {};
}

}  // namespace

const char* security_mode_name(SecurityMode m) {
  switch (m) {
    case SecurityMode::kNone: return "none";
    case SecurityMode::kPsk: return "psk";
    case SecurityMode::kX509: return "x509";
  }
  return "none";
}

const char* handshake_failure_name(HandshakeFailure f) {
  switch (f) {
    case HandshakeFailure::kBadPsk: return "bad_psk";
    case HandshakeFailure::kBadCertificate: return "bad_certificate";
    case HandshakeFailure::kTimeout: return "timeout";
    case HandshakeFailure::kProtocol: return "protocol";
    case HandshakeFailure::kLimit: return "limit";
  }
  return "protocol";
}

std::string mbedtls_error_text(int err) {
  char buf[160];
  mbedtls_strerror(err, buf, sizeof buf);
  return buf;
}

ParsedCerts::ParsedCerts() {
  mbedtls_x509_crt_init(&own);
  mbedtls_pk_init(&key);
  mbedtls_x509_crt_init(&ca);
}

ParsedCerts::~ParsedCerts() {
  mbedtls_x509_crt_free(&own);
  mbedtls_pk_free(&key);
  mbedtls_x509_crt_free(&ca);
}

Status ParsedCerts::load(const std::string& cert_pem, const std::string& key_pem,
                         const std::string& ca_pem, mbedtls_ctr_drbg_context* drbg) {
  (void)drbg;
  if (!cert_pem.empty() != !key_pem.empty())
    return error("a certificate needs its private key and a key its certificate");
  if (!cert_pem.empty()) {
    if (Status st = parse_chain(&own, cert_pem, "the certificate"); !st) return st;
    const auto buf = pem_buffer(key_pem);
    const int rc = mbedtls_pk_parse_key(&key, buf.data(), buf.size(), nullptr, 0);
    if (rc != 0) return error("the key is not a PEM private key: ", mbedtls_error_text(rc));
    // Caught here rather than as every handshake failing later.
    if (mbedtls_pk_check_pair(&own.pk, &key) != 0)
      return error("the key (--key) is not the private key of the certificate (--cert)");
    has_own = true;
  }
  if (!ca_pem.empty()) {
    if (Status st = parse_chain(&ca, ca_pem, "the CA file"); !st) return st;
    has_ca = true;
  }
  return {};
}

void configure_common(mbedtls_ssl_config& conf, SecurityContext::Impl& ctx, bool datagram) {
  mbedtls_ssl_conf_rng(&conf, mbedtls_ctr_drbg_random, &ctx.drbg);
  // TLS 1.2 and DTLS 1.2 only (RFC 7925, RFC 8323 section 9).
  mbedtls_ssl_conf_min_version(&conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
  if (datagram) mbedtls_ssl_conf_handshake_timeout(&conf, kDtlsTimeoutMinMs, kDtlsTimeoutMaxMs);
}

SecurityContext::Impl::Impl() {
  mbedtls_ctr_drbg_init(&drbg);
  mbedtls_ssl_cookie_init(&cookies);
  mbedtls_ssl_config_init(&dtls_server);
  mbedtls_ssl_config_init(&tls_server);
}

SecurityContext::Impl::~Impl() {
  mbedtls_ssl_config_free(&dtls_server);
  mbedtls_ssl_config_free(&tls_server);
  mbedtls_ssl_cookie_free(&cookies);
  mbedtls_ctr_drbg_free(&drbg);
}

Status SecurityContext::Impl::init(const Credentials& c, RandomBytes rnd) {
  creds = c;
  random = std::move(rnd);
  static const char kPersonal[] = "coapd";
  int rc = mbedtls_ctr_drbg_seed(&drbg, entropy_from, this,
                                 reinterpret_cast<const unsigned char*>(kPersonal), 5);
  if (rc != 0) return error("cannot seed the random generator: ", mbedtls_error_text(rc));
  if (Status st = certs.load(creds.cert_pem, creds.key_pem, creds.ca_pem, &drbg); !st) return st;
  rc = mbedtls_ssl_cookie_setup(&cookies, mbedtls_ctr_drbg_random, &drbg);
  if (rc != 0) return error("cannot set up DTLS cookies: ", mbedtls_error_text(rc));
  for (const PskEntry& e : creds.psk)
    if (e.key.empty() || e.key.size() > kMaxPskBytes)
      return error("the PSK of '", e.identity, "' must be 1 to ", std::to_string(kMaxPskBytes),
                   " bytes");
  if (!creds.can_serve()) return {};
  if (Status st = configure_server(dtls_server, *this, true); !st) return st;
  if (Status st = configure_server(tls_server, *this, false); !st) return st;
  serving = true;
  return {};
}

static_assert(kMaxPskBytes == MBEDTLS_PSK_MAX_LEN);

Result<std::unique_ptr<SecurityContext>> SecurityContext::create(const Credentials& credentials,
                                                                 RandomBytes random) {
  auto impl = std::make_unique<Impl>();
  if (Status st = impl->init(credentials, std::move(random)); !st)
    return std::move(st).take_error();
  return std::unique_ptr<SecurityContext>(new SecurityContext(std::move(impl)));
}

SecurityContext::SecurityContext(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SecurityContext::~SecurityContext() = default;
bool SecurityContext::can_serve() const { return impl_->serving; }
const Credentials& SecurityContext::credentials() const { return impl_->creds; }

HandshakeFailure classify_failure(int err, const mbedtls_ssl_context& ssl) {
  switch (err) {
    case MBEDTLS_ERR_SSL_UNKNOWN_IDENTITY: return HandshakeFailure::kBadPsk;
    case MBEDTLS_ERR_X509_CERT_VERIFY_FAILED:
    case MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE:
    case MBEDTLS_ERR_SSL_BAD_HS_CERTIFICATE:
    case MBEDTLS_ERR_SSL_PEER_VERIFY_FAILED: return HandshakeFailure::kBadCertificate;
    case MBEDTLS_ERR_SSL_TIMEOUT: return HandshakeFailure::kTimeout;
    default: break;
  }
  const bool psk = ssl.handshake && ssl.handshake->ciphersuite_info &&
                   mbedtls_ssl_ciphersuite_uses_psk(ssl.handshake->ciphersuite_info);
  if (err == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE && ssl.in_msg) {
    switch (ssl.in_msg[1]) {
      case MBEDTLS_SSL_ALERT_MSG_UNKNOWN_PSK_IDENTITY: return HandshakeFailure::kBadPsk;
      case MBEDTLS_SSL_ALERT_MSG_BAD_CERT:
      case MBEDTLS_SSL_ALERT_MSG_UNSUPPORTED_CERT:
      case MBEDTLS_SSL_ALERT_MSG_CERT_REVOKED:
      case MBEDTLS_SSL_ALERT_MSG_CERT_EXPIRED:
      case MBEDTLS_SSL_ALERT_MSG_CERT_UNKNOWN:
      case MBEDTLS_SSL_ALERT_MSG_UNKNOWN_CA: return HandshakeFailure::kBadCertificate;
      case MBEDTLS_SSL_ALERT_MSG_DECRYPT_ERROR:
      case MBEDTLS_SSL_ALERT_MSG_BAD_RECORD_MAC:
        return psk ? HandshakeFailure::kBadPsk : HandshakeFailure::kProtocol;
      default: return HandshakeFailure::kProtocol;
    }
  }
  // A wrong PSK shows as a Finished message that does not verify.
  if (psk && (err == MBEDTLS_ERR_SSL_BAD_HS_FINISHED || err == MBEDTLS_ERR_SSL_INVALID_MAC))
    return HandshakeFailure::kBadPsk;
  return HandshakeFailure::kProtocol;
}

}  // namespace coap
