// coaps:// (DTLS 1.2, RFC 6347) and coaps+tcp:// (TLS 1.2, RFC 8323
// section 9) for the protocol core, on mbedTLS, without mbedTLS types in
// this interface and without I/O: ciphertext and time come in, ciphertext,
// plaintext and events go out through a Sink. The rest of coap/ sees only
// what is declared here.
//
// Memory BIOs: mbedTLS reads from the bytes the caller fed and writes
// through the Sink; its retransmission timer is a deadline the caller arms
// on its own timer queue (next_timer) and reports back (on_timer).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "coap/address.h"
#include "coap/result.h"
#include "coap/time.h"

namespace coap {

enum class SecurityMode : uint8_t { kNone, kPsk, kX509 };
const char* security_mode_name(SecurityMode m);  // "none", "psk", "x509"

enum class HandshakeFailure : uint8_t { kBadPsk, kBadCertificate, kTimeout, kProtocol, kLimit };
// "bad_psk", "bad_certificate", "timeout", "protocol", "limit"
const char* handshake_failure_name(HandshakeFailure f);

struct PskEntry {
  std::string identity;
  std::vector<uint8_t> key;
  bool operator==(const PskEntry&) const = default;
};

// What coapd proves and accepts, as data (the core reads no files).
struct Credentials {
  std::vector<PskEntry> psk;  // server side: the identities accepted
  std::string psk_hint;
  std::optional<PskEntry> client_psk;  // client side, unless a request names its own
  std::string cert_pem;                // own certificate (chain), both directions
  std::string key_pem;                 // its private key
  // Trust anchors. Server side: when set, clients must present a
  // certificate that chains to them (mutual authentication); without them
  // no client certificate is requested. Client side: servers are verified
  // against them.
  std::string ca_pem;
  bool can_serve() const { return !psk.empty() || !cert_pem.empty(); }
};

// A client's choices for one connection (coapctl flags, session options).
struct ClientSecurity {
  std::optional<PskEntry> psk;    // instead of Credentials::client_psk
  std::string cert_pem, key_pem;  // instead of Credentials' own certificate
  std::string ca_pem;             // instead of Credentials::ca_pem
  bool insecure = false;          // do not verify the server
  // The URI's host: checked against the server's certificate (a DNS name
  // against subjectAltName DNS entries or the CN, and sent as SNI; an IP
  // literal against subjectAltName IP entries).
  std::string host;
  // Offer only these cipher suites (mbedTLS's names, in order of
  // preference: "TLS-PSK-WITH-AES-128-CCM-8"); empty: the defaults (with a
  // PSK, mbedTLS's PSK suites). A name mbedTLS does not know is an error.
  std::vector<std::string> ciphersuites;
  bool operator==(const ClientSecurity&) const = default;
};

// What a finished handshake established.
struct PeerSecurity {
  SecurityMode mode = SecurityMode::kNone;
  std::string peer_identity;  // PSK identity, or certificate subject
  std::string cipher;         // "TLS-PSK-WITH-AES-128-CCM-8"
  bool verified = true;       // false when --insecure skipped the check
};

// Fills the buffer with unpredictable bytes (getrandom in coapd; a fixed
// stream in tests).
using RandomBytes = std::function<void(std::span<uint8_t>)>;

class SecureChannel;

// mbedTLS configurations built once from the credentials: the random
// generator, the DTLS cookie secret, certificate chains and keys.
class SecurityContext {
 public:
  static Result<std::unique_ptr<SecurityContext>> create(const Credentials& credentials,
                                                         RandomBytes random);
  ~SecurityContext();
  SecurityContext(const SecurityContext&) = delete;
  SecurityContext& operator=(const SecurityContext&) = delete;

  bool can_serve() const;
  const Credentials& credentials() const;

  struct Impl;
  Impl& impl() { return *impl_; }

 private:
  explicit SecurityContext(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// One DTLS or TLS session with a peer.
class SecureChannel {
 public:
  class Sink {
   public:
    virtual ~Sink() = default;
    // Ciphertext to send: one datagram (DTLS), or bytes of the stream (TLS).
    virtual void send_ciphertext(std::span<const uint8_t> bytes) = 0;
    // Plaintext received: one CoAP datagram (DTLS), or stream bytes (TLS).
    virtual void on_plaintext(std::span<const uint8_t> bytes) = 0;
    virtual void on_established(const PeerSecurity& peer) = 0;
    // The handshake or the session failed (an alert went out when mbedTLS
    // had one to send); why is a sentence. Nothing more comes after.
    virtual void on_failed(HandshakeFailure kind, const std::string& why) = 0;
    // The peer sent close_notify. Nothing more comes after.
    virtual void on_peer_closed() = 0;
  };
  enum class Transport : uint8_t { kDatagram, kStream };

  // A client channel: starts the handshake (sends ClientHello) at once.
  static Result<std::unique_ptr<SecureChannel>> client(SecurityContext& ctx, Transport transport,
                                                       const ClientSecurity& options, Sink& sink,
                                                       TimePoint now);
  // A TLS server channel for an accepted connection. (DTLS server channels
  // come from DtlsListener, after the cookie exchange.)
  static Result<std::unique_ptr<SecureChannel>> server(SecurityContext& ctx, Sink& sink);

  virtual ~SecureChannel() = default;
  // Ciphertext received.
  virtual void feed(std::span<const uint8_t> bytes, TimePoint now) = 0;
  // Sends plaintext (once established): a datagram, or stream bytes.
  virtual Status write(std::span<const uint8_t> bytes, TimePoint now) = 0;
  // Sends close_notify; nothing is sent or delivered afterwards.
  virtual void close(TimePoint now) = 0;
  // The retransmission timer (DTLS handshake) is due.
  virtual void on_timer(TimePoint now) = 0;
  // When on_timer must run; kNever when no timer runs.
  virtual TimePoint next_timer() const = 0;
  virtual bool established() const = 0;
  // The sink events go to from now on (a listener's channel moves to its
  // session).
  virtual void set_sink(Sink& sink) = 0;
};

// The DTLS server's front door: ClientHellos from peers without a session
// are answered with a HelloVerifyRequest carrying a cookie (RFC 6347 4.2.1),
// statelessly: one context is reused for every such peer, so a flood of
// spoofed ClientHellos costs no memory. Only a ClientHello that returns a
// valid cookie becomes a channel.
class DtlsListener {
 public:
  static Result<std::unique_ptr<DtlsListener>> create(SecurityContext& ctx);
  ~DtlsListener();

  struct Outcome {
    enum class Kind : uint8_t {
      kCookieSent,  // a HelloVerifyRequest went out (through `send`)
      kDropped,     // not a ClientHello we can answer
      kAccepted,    // cookie valid: `channel` continues the handshake
      kRefused,     // cookie valid, but there was no room for a handshake
    } kind = Kind::kDropped;
    std::unique_ptr<SecureChannel> channel;
    std::string why;  // kDropped: a sentence
  };
  // A datagram from `peer`, which has no session. `send` transmits to it.
  // Without `room` a handshake may not start: a valid cookie is refused.
  Outcome accept(const Address& peer, std::span<const uint8_t> datagram, TimePoint now, bool room,
                 const std::function<void(std::span<const uint8_t>)>& send);

  struct Impl;

 private:
  explicit DtlsListener(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The longest PSK that DTLS/TLS take here (mbedTLS's MBEDTLS_PSK_MAX_LEN).
inline constexpr std::size_t kMaxPskBytes = 32;

// A PSK key as people write it: text, or hex after "0x", 1 to kMaxPskBytes
// bytes. The error is a phrase completing "the key ...".
Result<std::vector<uint8_t>> parse_psk_key(std::string_view s);

// Whether the certificate (DER) names `host`: an IP literal against its
// subjectAltName iPAddress entries; a DNS name against its dNSName entries
// (a "*." wildcard covers one label), or the CN when it has none.
bool certificate_names_host(std::span<const uint8_t> der, const std::string& host);

}  // namespace coap
