#include "daemon/coapd/control_server.h"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace coapd {
namespace {

// Whether the peer closed its end entirely: a Unix stream socket whose peer is
// gone polls HUP, one whose peer only shut down its writing side does not.
bool peer_closed(uv_stream_t* stream) {
  uv_os_fd_t fd;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(stream), &fd) != 0) return false;
  pollfd p{fd, POLLOUT, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & POLLHUP);
}

// What the heap spends on a block besides its bytes (glibc: a header and
// rounding up to 16).
constexpr std::size_t kAllocOverhead = 32;

// True when something accepts connections on path (another coapd).
bool socket_in_use(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  const bool used = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return used;
}

uid_t peer_uid(uv_pipe_t* pipe) {
  uv_os_fd_t fd;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(pipe), &fd) != 0) return static_cast<uid_t>(-1);
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return static_cast<uid_t>(-1);
  return cred.uid;
}

coap::Status prepare_socket_path(const std::string& path) {
  sockaddr_un probe{};
  if (path.empty() || path.size() >= sizeof probe.sun_path)
    return coap::error("control socket path '", path, "' must be 1 to ",
                       std::to_string(sizeof probe.sun_path - 1), " characters");
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!dir.empty() && !std::filesystem::exists(dir, ec)) {
    std::filesystem::create_directories(dir, ec);
    if (ec)
      return coap::error("cannot create directory ", dir.string(),
                         " for the control socket: ", ec.message());
  }
  if (std::filesystem::exists(path, ec)) {
    if (socket_in_use(path))
      return coap::error("control socket ", path, " is in use (is another coapd running?)");
    ::unlink(path.c_str());  // left behind by a coapd that did not exit cleanly
  }
  return {};
}

}  // namespace

struct ControlServer::WriteReq {
  uv_write_t req;
  std::string data;
  std::size_t cost = 0;
};

void Responder::ok(nlohmann::json result) const {
  server_->send_reply(client_, control::ok_message(id_, std::move(result)));
}

void Responder::error(const std::string& message) const {
  server_->send_reply(client_, control::error_message(id_, message));
}

ControlServer::ControlServer(uv_loop_t* loop, std::string path, Handler handler)
    : loop_(loop), path_(std::move(path)), handler_(std::move(handler)) {}

ControlServer::~ControlServer() { stop(); }

coap::Status ControlServer::start() {
  if (coap::Status st = prepare_socket_path(path_); !st) return st;
  listener_ = new uv_pipe_t;
  uv_pipe_init(loop_, listener_, 0);
  listener_->data = this;
  // The socket file is created with the mode the umask allows: keep it from
  // being world-accessible between bind and chmod.
  const mode_t old_mask = ::umask(0117);
  int rc = uv_pipe_bind(listener_, path_.c_str());
  ::umask(old_mask);
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(listener_), 128, on_connection);
  if (rc != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(listener_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_pipe_t*>(h); });
    listener_ = nullptr;
    return coap::error("cannot listen on control socket ", path_, ": ", uv_strerror(rc));
  }
  ::chmod(path_.c_str(), 0660);
  return {};
}

void ControlServer::stop() {
  if (!listener_) return;
  listener_->data = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(listener_),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_pipe_t*>(h); });
  listener_ = nullptr;
  std::vector<uint64_t> ids;
  for (const auto& [id, c] : clients_) ids.push_back(id);
  for (uint64_t id : ids) shutdown_client(id);
  ::unlink(path_.c_str());
  if (!draining_.empty()) start_drain_timer();
}

void ControlServer::start_drain_timer() {
  drain_timer_ = new uv_timer_t;
  uv_timer_init(loop_, drain_timer_);
  drain_timer_->data = this;
  uv_timer_start(
      drain_timer_,
      [](uv_timer_t* t) {
        auto* self = static_cast<ControlServer*>(t->data);
        for (ClientHandle* h :
             std::vector<ClientHandle*>(self->draining_.begin(), self->draining_.end()))
          force_close(h);
        self->draining_.clear();
        uv_close(reinterpret_cast<uv_handle_t*>(t),
                 [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
        self->drain_timer_ = nullptr;
      },
      kDrainTimeMs, 0);
}

void ControlServer::force_close(ClientHandle* h) {
  auto* handle = reinterpret_cast<uv_handle_t*>(&h->pipe);
  if (!uv_is_closing(handle)) uv_close(handle, free_client_handle);
}

void ControlServer::on_connection(uv_stream_t* server, int status) {
  auto* self = static_cast<ControlServer*>(server->data);
  if (self && status >= 0) self->accept_client(server);
}

void ControlServer::accept_client(uv_stream_t* server) {
  auto c = std::make_unique<Client>();
  c->id = next_client_++;
  c->handle = new ClientHandle{{}, this, c->id};
  uv_pipe_init(loop_, &c->handle->pipe, 0);
  if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&c->handle->pipe)) != 0 ||
      clients_.size() >= kMaxClients) {
    if (clients_.size() >= kMaxClients)
      spdlog::warn("control: {} clients connected already; refusing another", kMaxClients);
    uv_close(reinterpret_cast<uv_handle_t*>(&c->handle->pipe), free_client_handle);
    return;
  }
  c->uid = peer_uid(&c->handle->pipe);
  uv_read_start(reinterpret_cast<uv_stream_t*>(&c->handle->pipe), on_alloc, on_read);
  spdlog::debug("control: client {} (uid {}) connected", c->id, c->uid);
  clients_.emplace(c->id, std::move(c));
}

void ControlServer::free_client_handle(uv_handle_t* handle) {
  delete reinterpret_cast<ClientHandle*>(handle);
}

void ControlServer::on_alloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  auto* self = reinterpret_cast<ClientHandle*>(handle)->server;
  *buf = uv_buf_init(self->read_buffer_, sizeof self->read_buffer_);
}

void ControlServer::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* h = reinterpret_cast<ClientHandle*>(stream);
  ControlServer* self = h->server;
  const uint64_t id = h->id;
  auto it = self->clients_.find(id);
  if (it == self->clients_.end()) return;
  Client& c = *it->second;
  if (nread == UV_EOF) {
    // Half-close: what the client sent is still answered. A last request
    // without its newline counts as a line.
    uv_read_stop(stream);
    c.read_eof = true;
    if (c.reader.pending_bytes() > 0 && self->take_input(c, "\n")) {
      while (auto line = c.reader.next_line()) {
        self->handle_line(c, *line);
        if (!self->clients_.count(id)) return;  // closed while handling the line
      }
    }
    // Closed altogether (not only shut down for writing): nobody reads the
    // answers, and what waits for this client (a capture) ends now.
    if (peer_closed(stream)) return self->close_client(id);
    self->finish_if_done(id);
    return;
  }
  if (nread < 0) return self->close_client(id);
  if (!self->take_input(c, std::string_view(buf->base, static_cast<std::size_t>(nread)))) return;
  while (auto line = c.reader.next_line()) {
    self->handle_line(c, *line);
    if (!self->clients_.count(id)) return;  // closed while handling the line
  }
}

bool ControlServer::take_input(Client& c, std::string_view bytes) {
  const uint64_t id = c.id;
  if (!c.reader.feed(bytes)) {
    send_line(
        id, control::error_message(nullptr, "request line longer than " +
                                                std::to_string(control::kMaxLineBytes) + " bytes"));
    close_client(id);
    return false;
  }
  const std::size_t cost = c.reader.capacity() + kAllocOverhead;
  if (cost > c.input_cost && !make_room(cost - c.input_cost, id)) {
    spdlog::warn("control: clients hold {} bytes, more than {}; disconnecting client {}",
                 total_cost_, kMaxTotalCost, id);
    close_client(id);
    return false;
  }
  total_cost_ = total_cost_ - c.input_cost + cost;
  c.input_cost = cost;
  return true;
}

// Over the total bound, the client holding most goes first (one that never
// reads its events, most likely), not whichever asked last: a client that
// reads keeps its place however many others do not.
bool ControlServer::make_room(std::size_t need, uint64_t requester) {
  while (total_cost_ - releasing_ + need > kMaxTotalCost) {
    uint64_t largest = 0;
    std::size_t most = 0;
    for (const auto& [id, c] : clients_) {
      if (c->queued_cost + c->input_cost > most) {
        most = c->queued_cost + c->input_cost;
        largest = id;
      }
    }
    if (largest == 0 || largest == requester) return false;
    spdlog::warn(
        "control: clients hold {} bytes, more than {}; disconnecting client {}, which "
        "holds {} (most of all)",
        total_cost_ - releasing_, kMaxTotalCost, largest, most);
    close_client(largest);
  }
  return true;
}

void ControlServer::handle_line(Client& c, const std::string& line) {
  if (line.find_first_not_of(" \t\r") == std::string::npos) return;
  ++c.unanswered;  // every Responder answers exactly once
  nlohmann::json req = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  const bool object = !req.is_discarded() && req.is_object();
  Responder r(this, c.id, object && req.contains("id") ? req["id"] : nlohmann::json(), c.uid);
  if (!object) return r.error("malformed request: not a JSON object");
  if (!req.contains("v") || req["v"] != control::kProtocolVersion)
    return r.error("unsupported protocol version (this coapd speaks v" +
                   std::to_string(control::kProtocolVersion) + ")");
  auto cmd = req.find("cmd");
  if (cmd == req.end() || !cmd->is_string()) return r.error("malformed request: no \"cmd\"");
  const std::optional<control::Command> known = control::command_from_name(cmd->get<std::string>());
  if (!known) return r.error("unknown command '" + cmd->get<std::string>() + "'");
  handler_(*known, req, r);
}

void ControlServer::follow(uint64_t client) {
  auto it = clients_.find(client);
  if (it == clients_.end() || it->second->following) {
    if (on_unfollow_) on_unfollow_();  // gone already: the follow ends at once
    return;
  }
  it->second->following = true;
}

void ControlServer::send_events(const std::vector<nlohmann::json>& events) {
  std::vector<uint64_t> followers;
  for (const auto& [id, c] : clients_)
    if (c->following) followers.push_back(id);
  for (const nlohmann::json& e : events)
    for (uint64_t id : followers) send_line(id, control::event_message(e));
}

void ControlServer::send_line(uint64_t client, const nlohmann::json& msg) {
  auto it = clients_.find(client);
  if (it == clients_.end()) return;
  Client& c = *it->second;
  auto* w = new WriteReq;
  w->data = msg.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  w->cost = sizeof(WriteReq) + w->data.capacity() + 2 * kAllocOverhead;
  if (c.queued_cost + c.input_cost + w->cost > kMaxClientCost || !make_room(w->cost, client)) {
    spdlog::warn(
        "control: client {} does not read its replies ({} bytes queued, {} for all "
        "clients); disconnecting it",
        client, c.queued_cost, total_cost_);
    delete w;
    close_client(client);
    return;
  }
  c.queued_cost += w->cost;
  total_cost_ += w->cost;
  auto* stream = reinterpret_cast<uv_stream_t*>(&c.handle->pipe);
  uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
  if (uv_write(&w->req, stream, &buf, 1, on_written) != 0) {
    c.queued_cost -= w->cost;
    total_cost_ -= w->cost;
    delete w;
    close_client(client);
  }
}

void ControlServer::on_written(uv_write_t* req, int status) {
  // The handle, and with it the server pointer, lives until its close
  // callback, which runs after every write callback.
  auto* w = reinterpret_cast<WriteReq*>(req);
  auto* h = reinterpret_cast<ClientHandle*>(req->handle);
  ControlServer* self = h->server;
  self->total_cost_ -= w->cost;
  auto it = self->clients_.find(h->id);
  if (it != self->clients_.end()) {
    it->second->queued_cost -= w->cost;
  } else {
    self->releasing_ -= w->cost;  // a write of a client already closed
  }
  delete w;
  // A failed write is how a follower that no longer reads is noticed (its
  // reading side may be shut already).
  if (status < 0 && status != UV_ECANCELED) self->close_client(h->id);
}

void ControlServer::send_reply(uint64_t client, const nlohmann::json& msg) {
  auto it = clients_.find(client);
  if (it == clients_.end()) return;
  if (it->second->unanswered > 0) --it->second->unanswered;
  send_line(client, msg);
  finish_if_done(client);
}

void ControlServer::finish_if_done(uint64_t client) {
  auto it = clients_.find(client);
  if (it == clients_.end()) return;
  const Client& c = *it->second;
  if (c.read_eof && c.unanswered == 0 && !c.following) shutdown_client(client);
}

ControlServer::ClientHandle* ControlServer::detach_client(uint64_t client) {
  auto it = clients_.find(client);
  if (it == clients_.end()) return nullptr;
  ClientHandle* handle = it->second->handle;
  const bool was_following = it->second->following;
  total_cost_ -= it->second->input_cost;
  // Its queued writes are given back as they complete (or are cancelled).
  releasing_ += it->second->queued_cost;
  clients_.erase(it);
  if (was_following && on_unfollow_) on_unfollow_();
  if (on_disconnect_) on_disconnect_(client);
  uv_read_stop(reinterpret_cast<uv_stream_t*>(&handle->pipe));
  return handle;
}

void ControlServer::shutdown_client(uint64_t client) {
  ClientHandle* handle = detach_client(client);
  if (!handle) return;
  auto* stream = reinterpret_cast<uv_stream_t*>(&handle->pipe);
  // The shutdown request completes after the queued writes; then close. (A
  // forced close in between makes it complete with UV_ECANCELED.)
  auto* req = new uv_shutdown_t;
  if (uv_shutdown(req, stream, [](uv_shutdown_t* r, int) {
        auto* h = reinterpret_cast<ClientHandle*>(r->handle);
        h->server->draining_.erase(h);
        force_close(h);
        delete r;
      }) != 0) {
    delete req;
    uv_close(reinterpret_cast<uv_handle_t*>(stream), free_client_handle);
    return;
  }
  draining_.insert(handle);
  spdlog::debug("control: client {} done", client);
}

void ControlServer::close_client(uint64_t client) {
  ClientHandle* handle = detach_client(client);
  if (!handle) return;
  uv_close(reinterpret_cast<uv_handle_t*>(&handle->pipe), free_client_handle);
  spdlog::debug("control: client {} disconnected", client);
}

}  // namespace coapd
