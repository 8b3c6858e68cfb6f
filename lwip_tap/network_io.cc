#include "lwip_tap/network_io.h"

#include <spdlog/spdlog.h>

#include "coap/message.h"

namespace lwip_tap {
namespace {

// Collections that grew past these give their memory back after a flush.
constexpr std::size_t kKeepBytes = 1 << 20;
constexpr std::size_t kKeepCommands = 16384;

}  // namespace

void trace_datagram(const char* dir, const coap::Address& peer, std::span<const uint8_t> bytes) {
  if (!spdlog::should_log(spdlog::level::trace)) return;
  coap::Message m;
  const coap::ParseError err = coap::parse_udp(bytes, m);
  spdlog::trace("udp {} {} {}B: {}", dir, peer.to_string(), bytes.size(),
                err == coap::ParseError::kNone ? coap::describe(m) : coap::parse_error_name(err));
}

void LwipNetworkIo::send_datagram(coap::UdpSocket socket, const coap::Address& to,
                                  std::span<const uint8_t> bytes) {
  commands_.push_back(Command{Command::kDatagram, socket, 0, to,
                              static_cast<uint32_t>(bytes_.size()),
                              static_cast<uint32_t>(bytes.size())});
  bytes_.insert(bytes_.end(), bytes.begin(), bytes.end());
}

coap::ConnId LwipNetworkIo::tcp_connect(const coap::Address& to) {
  const coap::ConnId id = tcp_->allocate_id();
  commands_.push_back(Command{Command::kConnect, coap::UdpSocket::kPlain, id, to});
  return id;
}

void LwipNetworkIo::tcp_want_write(coap::ConnId conn) {
  commands_.push_back(Command{Command::kWrite, coap::UdpSocket::kPlain, conn});
}

void LwipNetworkIo::tcp_consumed(coap::ConnId conn, std::size_t n) {
  Command c{Command::kConsumed, coap::UdpSocket::kPlain, conn};
  c.length = static_cast<uint32_t>(n);
  commands_.push_back(c);
}

void LwipNetworkIo::tcp_close(coap::ConnId conn) {
  commands_.push_back(Command{Command::kClose, coap::UdpSocket::kPlain, conn});
}

void LwipNetworkIo::tcp_abort(coap::ConnId conn) {
  commands_.push_back(Command{Command::kAbort, coap::UdpSocket::kPlain, conn});
}

bool LwipNetworkIo::flush(coap::Endpoint& ep, coap::TimePoint now) {
  if (commands_.empty()) return false;
  {
    BatchedCoreLock lock(stack_, tx_);
    flushing_ = true;
    // Indexed, not iterated: commands may be added while they run.
    for (std::size_t i = 0; i < commands_.size(); ++i) run(commands_[i], ep, now);
    // One tcp_output per connection per flush: pipelined answers leave in as
    // few segments as TCP allows.
    for (coap::ConnId conn : written_) tcp_->output(conn);
    flushing_ = false;
  }
  written_.clear();
  commands_.clear();
  bytes_.clear();
  trim();
  return true;
}

void LwipNetworkIo::run(const Command& c, coap::Endpoint& ep, coap::TimePoint now) {
  switch (c.kind) {
    case Command::kDatagram: {
      const std::span<const uint8_t> bytes(bytes_.data() + c.offset, c.length);
      trace_datagram("to", c.addr, bytes);
      UdpTransport* udp = udp_[static_cast<std::size_t>(c.socket)];
      if (udp && !udp->send(c.addr, bytes))
        spdlog::debug("udp: send to {} failed", c.addr.to_string());
      break;
    }
    case Command::kConnect: tcp_->connect(c.conn, c.addr); break;
    case Command::kWrite: write_pending(c.conn, ep, now); break;
    case Command::kConsumed: tcp_->recved(c.conn, c.length); break;
    case Command::kClose: tcp_->close(c.conn); break;
    case Command::kAbort: tcp_->abort(c.conn); break;
  }
}

void LwipNetworkIo::write_pending(coap::ConnId conn, coap::Endpoint& ep, coap::TimePoint now) {
  for (;;) {
    const auto pending = ep.tcp_pending(conn);
    if (pending.empty()) return;
    const std::size_t n = tcp_->write(conn, pending);
    if (n == 0) return;  // full: tcp_sent will report room
    written_.insert(conn);
    ep.tcp_written(conn, n, now);
  }
}

void LwipNetworkIo::trim() {
  if (bytes_.capacity() > kKeepBytes) std::vector<uint8_t>().swap(bytes_);
  if (commands_.capacity() > kKeepCommands) std::vector<Command>().swap(commands_);
}

}  // namespace lwip_tap
