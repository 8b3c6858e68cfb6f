#include "test/lwip_tap/recording_sink.h"

namespace lwip_tap::test {
namespace {

std::vector<uint8_t> copy_out(const pbuf* p) {
  std::vector<uint8_t> out(p->tot_len);
  pbuf_copy_partial(p, out.data(), p->tot_len, 0);
  return out;
}

}  // namespace

using Kind = SinkEvent::Kind;

void RecordingSink::record(SinkEvent e) {
  LWIP_ASSERT_CORE_LOCKED();  // the TransportSink contract
  std::lock_guard<std::mutex> lock(mu_);
  events_.push_back(std::move(e));
}

void RecordingSink::on_udp_datagram(coap::UdpSocket, const coap::Address& from, const pbuf* p,
                                    bool) {
  record({Kind::kUdp, 0, from, {}, ERR_OK, copy_out(p)});
}

void RecordingSink::on_tcp_accepted(ConnId conn, coap::ListenerKind, const coap::Address& peer,
                                    const coap::Address&) {
  record({Kind::kAccepted, conn, peer});
}

void RecordingSink::on_tcp_connected(ConnId conn, const coap::Address& local) {
  record({Kind::kConnected, conn, local});
}

void RecordingSink::on_tcp_data(ConnId conn, const pbuf* p) {
  record({Kind::kData, conn, {}, {}, ERR_OK, copy_out(p)});
}

void RecordingSink::on_tcp_peer_closed(ConnId conn) { record({Kind::kPeerClosed, conn}); }

void RecordingSink::on_tcp_error(ConnId conn, coap::TcpError error, err_t lwip_err) {
  record({Kind::kError, conn, {}, error, lwip_err});
}

void RecordingSink::on_tcp_writable(ConnId conn) { record({Kind::kWritable, conn}); }

std::vector<SinkEvent> RecordingSink::events() const {
  std::lock_guard<std::mutex> lock(mu_);
  return events_;
}

std::size_t RecordingSink::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return events_.size();
}

std::size_t RecordingSink::count(Kind kind, ConnId conn) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::size_t n = 0;
  for (const auto& e : events_) n += e.kind == kind && e.conn == conn;
  return n;
}

std::size_t RecordingSink::count_for(ConnId conn) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::size_t n = 0;
  for (const auto& e : events_) n += e.kind != Kind::kUdp && e.conn == conn;
  return n;
}

std::vector<uint8_t> RecordingSink::data(ConnId conn) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<uint8_t> out;
  for (const auto& e : events_)
    if (e.kind == Kind::kData && e.conn == conn)
      out.insert(out.end(), e.data.begin(), e.data.end());
  return out;
}

std::optional<ConnId> RecordingSink::accepted_from(uint16_t peer_port) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::optional<ConnId> id;
  for (const auto& e : events_)
    if (e.kind == Kind::kAccepted && e.address.port == peer_port) id = e.conn;
  return id;
}

}  // namespace lwip_tap::test
