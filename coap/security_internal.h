// Private to coap/security*.cc: the mbedTLS state behind security.h. No
// other file includes mbedTLS.
#pragma once

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_cookie.h>
#include <mbedtls/x509_crt.h>

#include <array>
#include <cstring>
#include <deque>
#include <string>
#include <vector>

#include "coap/security.h"

namespace coap {

// Certificate chain, key and trust anchors parsed from PEM.
struct ParsedCerts {
  ParsedCerts();
  ~ParsedCerts();
  ParsedCerts(const ParsedCerts&) = delete;
  ParsedCerts& operator=(const ParsedCerts&) = delete;
  // Parses what is non-empty; the error names which part is bad.
  Status load(const std::string& cert_pem, const std::string& key_pem, const std::string& ca_pem,
              mbedtls_ctr_drbg_context* drbg);

  mbedtls_x509_crt own;
  mbedtls_pk_context key;
  mbedtls_x509_crt ca;
  bool has_own = false;
  bool has_ca = false;
};

struct SecurityContext::Impl {
  Impl();
  ~Impl();
  Status init(const Credentials& creds, RandomBytes rnd);

  Credentials creds;
  RandomBytes random;
  mbedtls_ctr_drbg_context drbg;
  ParsedCerts certs;
  mbedtls_ssl_cookie_ctx cookies;
  // Server sides, when credentials allow serving.
  mbedtls_ssl_config dtls_server;
  mbedtls_ssl_config tls_server;
  bool serving = false;
};

// Applies what every configuration of coapd shares: the RNG, timeouts.
void configure_common(mbedtls_ssl_config& conf, SecurityContext::Impl& ctx, bool datagram);

// What a DTLS cookie is bound to: the client's address and port (RFC 6347
// 4.2.1).
using TransportId = std::array<unsigned char, 19>;
inline TransportId transport_id(const Address& peer) {
  TransportId id{};
  std::memcpy(id.data(), peer.ip.data(), 16);
  id[16] = static_cast<unsigned char>(peer.port >> 8);
  id[17] = static_cast<unsigned char>(peer.port);
  id[18] = peer.zone;
  return id;
}

// The one SecureChannel implementation: a client, a TLS server, or a DTLS
// server that starts life inside a DtlsListener.
class MbedChannel final : public SecureChannel {
 public:
  // ctx: the context whose configurations setup() is given; it outlives the
  // channel (the channel keeps no reference of its own to it).
  MbedChannel(SecurityContext::Impl& ctx, Transport transport, Sink* sink);
  ~MbedChannel() override;

  // Sets the context up on `conf` (not owned unless adopt_config()).
  Status setup(const mbedtls_ssl_config& conf);
  // A client channel owns its configuration and certificates.
  // (and the cipher suite list the configuration points into, if any).
  void adopt_config(std::unique_ptr<mbedtls_ssl_config> conf, std::unique_ptr<ParsedCerts> certs,
                    std::vector<int> suites);
  // DTLS server: reset for the next ClientHello from `peer`.
  Status reset_for(const Address& peer);
  // Runs the handshake on what was fed; returns mbedTLS's result.
  int step_handshake();

  void feed(std::span<const uint8_t> bytes, TimePoint now) override;
  Status write(std::span<const uint8_t> bytes, TimePoint now) override;
  void close(TimePoint now) override;
  void on_timer(TimePoint now) override;
  TimePoint next_timer() const override;
  bool established() const override { return state_ == State::kOpen; }
  void set_sink(Sink& sink) override { sink_ = &sink; }

  // For the listener: where the next outgoing datagrams go before a sink
  // exists (the HelloVerifyRequest).
  void set_send_override(const std::function<void(std::span<const uint8_t>)>* send) {
    send_override_ = send;
  }
  void set_now(TimePoint now) { now_ = now; }
  void push_input(std::span<const uint8_t> bytes);
  void set_psk_identity(std::string id) { psk_identity_ = std::move(id); }
  void set_verify_host(std::string host) { verify_host_ = std::move(host); }
  const std::string& verify_host() const { return verify_host_; }
  void set_insecure(bool insecure) { insecure_ = insecure; }
  void set_client_psk_identity(std::string id) { psk_identity_ = std::move(id); }
  mbedtls_ssl_context& ssl() { return ssl_; }

 private:
  enum class State : uint8_t { kHandshake, kOpen, kClosed, kFailed };

  static int bio_send(void* self, const unsigned char* buf, size_t len);
  static int bio_recv(void* self, unsigned char* buf, size_t len);
  static void timer_set(void* self, uint32_t int_ms, uint32_t fin_ms);
  static int timer_get(void* self);

  void pump();
  void read_records();
  void fail(int mbedtls_error);
  PeerSecurity peer_security() const;

  Transport transport_;
  Sink* sink_;
  const std::function<void(std::span<const uint8_t>)>* send_override_ = nullptr;
  mbedtls_ssl_context ssl_;
  std::unique_ptr<mbedtls_ssl_config> own_conf_;
  std::unique_ptr<ParsedCerts> own_certs_;
  std::vector<int> own_suites_;  // 0-terminated, when the client named its suites
  State state_ = State::kHandshake;
  TimePoint now_{};
  // DTLS: whole datagrams; TLS: stream bytes, read from in_offset_.
  std::deque<std::vector<uint8_t>> datagrams_;
  std::vector<uint8_t> stream_;
  std::size_t stream_offset_ = 0;
  // The mbedTLS timer (DTLS): the intermediate and final deadlines.
  TimePoint timer_int_ = kNever;
  TimePoint timer_fin_ = kNever;
  std::string psk_identity_;
  std::string verify_host_;
  bool insecure_ = false;
  std::vector<uint8_t> plain_;  // read buffer, reused
};

// A sentence for an mbedTLS error code ("MBEDTLS_ERR_SSL_..." text).
std::string mbedtls_error_text(int err);
// What failure an mbedTLS error (with the alert that came, if any) is.
HandshakeFailure classify_failure(int err, const mbedtls_ssl_context& ssl);

}  // namespace coap
