#include "daemon/coapd/metrics_server.h"

#include <spdlog/spdlog.h>

#include <cstring>

namespace coapd {

MetricsRequest parse_metrics_request(std::string_view head) {
  using Answer = MetricsRequest::Answer;
  const std::size_t eol = head.find("\r\n");
  const std::string_view line = head.substr(0, eol);
  const std::size_t sp1 = line.find(' ');
  const std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (eol == std::string_view::npos || sp2 == std::string_view::npos ||
      line.substr(sp2 + 1).rfind("HTTP/1.", 0) != 0)
    return {Answer::kBadRequest};
  const std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  target = target.substr(0, target.find('?'));
  if (target != "/metrics") return {Answer::kNotFound};
  if (method == "GET") return {Answer::kMetrics};
  if (method == "HEAD") return {Answer::kHeadOnly};
  return {Answer::kBadMethod};
}

std::string metrics_response(MetricsRequest::Answer answer, const std::string& body) {
  using Answer = MetricsRequest::Answer;
  std::string status, type = "text/plain; charset=utf-8", extra, text;
  switch (answer) {
    case Answer::kMetrics:
    case Answer::kHeadOnly:
      status = "200 OK";
      type = "text/plain; version=0.0.4; charset=utf-8";
      text = body;
      break;
    case Answer::kNotFound: status = "404 Not Found", text = "coapd serves /metrics only\n"; break;
    case Answer::kBadMethod:
      status = "405 Method Not Allowed", extra = "Allow: GET, HEAD\r\n";
      text = "/metrics takes GET or HEAD\n";
      break;
    case Answer::kBadRequest: status = "400 Bad Request", text = "not an HTTP/1.x request\n"; break;
  }
  std::string out = "HTTP/1.1 " + status + "\r\nContent-Type: " + type +
                    "\r\nContent-Length: " + std::to_string(text.size()) + "\r\n" + extra +
                    "Connection: close\r\n\r\n";
  if (answer != Answer::kHeadOnly) out += text;
  return out;
}

struct MetricsServer::Conn {
  uv_tcp_t tcp;  // first member: the handle pointer is the struct pointer
  uv_timer_t timer;
  MetricsServer* server;
  uint64_t id;
  std::string head;
  bool asked = false;  // the request is complete; no more input is read
  int open_handles = 2;
};

namespace {

struct WriteReq {
  uv_write_t req;
  std::string bytes;
};

void release_handle(uv_handle_t* h) {
  auto* c = static_cast<MetricsServer::Conn*>(h->data);
  if (--c->open_handles == 0) delete c;
}

}  // namespace

MetricsServer::MetricsServer(uv_loop_t* loop, config::Config::ListenAddress where, Source source)
    : loop_(loop), where_(std::move(where)), source_(std::move(source)) {}

MetricsServer::~MetricsServer() { stop(); }

coap::Status MetricsServer::start() {
  if (where_.host.empty()) return {};  // --metrics-listen off
  sockaddr_storage addr{};
  const bool v6 = where_.host.find(':') != std::string::npos;
  int rc =
      v6 ? uv_ip6_addr(where_.host.c_str(), where_.port, reinterpret_cast<sockaddr_in6*>(&addr))
         : uv_ip4_addr(where_.host.c_str(), where_.port, reinterpret_cast<sockaddr_in*>(&addr));
  listener_ = new uv_tcp_t;
  uv_tcp_init(loop_, listener_);
  listener_->data = this;
  if (rc == 0) rc = uv_tcp_bind(listener_, reinterpret_cast<const sockaddr*>(&addr), 0);
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(listener_), 64, on_connection);
  if (rc != 0) {
    stop();
    return coap::error("--metrics-listen ", where_.str(), ": ", uv_strerror(rc));
  }
  alive_ = std::make_shared<MetricsServer*>(this);
  spdlog::info("metrics: serving GET /metrics on http://{}/metrics", where_.str());
  return {};
}

void MetricsServer::stop() {
  alive_.reset();
  while (!conns_.empty()) close_conn(conns_.begin()->first);
  if (!listener_) return;
  uv_close(reinterpret_cast<uv_handle_t*>(listener_),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_tcp_t*>(h); });
  listener_ = nullptr;
}

void MetricsServer::on_connection(uv_stream_t* server, int status) {
  if (status < 0) return spdlog::warn("metrics: accept failed: {}", uv_strerror(status));
  static_cast<MetricsServer*>(server->data)->accept_one();
}

void MetricsServer::accept_one() {
  auto owned = std::make_unique<Conn>();
  Conn* c = owned.get();
  c->server = this;
  c->id = next_id_++;
  uv_tcp_init(loop_, &c->tcp);
  uv_timer_init(loop_, &c->timer);
  c->tcp.data = c->timer.data = c;
  conns_.emplace(c->id, std::move(owned));
  if (uv_accept(reinterpret_cast<uv_stream_t*>(listener_),
                reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0 ||
      conns_.size() > kMaxClients)
    return close_conn(c->id);
  uv_timer_start(
      &c->timer,
      [](uv_timer_t* t) {
        auto* conn = static_cast<Conn*>(t->data);
        conn->server->close_conn(conn->id);
      },
      kTimeoutMs, 0);
  uv_read_start(
      reinterpret_cast<uv_stream_t*>(&c->tcp),
      [](uv_handle_t*, size_t, uv_buf_t* buf) {
        static char buffer[4096];  // loop thread only; consumed before the next read
        *buf = uv_buf_init(buffer, sizeof buffer);
      },
      [](uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
        auto* conn = static_cast<Conn*>(s->data);
        // The client may shut down its side once it has asked (nc, curl
        // --http0.9 style): the answer is still owed.
        if (n == UV_EOF && conn->asked) return static_cast<void>(uv_read_stop(s));
        if (n < 0) return conn->server->close_conn(conn->id);
        if (n > 0) conn->server->on_data(conn->id, {buf->base, static_cast<std::size_t>(n)});
      });
}

void MetricsServer::on_data(uint64_t id, std::string_view bytes) {
  Conn& c = *conns_.at(id);
  if (c.asked) return;  // a body or a second request: ignored, the answer closes
  c.head.append(bytes);
  const std::size_t end = c.head.find("\r\n\r\n");
  if (end == std::string::npos) {
    if (c.head.size() > kMaxRequestBytes) close_conn(id);
    return;
  }
  c.asked = true;
  const MetricsRequest req = parse_metrics_request(std::string_view(c.head).substr(0, end + 4));
  using Answer = MetricsRequest::Answer;
  if (req.answer != Answer::kMetrics && req.answer != Answer::kHeadOnly)
    return answer(id, metrics_response(req.answer, {}));
  source_([weak = std::weak_ptr<MetricsServer*>(alive_), id, a = req.answer](std::string text) {
    const std::shared_ptr<MetricsServer*> self = weak.lock();
    if (self && (*self)->conns_.count(id)) (*self)->answer(id, metrics_response(a, text));
  });
}

void MetricsServer::answer(uint64_t id, const std::string& response) {
  Conn& c = *conns_.at(id);
  auto* w = new WriteReq{{}, response};
  w->req.data = this;
  uv_buf_t buf = uv_buf_init(w->bytes.data(), static_cast<unsigned>(w->bytes.size()));
  const int rc = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&c.tcp), &buf, 1,
                          [](uv_write_t* req, int) { delete reinterpret_cast<WriteReq*>(req); });
  if (rc != 0) {
    delete w;
    return close_conn(id);
  }
  // Closed once written: a shutdown request completes after the write.
  auto* sd = new uv_shutdown_t;
  sd->data = reinterpret_cast<void*>(static_cast<uintptr_t>(id));
  if (uv_shutdown(sd, reinterpret_cast<uv_stream_t*>(&c.tcp), [](uv_shutdown_t* req, int) {
        auto* conn = static_cast<Conn*>(req->handle->data);
        const uint64_t conn_id = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(req->data));
        delete req;
        if (conn->server && conn->server->conns_.count(conn_id)) conn->server->close_conn(conn_id);
      }) != 0) {
    delete sd;
    close_conn(id);
  }
}

void MetricsServer::close_conn(uint64_t id) {
  const auto it = conns_.find(id);
  if (it == conns_.end()) return;
  Conn* c = it->second.release();
  conns_.erase(it);
  c->server = nullptr;
  uv_timer_stop(&c->timer);
  uv_close(reinterpret_cast<uv_handle_t*>(&c->timer), release_handle);
  uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), release_handle);
}

}  // namespace coapd
