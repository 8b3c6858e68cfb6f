#include "daemon/coapd/dir_watcher.h"

#include <spdlog/spdlog.h>

namespace coapd {

DirWatcher::DirWatcher(uv_loop_t* loop, std::string root, OnChanges on_changes)
    : loop_(loop), root_(std::move(root)), on_changes_(std::move(on_changes)) {
  timer_ = new uv_timer_t;
  uv_timer_init(loop_, timer_);
  timer_->data = this;
}

DirWatcher::~DirWatcher() = default;

bool DirWatcher::watch(const std::string& rel) {
  if (closed_ || watches_.count(rel)) return !closed_;
  auto* w = new Watch{{}, this, rel};
  uv_fs_event_init(loop_, &w->handle);
  w->handle.data = w;
  const std::string full = rel.empty() ? root_ : root_ + "/" + rel;
  if (const int rc = uv_fs_event_start(&w->handle, on_event, full.c_str(), 0); rc != 0) {
    spdlog::warn("resource directory: cannot watch '{}': {}", full, uv_strerror(rc));
    close_watch(w);
    return false;
  }
  watches_[rel] = w;
  return true;
}

void DirWatcher::close_watch(Watch* w) {
  uv_close(reinterpret_cast<uv_handle_t*>(&w->handle),
           [](uv_handle_t* h) { delete static_cast<Watch*>(h->data); });
}

void DirWatcher::unwatch(const std::string& rel) {
  const std::string below = rel + "/";
  for (auto it = watches_.begin(); it != watches_.end();) {
    const std::string& k = it->first;
    if (k == rel || (!rel.empty() && k.starts_with(below)) || rel.empty()) {
      close_watch(it->second);
      it = watches_.erase(it);
    } else {
      ++it;
    }
  }
}

void DirWatcher::close() {
  if (closed_) return;
  closed_ = true;
  for (auto& [rel, w] : watches_) close_watch(w);
  watches_.clear();
  pending_.clear();
  uv_close(reinterpret_cast<uv_handle_t*>(timer_),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
}

void DirWatcher::on_event(uv_fs_event_t* h, const char* filename, int, int status) {
  auto* w = static_cast<Watch*>(h->data);
  DirWatcher* self = w->owner;
  if (self->closed_) return;
  if (status < 0) {
    spdlog::warn("resource directory: watch of '{}' failed: {}", w->rel, uv_strerror(status));
    return;
  }
  // No name: the watched directory itself changed (removed, moved).
  std::string path = w->rel;
  if (filename && *filename) path = w->rel.empty() ? filename : w->rel + "/" + filename;
  if (self->pending_.size() >= kMaxPending && !self->pending_.count(path)) {
    ++self->dropped_;
    return;
  }
  self->pending_.insert(std::move(path));
  if (!uv_is_active(reinterpret_cast<uv_handle_t*>(self->timer_)))
    uv_timer_start(self->timer_, on_timer, kSettleMs, 0);
}

void DirWatcher::on_timer(uv_timer_t* t) {
  auto* self = static_cast<DirWatcher*>(t->data);
  if (self->closed_ || self->pending_.empty()) return;
  std::vector<std::string> paths(self->pending_.begin(), self->pending_.end());
  self->pending_.clear();
  self->on_changes_(std::move(paths));
}

}  // namespace coapd
