// The control socket: a Unix stream socket (mode 0660) on the libuv loop,
// speaking the protocol of control_protocol.h. Requests are answered
// asynchronously; a client that sends garbage gets an error line, one that
// sends an endless line or stops reading is disconnected. Neither ever
// blocks the loop or the engine.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <unordered_set>

namespace coapd {

class ControlServer;

// Answers one request; may outlive the client (then answering is a no-op).
// Loop thread only.
class Responder {
 public:
  Responder(ControlServer* server, uint64_t client, nlohmann::json id)
      : server_(server), client_(client), id_(std::move(id)) {}
  // Exactly one of these, once, per request.
  void ok(nlohmann::json result) const;
  void error(const std::string& message) const;
  uint64_t client() const { return client_; }

 private:
  ControlServer* server_;
  uint64_t client_;
  nlohmann::json id_;
};

class ControlServer {
 public:
  // Called for every well-formed request.
  using Handler = std::function<void(const std::string& cmd, const nlohmann::json& request,
                                     Responder responder)>;

  ControlServer(uv_loop_t* loop, std::string path, Handler handler);
  ~ControlServer();

  bool start(std::string* error);
  // Closes the listener and every client, removes the socket file. Replies
  // already queued are still delivered (each client is shut down for
  // writing, then closed).
  void stop();

  // Loop thread: from now on `client` receives every event passed to
  // send_events (until it disconnects: on_unfollow then runs once).
  void follow(uint64_t client);
  void send_events(const std::vector<nlohmann::json>& events);
  void set_on_unfollow(std::function<void()> f) { on_unfollow_ = std::move(f); }

  std::size_t client_count() const { return clients_.size(); }

 private:
  friend class Responder;
  // A client's libuv handle; the callbacks find the client by id, so one
  // that fires after the client is gone does nothing.
  struct ClientHandle {
    uv_pipe_t pipe;  // first member: the handle pointer is the struct pointer
    ControlServer* server;
    uint64_t id;
  };
  struct Client {
    uint64_t id;
    ClientHandle* handle;  // freed in its close callback
    std::string inbuf;
    bool following = false;
    // Requests handed to the handler and not answered yet.
    std::size_t unanswered = 0;
    // The client shut down its sending side (`echo '{...}' | nc -U`): it is
    // closed once every request it sent has been answered.
    bool read_eof = false;
  };

  static void on_connection(uv_stream_t* server, int status);
  static void on_alloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void free_client_handle(uv_handle_t* handle);
  static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  void handle_line(Client& c, const std::string& line);
  void send_line(uint64_t client, const nlohmann::json& msg);
  // A Responder's answer: sent, and the client closed if it is done.
  void send_reply(uint64_t client, const nlohmann::json& msg);
  void finish_if_done(uint64_t client);
  // Forgets the client (ending its follow) and stops reading; its handle
  // is the caller's to close. nullptr when there is no such client.
  ClientHandle* detach_client(uint64_t client);
  // Closes at once; queued replies are dropped (a client gone bad).
  void close_client(uint64_t client);
  // Closes after the queued replies are written.
  void shutdown_client(uint64_t client);

  uv_loop_t* loop_;
  std::string path_;
  Handler handler_;
  uv_pipe_t* listener_ = nullptr;
  uint64_t next_client_ = 1;
  std::unordered_map<uint64_t, std::unique_ptr<Client>> clients_;
  // Clients being shut down (their last replies still being written). One
  // that does not read would keep the loop alive: stop() closes what is left
  // after kDrainTime.
  std::unordered_set<ClientHandle*> draining_;
  uv_timer_t* drain_timer_ = nullptr;
  static constexpr uint64_t kDrainTimeMs = 1000;
  static void force_close(ClientHandle* h);
  std::function<void()> on_unfollow_;
  char read_buffer_[65536];
};

}  // namespace coapd
