// MbedChannel: one DTLS or TLS session on memory BIOs and the caller's clock.
#include <mbedtls/ssl_internal.h>

#include <algorithm>
#include <cstring>

#include "coap/security_internal.h"

namespace coap {
namespace {

// Datagram payload size at most (IPv6 over Ethernet: 1500 - 40 - 8, with
// room to spare); mbedTLS fragments handshake messages to fit.
constexpr uint16_t kDtlsMtu = 1400;

bool is_ip_literal(const std::string& host) { return Address::parse_ip(host).has_value(); }

// The client's check of the server certificate's names, for IP literals
// (mbedTLS checks DNS names itself, from mbedtls_ssl_set_hostname).
int verify_ip_host(void* p, mbedtls_x509_crt* crt, int depth, uint32_t* flags) {
  auto* channel = static_cast<MbedChannel*>(p);
  if (depth != 0 || channel->verify_host().empty() || !is_ip_literal(channel->verify_host()))
    return 0;
  if (!certificate_names_host({crt->raw.p, crt->raw.len}, channel->verify_host()))
    *flags |= MBEDTLS_X509_BADCERT_CN_MISMATCH;
  return 0;
}

// The cipher suites of mbedTLS's default list that use a PSK: a client that
// has one offers only these (a server would otherwise pick a certificate
// suite it may not be able to verify).
const int* psk_suites() {
  static const std::vector<int> suites = [] {
    std::vector<int> out;
    for (const int* id = mbedtls_ssl_list_ciphersuites(); *id; ++id) {
      const mbedtls_ssl_ciphersuite_t* info = mbedtls_ssl_ciphersuite_from_id(*id);
      if (info && mbedtls_ssl_ciphersuite_uses_psk(info)) out.push_back(*id);
    }
    out.push_back(0);
    return out;
  }();
  return suites.data();
}

// The ids of the suites a client named, 0-terminated; empty when it named
// none.
Result<std::vector<int>> named_suites(const std::vector<std::string>& names) {
  std::vector<int> ids;
  for (const std::string& name : names) {
    const int id = mbedtls_ssl_get_ciphersuite_id(name.c_str());
    if (id == 0) return error("unknown cipher suite '", name, "'");
    ids.push_back(id);
  }
  if (!ids.empty()) ids.push_back(0);
  return ids;
}

// `suites`: named_suites() of opt; the configuration points into it.
Result<std::unique_ptr<mbedtls_ssl_config>> client_config(SecurityContext::Impl& ctx,
                                                          SecureChannel::Transport transport,
                                                          const ClientSecurity& opt,
                                                          ParsedCerts& certs,
                                                          const std::vector<int>& suites) {
  auto conf = std::make_unique<mbedtls_ssl_config>();
  mbedtls_ssl_config_init(conf.get());
  const bool datagram = transport == SecureChannel::Transport::kDatagram;
  int rc = mbedtls_ssl_config_defaults(
      conf.get(), MBEDTLS_SSL_IS_CLIENT,
      datagram ? MBEDTLS_SSL_TRANSPORT_DATAGRAM : MBEDTLS_SSL_TRANSPORT_STREAM,
      MBEDTLS_SSL_PRESET_DEFAULT);
  if (rc != 0) return error("mbedTLS refused the client configuration: ", mbedtls_error_text(rc));
  configure_common(*conf, ctx, datagram);
  const std::optional<PskEntry>& psk = opt.psk ? opt.psk : ctx.creds.client_psk;
  if (psk) {
    rc = mbedtls_ssl_conf_psk(conf.get(), psk->key.data(), psk->key.size(),
                              reinterpret_cast<const unsigned char*>(psk->identity.data()),
                              psk->identity.size());
    if (rc != 0) return error("the PSK cannot be used: ", mbedtls_error_text(rc));
    mbedtls_ssl_conf_ciphersuites(conf.get(), psk_suites());
  }
  if (!suites.empty()) mbedtls_ssl_conf_ciphersuites(conf.get(), suites.data());
  const bool own = !opt.cert_pem.empty();
  if (Status st =
          certs.load(own ? opt.cert_pem : ctx.creds.cert_pem, own ? opt.key_pem : ctx.creds.key_pem,
                     opt.ca_pem.empty() ? ctx.creds.ca_pem : opt.ca_pem, &ctx.drbg);
      !st)
    return std::move(st).take_error();
  if (certs.has_own) mbedtls_ssl_conf_own_cert(conf.get(), &certs.own, &certs.key);
  if (certs.has_ca) mbedtls_ssl_conf_ca_chain(conf.get(), &certs.ca, nullptr);
  mbedtls_ssl_conf_authmode(
      conf.get(), opt.insecure ? MBEDTLS_SSL_VERIFY_OPTIONAL : MBEDTLS_SSL_VERIFY_REQUIRED);
  return conf;
}

}  // namespace

MbedChannel::MbedChannel(SecurityContext::Impl&, Transport transport, Sink* sink)
    : transport_(transport), sink_(sink) {
  mbedtls_ssl_init(&ssl_);
}

MbedChannel::~MbedChannel() {
  mbedtls_ssl_free(&ssl_);
  if (own_conf_) mbedtls_ssl_config_free(own_conf_.get());
}

Status MbedChannel::setup(const mbedtls_ssl_config& conf) {
  const int rc = mbedtls_ssl_setup(&ssl_, &conf);
  if (rc != 0) return error("cannot set up a TLS context: ", mbedtls_error_text(rc));
  mbedtls_ssl_set_bio(&ssl_, this, bio_send, bio_recv, nullptr);
  if (transport_ == Transport::kDatagram) {
    mbedtls_ssl_set_timer_cb(&ssl_, this, timer_set, timer_get);
    mbedtls_ssl_set_mtu(&ssl_, kDtlsMtu);
  }
  return {};
}

void MbedChannel::adopt_config(std::unique_ptr<mbedtls_ssl_config> conf,
                               std::unique_ptr<ParsedCerts> certs, std::vector<int> suites) {
  own_conf_ = std::move(conf);
  own_certs_ = std::move(certs);
  own_suites_ = std::move(suites);  // a move keeps the buffer the configuration points into
}

Status MbedChannel::reset_for(const Address& peer) {
  int rc = mbedtls_ssl_session_reset(&ssl_);
  if (rc != 0) return error("cannot reset the DTLS context: ", mbedtls_error_text(rc));
  const TransportId id = transport_id(peer);
  rc = mbedtls_ssl_set_client_transport_id(&ssl_, id.data(), id.size());
  if (rc != 0) return error("cannot bind the cookie to the peer: ", mbedtls_error_text(rc));
  datagrams_.clear();
  state_ = State::kHandshake;
  timer_int_ = timer_fin_ = kNever;
  psk_identity_.clear();
  return {};
}

void MbedChannel::push_input(std::span<const uint8_t> bytes) {
  if (transport_ == Transport::kDatagram) {
    datagrams_.emplace_back(bytes.begin(), bytes.end());
    return;
  }
  if (stream_offset_ > 0 && stream_offset_ == stream_.size()) {
    stream_.clear();
    stream_offset_ = 0;
  }
  stream_.insert(stream_.end(), bytes.begin(), bytes.end());
}

int MbedChannel::step_handshake() { return mbedtls_ssl_handshake(&ssl_); }

// --- BIO and timer callbacks (inside mbedTLS calls) ------------------------------

int MbedChannel::bio_send(void* p, const unsigned char* buf, size_t len) {
  auto* self = static_cast<MbedChannel*>(p);
  const std::span<const uint8_t> bytes(buf, len);
  if (self->send_override_) {
    (*self->send_override_)(bytes);
  } else if (self->sink_) {
    self->sink_->send_ciphertext(bytes);
  }
  return static_cast<int>(len);
}

int MbedChannel::bio_recv(void* p, unsigned char* buf, size_t len) {
  auto* self = static_cast<MbedChannel*>(p);
  if (self->transport_ == Transport::kDatagram) {
    if (self->datagrams_.empty()) return MBEDTLS_ERR_SSL_WANT_READ;
    std::vector<uint8_t> d = std::move(self->datagrams_.front());
    self->datagrams_.pop_front();
    const std::size_t n = std::min(len, d.size());  // a larger datagram is cut: it fails to parse
    // An empty datagram (valid UDP) has no data(): memcpy from null is
    // undefined even for 0 bytes.
    if (n > 0) std::memcpy(buf, d.data(), n);
    return static_cast<int>(n);
  }
  const std::size_t left = self->stream_.size() - self->stream_offset_;
  if (left == 0) return MBEDTLS_ERR_SSL_WANT_READ;
  const std::size_t n = std::min(len, left);
  std::memcpy(buf, self->stream_.data() + self->stream_offset_, n);
  self->stream_offset_ += n;
  return static_cast<int>(n);
}

void MbedChannel::timer_set(void* p, uint32_t int_ms, uint32_t fin_ms) {
  auto* self = static_cast<MbedChannel*>(p);
  if (fin_ms == 0) {
    self->timer_int_ = self->timer_fin_ = kNever;
    return;
  }
  self->timer_int_ = self->now_ + milliseconds(int_ms);
  self->timer_fin_ = self->now_ + milliseconds(fin_ms);
}

int MbedChannel::timer_get(void* p) {
  auto* self = static_cast<MbedChannel*>(p);
  if (self->timer_fin_ == kNever) return -1;
  if (self->now_ >= self->timer_fin_) return 2;
  if (self->now_ >= self->timer_int_) return 1;
  return 0;
}

// --- the channel ------------------------------------------------------------------

void MbedChannel::feed(std::span<const uint8_t> bytes, TimePoint now) {
  now_ = now;
  if (state_ == State::kClosed || state_ == State::kFailed) return;
  if (!bytes.empty()) push_input(bytes);
  pump();
}

void MbedChannel::pump() {
  if (state_ == State::kHandshake) {
    const int rc = mbedtls_ssl_handshake(&ssl_);
    if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) return;
    if (rc != 0) return fail(rc);
    state_ = State::kOpen;
    timer_int_ = timer_fin_ = kNever;
    if (sink_) sink_->on_established(peer_security());
    if (state_ != State::kOpen) return;  // closed by the sink
  }
  if (state_ == State::kOpen) read_records();
}

void MbedChannel::read_records() {
  plain_.resize(MBEDTLS_SSL_IN_CONTENT_LEN);
  while (state_ == State::kOpen) {
    const int rc = mbedtls_ssl_read(&ssl_, plain_.data(), plain_.size());
    if (rc > 0) {
      if (sink_) sink_->on_plaintext({plain_.data(), static_cast<std::size_t>(rc)});
      continue;
    }
    if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) return;
    if (rc == 0 || rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
      state_ = State::kClosed;
      if (sink_) sink_->on_peer_closed();
      return;
    }
    return fail(rc);
  }
}

void MbedChannel::fail(int err) {
  state_ = State::kFailed;
  timer_int_ = timer_fin_ = kNever;
  const HandshakeFailure kind = classify_failure(err, ssl_);
  if (sink_) sink_->on_failed(kind, mbedtls_error_text(err));
}

Status MbedChannel::write(std::span<const uint8_t> bytes, TimePoint now) {
  now_ = now;
  if (state_ != State::kOpen) return error("the secure session is not established");
  std::size_t done = 0;
  while (done < bytes.size()) {
    const int rc = mbedtls_ssl_write(&ssl_, bytes.data() + done, bytes.size() - done);
    if (rc < 0) {
      fail(rc);
      return error("cannot encrypt: ", mbedtls_error_text(rc));
    }
    done += static_cast<std::size_t>(rc);
  }
  return {};
}

void MbedChannel::close(TimePoint now) {
  now_ = now;
  if (state_ == State::kOpen) mbedtls_ssl_close_notify(&ssl_);
  if (state_ != State::kFailed) state_ = State::kClosed;
  timer_int_ = timer_fin_ = kNever;
}

void MbedChannel::on_timer(TimePoint now) {
  now_ = now;
  if (state_ == State::kHandshake && timer_fin_ != kNever && now >= timer_fin_) pump();
}

TimePoint MbedChannel::next_timer() const {
  return state_ == State::kHandshake ? timer_fin_ : kNever;
}

PeerSecurity MbedChannel::peer_security() const {
  PeerSecurity p;
  const char* suite = mbedtls_ssl_get_ciphersuite(&ssl_);
  p.cipher = suite ? suite : "";
  const mbedtls_ssl_ciphersuite_t* info =
      mbedtls_ssl_ciphersuite_from_id(mbedtls_ssl_get_ciphersuite_id(p.cipher.c_str()));
  const bool psk = info && mbedtls_ssl_ciphersuite_uses_psk(info);
  p.mode = psk ? SecurityMode::kPsk : SecurityMode::kX509;
  if (psk) {
    p.peer_identity = psk_identity_;
  } else if (const mbedtls_x509_crt* crt = mbedtls_ssl_get_peer_cert(&ssl_)) {
    char dn[512];
    if (mbedtls_x509_dn_gets(dn, sizeof dn, &crt->subject) > 0) p.peer_identity = dn;
  }
  p.verified = !insecure_ || mbedtls_ssl_get_verify_result(&ssl_) == 0;
  return p;
}

// --- factories -------------------------------------------------------------------

Result<std::unique_ptr<SecureChannel>> SecureChannel::client(SecurityContext& ctx,
                                                             Transport transport,
                                                             const ClientSecurity& options,
                                                             Sink& sink, TimePoint now) {
  auto suites = named_suites(options.ciphersuites);
  if (!suites) return std::move(suites).take_error();
  auto certs = std::make_unique<ParsedCerts>();
  auto conf = client_config(ctx.impl(), transport, options, *certs, *suites);
  if (!conf) return std::move(conf).take_error();
  auto channel = std::make_unique<MbedChannel>(ctx.impl(), transport, &sink);
  mbedtls_ssl_config& c = **conf;
  channel->set_verify_host(options.host);
  channel->set_insecure(options.insecure);
  mbedtls_ssl_conf_verify(&c, verify_ip_host, channel.get());
  const auto& psk = options.psk ? options.psk : ctx.impl().creds.client_psk;
  if (psk) channel->set_client_psk_identity(psk->identity);
  channel->adopt_config(std::move(*conf), std::move(certs), std::move(*suites));
  if (Status st = channel->setup(c); !st) return std::move(st).take_error();
  // A DNS name is sent as SNI and checked by mbedTLS; an IP literal is
  // checked by verify_ip_host (RFC 6066 3: no SNI for addresses).
  if (!options.host.empty() && !is_ip_literal(options.host))
    mbedtls_ssl_set_hostname(&channel->ssl(), options.host.c_str());
  channel->feed({}, now);  // sends the ClientHello
  return std::unique_ptr<SecureChannel>(std::move(channel));
}

Result<std::unique_ptr<SecureChannel>> SecureChannel::server(SecurityContext& ctx, Sink& sink) {
  if (!ctx.can_serve()) return error("no credentials to serve TLS with");
  auto channel = std::make_unique<MbedChannel>(ctx.impl(), Transport::kStream, &sink);
  if (Status st = channel->setup(ctx.impl().tls_server); !st) return std::move(st).take_error();
  return std::unique_ptr<SecureChannel>(std::move(channel));
}

}  // namespace coap
