// What the secure modes of coap_load share: the client's SecurityContext
// (PSK from the command line), coapd's own coap::SecureChannel over kernel
// sockets (memory BIOs: ciphertext in and out through the mode's code), and
// time in the form the channel takes.
#pragma once

#include <memory>
#include <string>

#include "coap/security.h"
#include "coap/time.h"
#include "test/bench/load_common.h"

namespace bench {

// now_ns() as the channel's clock (both are CLOCK_MONOTONIC).
inline coap::TimePoint channel_time(int64_t ns) {
  return coap::TimePoint(std::chrono::nanoseconds(ns));
}

// The PSK client context for opts.psk_identity / opts.psk_key; exits with
// status 2 when they are unusable.
std::unique_ptr<coap::SecurityContext> make_client_context(const Options& opts);

// What every channel of a run is opened with (the cipher suites to offer).
coap::ClientSecurity client_security(const Options& opts);

// Nanoseconds of the handshake timeout.
inline int64_t handshake_timeout_ns(const Options& opts) {
  return static_cast<int64_t>(opts.handshake_timeout_s * 1e9);
}

// A Sink that forwards to the owner's handlers for connection `index`. The
// owner must outlive it; the handlers run inside SecureChannel calls, so
// they only record what happened (a failure is acted on after the call).
template <typename Owner>
class ForwardSink final : public coap::SecureChannel::Sink {
 public:
  ForwardSink(Owner& owner, uint32_t index) : owner_(owner), index_(index) {}
  void send_ciphertext(std::span<const uint8_t> b) override { owner_.on_ciphertext(index_, b); }
  void on_plaintext(std::span<const uint8_t> b) override { owner_.on_plaintext(index_, b); }
  void on_established(const coap::PeerSecurity& p) override { owner_.on_established(index_, p); }
  void on_failed(coap::HandshakeFailure kind, const std::string& why) override {
    owner_.on_failed(index_, std::string("tls_") + coap::handshake_failure_name(kind), why);
  }
  void on_peer_closed() override { owner_.on_failed(index_, "close_notify", "peer closed"); }

 private:
  Owner& owner_;
  uint32_t index_;
};

}  // namespace bench
