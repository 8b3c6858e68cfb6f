// DtlsListener: the stateless cookie exchange in front of DTLS sessions.
#include <optional>

#include "coap/security_internal.h"

namespace coap {
namespace {

// The cookie of a datagram that starts with a whole ClientHello (DTLS record
// header 13 bytes, handshake header 12, then version 2, random 32, session
// id, cookie); nullopt for anything else.
std::optional<std::span<const uint8_t>> hello_cookie(std::span<const uint8_t> d) {
  constexpr std::size_t kBody = 13 + 12;
  if (d.size() < kBody + 2 + 32 + 1 || d[0] != 22 || d[13] != 1) return std::nullopt;
  if (d[19] != 0 || d[20] != 0 || d[21] != 0) return std::nullopt;  // a later fragment
  std::size_t at = kBody + 2 + 32;
  at += 1 + d[at];  // session id
  if (at >= d.size() || at + 1 + d[at] > d.size()) return std::nullopt;
  return d.subspan(at + 1, d[at]);
}

}  // namespace

struct DtlsListener::Impl {
  explicit Impl(SecurityContext::Impl& c) : ctx(c) {}
  // The context the next ClientHello is processed in; handed over as the
  // session's channel when its cookie is valid, and replaced.
  Result<std::unique_ptr<MbedChannel>> fresh() {
    auto channel = std::make_unique<MbedChannel>(ctx, SecureChannel::Transport::kDatagram, nullptr);
    if (Status st = channel->setup(ctx.dtls_server); !st) return std::move(st).take_error();
    return channel;
  }

  SecurityContext::Impl& ctx;
  std::unique_ptr<MbedChannel> pending;
};

DtlsListener::DtlsListener(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DtlsListener::~DtlsListener() = default;

Result<std::unique_ptr<DtlsListener>> DtlsListener::create(SecurityContext& ctx) {
  if (!ctx.can_serve()) return error("no credentials to serve DTLS with");
  auto impl = std::make_unique<Impl>(ctx.impl());
  auto pending = impl->fresh();
  if (!pending) return std::move(pending).take_error();
  impl->pending = std::move(*pending);
  return std::unique_ptr<DtlsListener>(new DtlsListener(std::move(impl)));
}

DtlsListener::Outcome DtlsListener::accept(
    const Address& peer, std::span<const uint8_t> datagram, TimePoint now, bool room,
    const std::function<void(std::span<const uint8_t>)>& send) {
  Outcome out;
  if (!room) {
    // No handshake may start: a ClientHello with a valid cookie is refused
    // before anything is computed or sent for it. (One without a cookie still
    // gets its HelloVerifyRequest below: stateless, and it costs no state.)
    const auto cookie = hello_cookie(datagram);
    const TransportId id = transport_id(peer);
    if (cookie && !cookie->empty() &&
        mbedtls_ssl_cookie_check(&impl_->ctx.cookies, cookie->data(), cookie->size(), id.data(),
                                 id.size()) == 0) {
      out.kind = Outcome::Kind::kRefused;
      return out;
    }
  }
  MbedChannel& c = *impl_->pending;
  if (Status st = c.reset_for(peer); !st) {
    out.why = st.error();
    return out;
  }
  c.set_now(now);
  c.set_send_override(&send);
  c.push_input(datagram);
  const int rc = c.step_handshake();
  c.set_send_override(nullptr);
  if (rc == MBEDTLS_ERR_SSL_HELLO_VERIFY_REQUIRED) {
    out.kind = Outcome::Kind::kCookieSent;
    return out;
  }
  if (rc != MBEDTLS_ERR_SSL_WANT_READ && rc != MBEDTLS_ERR_SSL_WANT_WRITE) {
    out.why = "not a ClientHello that can be answered: " + mbedtls_error_text(rc);
    return out;
  }
  // The cookie was valid and the server's first flight went out through
  // `send`: this context is the peer's now.
  auto next = impl_->fresh();
  if (!next) {
    out.why = next.error();
    return out;
  }
  out.kind = Outcome::Kind::kAccepted;
  out.channel = std::move(impl_->pending);
  impl_->pending = std::move(*next);
  return out;
}

}  // namespace coap
