#include "daemon/control_server.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "daemon/control_protocol.h"

namespace coapd {
namespace {

// A client whose unsent replies exceed this is not reading: disconnect it.
constexpr std::size_t kMaxWriteQueue = 4 << 20;

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

}  // namespace

void Responder::ok(nlohmann::json result) const {
  server_->send_reply(client_, {{"v", control::kProtocolVersion}, {"id", id_}, {"ok", true},
                               {"result", std::move(result)}});
}

void Responder::error(const std::string& message) const {
  server_->send_reply(client_, {{"v", control::kProtocolVersion}, {"id", id_}, {"ok", false},
                               {"error", message}});
}

ControlServer::ControlServer(uv_loop_t* loop, std::string path, Handler handler)
    : loop_(loop), path_(std::move(path)), handler_(std::move(handler)) {}

ControlServer::~ControlServer() { stop(); }

bool ControlServer::start(std::string* error) {
  sockaddr_un probe{};
  if (path_.empty() || path_.size() >= sizeof probe.sun_path) {
    *error = "control socket path '" + path_ + "' must be 1 to " +
             std::to_string(sizeof probe.sun_path - 1) + " characters";
    return false;
  }
  const std::filesystem::path dir = std::filesystem::path(path_).parent_path();
  std::error_code ec;
  if (!dir.empty() && !std::filesystem::exists(dir, ec)) {
    std::filesystem::create_directories(dir, ec);
    if (ec) {
      *error = "cannot create directory " + dir.string() + " for the control socket: " + ec.message();
      return false;
    }
  }
  if (std::filesystem::exists(path_, ec)) {
    if (socket_in_use(path_)) {
      *error = "control socket " + path_ + " is in use (is another coapd running?)";
      return false;
    }
    ::unlink(path_.c_str());  // left behind by a coapd that did not exit cleanly
  }
  listener_ = new uv_pipe_t;
  uv_pipe_init(loop_, listener_, 0);
  listener_->data = this;
  // The socket file is created with the mode the umask allows: keep it from
  // being world-accessible between bind and chmod.
  const mode_t old_mask = ::umask(0117);
  int rc = uv_pipe_bind(listener_, path_.c_str());
  ::umask(old_mask);
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(listener_), 16, on_connection);
  if (rc != 0) {
    *error = "cannot listen on control socket " + path_ + ": " + uv_strerror(rc);
    uv_close(reinterpret_cast<uv_handle_t*>(listener_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_pipe_t*>(h); });
    listener_ = nullptr;
    return false;
  }
  ::chmod(path_.c_str(), 0660);
  return true;
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
  if (draining_.empty()) return;
  drain_timer_ = new uv_timer_t;
  uv_timer_init(loop_, drain_timer_);
  drain_timer_->data = this;
  uv_timer_start(
      drain_timer_,
      [](uv_timer_t* t) {
        auto* self = static_cast<ControlServer*>(t->data);
        for (ClientHandle* h : std::vector<ClientHandle*>(self->draining_.begin(),
                                                          self->draining_.end()))
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
  if (!self || status < 0) return;
  auto c = std::make_unique<Client>();
  c->id = self->next_client_++;
  c->handle = new ClientHandle{{}, self, c->id};
  uv_pipe_init(self->loop_, &c->handle->pipe, 0);
  if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&c->handle->pipe)) != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(&c->handle->pipe), free_client_handle);
    return;
  }
  uv_read_start(reinterpret_cast<uv_stream_t*>(&c->handle->pipe), on_alloc, on_read);
  spdlog::debug("control: client {} connected", c->id);
  self->clients_.emplace(c->id, std::move(c));
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
    std::string last;
    last.swap(c.inbuf);
    if (last.size() <= control::kMaxLineBytes) self->handle_line(c, last);
    self->finish_if_done(id);
    return;
  }
  if (nread < 0) {
    self->close_client(id);
    return;
  }
  c.inbuf.append(buf->base, static_cast<std::size_t>(nread));
  std::size_t start = 0;
  for (std::size_t nl; (nl = c.inbuf.find('\n', start)) != std::string::npos; start = nl + 1) {
    const std::string line = c.inbuf.substr(start, nl - start);
    self->handle_line(c, line);
    if (!self->clients_.count(id)) return;  // closed while handling the line
  }
  c.inbuf.erase(0, start);
  if (c.inbuf.size() > control::kMaxLineBytes) {
    self->send_line(id, {{"v", control::kProtocolVersion}, {"id", nullptr}, {"ok", false},
                         {"error", "request line longer than " +
                                       std::to_string(control::kMaxLineBytes) + " bytes"}});
    self->close_client(id);
  }
}

void ControlServer::handle_line(Client& c, const std::string& line) {
  if (line.find_first_not_of(" \t\r") == std::string::npos) return;
  ++c.unanswered;  // every Responder answers exactly once
  nlohmann::json req = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  Responder r(this, c.id, req.is_object() && req.contains("id") ? req["id"] : nlohmann::json());
  if (req.is_discarded() || !req.is_object()) return r.error("malformed request: not a JSON object");
  if (!req.contains("v") || req["v"] != control::kProtocolVersion)
    return r.error("unsupported protocol version (this coapd speaks v" +
                   std::to_string(control::kProtocolVersion) + ")");
  if (!req.contains("cmd") || !req["cmd"].is_string())
    return r.error("malformed request: no \"cmd\"");
  // Handlers read fields through control::*_field, which throw on a field of
  // the wrong type; nothing a client sends may escape into the loop.
  try {
    handler_(req["cmd"].get<std::string>(), req, r);
  } catch (const control::BadRequest& e) {
    r.error(std::string("malformed request: ") + e.what());
  } catch (const nlohmann::json::exception& e) {
    r.error(std::string("malformed request: ") + e.what());
  }
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
    for (uint64_t id : followers) send_line(id, {{"v", control::kProtocolVersion}, {"event", e}});
}

void ControlServer::send_line(uint64_t client, const nlohmann::json& msg) {
  auto it = clients_.find(client);
  if (it == clients_.end()) return;
  Client& c = *it->second;
  auto* stream = reinterpret_cast<uv_stream_t*>(&c.handle->pipe);
  if (uv_stream_get_write_queue_size(stream) > kMaxWriteQueue) {
    spdlog::warn("control: client {} does not read its replies; disconnecting it", client);
    close_client(client);
    return;
  }
  struct WriteReq {
    uv_write_t req;
    std::string data;
  };
  auto* w = new WriteReq;
  w->data = msg.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
  const int rc = uv_write(&w->req, stream, &buf, 1, [](uv_write_t* req, int status) {
    // A failed write is how a follower that no longer reads is noticed
    // (its reading side may be shut already). The handle, and with it the
    // server pointer, lives until its close callback, which runs after
    // every write callback.
    auto* h = reinterpret_cast<ClientHandle*>(req->handle);
    if (status < 0 && status != UV_ECANCELED && h->server) h->server->close_client(h->id);
    delete reinterpret_cast<WriteReq*>(req);
  });
  if (rc != 0) {
    delete w;
    close_client(client);
  }
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
  clients_.erase(it);
  if (was_following && on_unfollow_) on_unfollow_();
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
