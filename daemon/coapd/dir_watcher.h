// Watches --resource-dir for changes made by others (inotify through
// libuv's uv_fs_event, one watch per directory: Linux watches are not
// recursive). Runs on the io thread, which owns the libuv loop; it does no
// file I/O of its own. Changes are collected for a short while (a file
// written in several pieces is one change) and handed over as relative
// paths; the engine re-reads them (DirTree::refresh) and says which
// directories to watch next and which are gone.
//
// uv_fs_event_start() takes a path, which inotify resolves: a directory
// replaced by a symbolic link between the engine's check and the watch is
// watched where the link points. That reads nothing (the store never
// follows links); it only makes coapd look at names it then refuses.
//
// Memory: at most kMaxPending paths wait at once; more in one burst are
// dropped and counted (dropped()), the next change of a file still counts.
#pragma once

#include <uv.h>

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace coapd {

class DirWatcher {
 public:
  using OnChanges = std::function<void(std::vector<std::string> paths)>;
  static constexpr std::size_t kMaxPending = 4096;
  static constexpr uint64_t kSettleMs = 20;

  DirWatcher(uv_loop_t* loop, std::string root, OnChanges on_changes);
  ~DirWatcher();  // REQUIRES: close() was called and the loop ran its callbacks
  DirWatcher(const DirWatcher&) = delete;
  DirWatcher& operator=(const DirWatcher&) = delete;

  // Loop thread. Watches the directory rel ("" the top); idempotent. False
  // if the watch could not be set up (logged).
  bool watch(const std::string& rel);
  // Stops watching rel and every directory below it.
  void unwatch(const std::string& rel);
  // Stops everything (two-phase: the handles are freed in their close
  // callbacks).
  void close();
  std::size_t watches() const { return watches_.size(); }
  uint64_t dropped() const { return dropped_; }

 private:
  struct Watch {
    uv_fs_event_t handle;
    DirWatcher* owner;
    std::string rel;
  };
  static void on_event(uv_fs_event_t* h, const char* filename, int events, int status);
  static void on_timer(uv_timer_t* t);
  static void close_watch(Watch* w);

  uv_loop_t* loop_;
  std::string root_;
  OnChanges on_changes_;
  std::map<std::string, Watch*> watches_;
  std::set<std::string> pending_;
  uv_timer_t* timer_;  // freed in its close callback
  bool closed_ = false;
  uint64_t dropped_ = 0;
};

}  // namespace coapd
