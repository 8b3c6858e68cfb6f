// --resource-dir in the daemon: the store (dir_store.h), the tree that keeps
// the resources in step with the files (coap/dir_resources.h) and the
// watcher (dir_watcher.h), wired together.
//
// Threads: load() runs on the main thread before the engine exists; then
// the tree and the store are used on the engine thread only (requests, and
// the jobs the watcher's changes become), the watcher on the io thread (the
// libuv loop). A change goes io -> engine as an Engine::post job; the
// directories to watch next come back engine -> io through the LoopPoster.
#pragma once

#include <uv.h>

#include <memory>
#include <string>

#include "coap/dir_resources.h"
#include "coap/result.h"
#include "daemon/coapd/dir_store.h"
#include "daemon/coapd/dir_watcher.h"

namespace coapd {

class Engine;
class LoopPoster;

class ResourceDir {
 public:
  // Opens dir and adds a resource for every regular file below it (and the
  // fallback that creates files and refuses escapes) to resources.
  coap::Status load(const std::string& dir, coap::ResourceDirectory& resources,
                    std::size_t max_resources, std::size_t max_size);
  // Loop thread, the engine running: starts watching what load() found.
  coap::Status start(uv_loop_t* loop, Engine& engine, LoopPoster& poster);
  void stop();

 private:
  void changed(std::vector<std::string> paths);

  std::string root_;
  std::unique_ptr<PosixDirStore> store_;
  std::unique_ptr<coap::DirTree> tree_;
  std::unique_ptr<DirWatcher> watcher_;
  std::vector<std::string> directories_;  // found by load(), watched by start()
  Engine* engine_ = nullptr;
  LoopPoster* poster_ = nullptr;
};

}  // namespace coapd
