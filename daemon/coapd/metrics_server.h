// --metrics-listen: GET /metrics over HTTP/1.1 on a kernel TCP socket of the
// host, on the libuv loop, for a Prometheus server to scrape. It answers
// one request per connection (Connection: close): GET or HEAD of /metrics
// gets 200 with the text exposition format (version 0.0.4), another path
// 404, another method 405, anything unparsable 400. A client that sends
// more than kMaxRequestBytes of header, or takes longer than kTimeoutMs, is
// disconnected; at most kMaxClients are served at once (one more is closed
// at once). Nothing here blocks the loop or touches the engine: the text
// comes from `source`, asynchronously.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "coap/result.h"
#include "config/config.h"

namespace coapd {

// What an HTTP request asks for, from its head (request line and headers).
struct MetricsRequest {
  enum class Answer { kMetrics, kHeadOnly, kNotFound, kBadMethod, kBadRequest };
  Answer answer = Answer::kBadRequest;
};
// Parses the head up to and including its blank line.
MetricsRequest parse_metrics_request(std::string_view head);
// The whole response for `answer`; `body` is used for kMetrics and kHeadOnly.
std::string metrics_response(MetricsRequest::Answer answer, const std::string& body);

class MetricsServer {
 public:
  // Calls done(text) later, on the loop thread, with the metrics text.
  using Source = std::function<void(std::function<void(std::string)> done)>;

  static constexpr std::size_t kMaxClients = 64;
  static constexpr std::size_t kMaxRequestBytes = 8192;
  static constexpr uint64_t kTimeoutMs = 10000;

  MetricsServer(uv_loop_t* loop, config::Config::ListenAddress where, Source source);
  ~MetricsServer();

  // Binds and listens (nothing when `where` is off); the error names the
  // address and the reason.
  coap::Status start();
  // Closes the listener and every connection; answers still on their way
  // from `source` are dropped.
  void stop();

  std::size_t connections() const { return conns_.size(); }

  struct Conn;  // one connection (metrics_server.cc)

 private:
  static void on_connection(uv_stream_t* server, int status);
  void accept_one();
  void on_data(uint64_t id, std::string_view bytes);
  void answer(uint64_t id, const std::string& response);
  void close_conn(uint64_t id);

  uv_loop_t* loop_;
  config::Config::ListenAddress where_;
  Source source_;
  uv_tcp_t* listener_ = nullptr;  // freed in its close callback
  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, std::unique_ptr<Conn>> conns_;
  // Answers from `source` check it: none arrives after the server is gone.
  std::shared_ptr<MetricsServer*> alive_;
};

}  // namespace coapd
