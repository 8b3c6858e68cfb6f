// The control socket: a Unix stream socket (mode 0660) on the libuv loop,
// speaking the protocol of daemon/control/protocol.h. Requests are answered
// asynchronously; a client that sends garbage gets an error line, one that
// sends an endless line or stops reading is disconnected. Neither ever
// blocks the loop or the engine.
//
// Memory: what all clients together hold (their unread input and the replies
// and events queued for them, counted in what they really cost: bytes,
// libuv write request and allocator overhead) is bounded by kMaxTotalCost,
// and one client's share by kMaxClientCost. A client that would go past
// either is disconnected; a follower that stops reading while sessions churn
// therefore costs at most its share.
#pragma once

#include <sys/types.h>
#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "coap/result.h"
#include "daemon/control/line_reader.h"
#include "daemon/control/protocol.h"

namespace coapd {

class ControlServer;

// Answers one request; may outlive the client (then answering is a no-op).
// Loop thread only.
class Responder {
 public:
  Responder(ControlServer* server, uint64_t client, nlohmann::json id, uid_t uid)
      : server_(server), client_(client), id_(std::move(id)), uid_(uid) {}
  // Exactly one of these, once, per request.
  void ok(nlohmann::json result) const;
  void error(const std::string& message) const;
  uint64_t client() const { return client_; }
  // The request's id, for messages streamed before the answer.
  const nlohmann::json& id() const { return id_; }
  // The caller's user id (SO_PEERCRED), for the audit log.
  uid_t uid() const { return uid_; }

 private:
  ControlServer* server_;
  uint64_t client_;
  nlohmann::json id_;
  uid_t uid_;
};

class ControlServer {
 public:
  // Called for every well-formed request of a known command.
  using Handler =
      std::function<void(control::Command cmd, const nlohmann::json& request, Responder r)>;

  // Memory the control socket may hold (lines read, answers and events
  // queued, with their allocation overhead): per client, so that one large
  // answer (sessions of 10,000 peers) fits; in all, so that clients that
  // never read cannot grow coapd by more than this.
  static constexpr std::size_t kMaxClientCost = 4 << 20;
  static constexpr std::size_t kMaxTotalCost = 24 << 20;
  static constexpr std::size_t kMaxClients = 4096;

  ControlServer(uv_loop_t* loop, std::string path, Handler handler);
  ~ControlServer();

  coap::Status start();
  // Closes the listener and every client, removes the socket file. Replies
  // already queued are still delivered (each client is shut down for
  // writing, then closed; one that does not read is closed after
  // kDrainTimeMs).
  void stop();

  // Loop thread: from now on `client` receives every event passed to
  // send_events (until it disconnects: on_unfollow then runs once).
  void follow(uint64_t client);
  void send_events(const std::vector<nlohmann::json>& events);
  void set_on_unfollow(std::function<void()> f) { on_unfollow_ = std::move(f); }
  // A message before the answer of a streaming request (observe); dropped
  // when the client is gone.
  void stream(uint64_t client, const nlohmann::json& msg) { send_line(client, msg); }
  // Loop thread: runs with the id of every client that goes away (closed by
  // either side), after its requests' Responders stopped reaching it.
  void set_on_disconnect(std::function<void(uint64_t client)> f) { on_disconnect_ = std::move(f); }

  std::size_t client_count() const { return clients_.size(); }
  // Memory all clients hold now, as counted against kMaxTotalCost.
  std::size_t total_cost() const { return total_cost_; }

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
    uid_t uid = 0;
    control::LineReader reader;
    std::size_t queued_cost = 0;  // replies and events not yet written
    std::size_t input_cost = 0;   // what its reader holds, as last counted
    bool following = false;
    // Requests handed to the handler and not answered yet.
    std::size_t unanswered = 0;
    // The client shut down its sending side (`echo '{...}' | nc -U`): it is
    // closed once every request it sent has been answered.
    bool read_eof = false;
  };
  struct WriteReq;

  static void on_connection(uv_stream_t* server, int status);
  static void on_alloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void free_client_handle(uv_handle_t* handle);
  static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void on_written(uv_write_t* req, int status);
  void accept_client(uv_stream_t* server);
  // Feeds received bytes; false when the client was closed for it.
  bool take_input(Client& c, std::string_view bytes);
  // Closes the clients holding most until `need` more bytes fit in the total
  // bound; false if the requester itself holds most.
  bool make_room(std::size_t need, uint64_t requester);
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
  void start_drain_timer();
  static void force_close(ClientHandle* h);

  uv_loop_t* loop_;
  std::string path_;
  Handler handler_;
  uv_pipe_t* listener_ = nullptr;
  uint64_t next_client_ = 1;
  std::unordered_map<uint64_t, std::unique_ptr<Client>> clients_;
  std::size_t total_cost_ = 0;
  std::size_t releasing_ = 0;  // part of total_cost_ that closed clients' writes hold
  // Clients being shut down (their last replies still being written). One
  // that does not read would keep the loop alive: stop() closes what is left
  // after kDrainTimeMs.
  std::unordered_set<ClientHandle*> draining_;
  uv_timer_t* drain_timer_ = nullptr;
  static constexpr uint64_t kDrainTimeMs = 1000;
  std::function<void()> on_unfollow_;
  std::function<void(uint64_t)> on_disconnect_;
  char read_buffer_[65536];
};

}  // namespace coapd
