#include "daemon/coapd/resource_dir.h"

#include <spdlog/spdlog.h>

#include "daemon/coapd/engine.h"
#include "daemon/coapd/loop_poster.h"

namespace coapd {

coap::Status ResourceDir::load(const std::string& dir, coap::ResourceDirectory& resources,
                               std::size_t max_resources, std::size_t max_size) {
  auto store = PosixDirStore::open(dir);
  if (!store) return std::move(store).take_error();
  root_ = dir;
  store_ = std::move(*store);
  tree_ = std::make_unique<coap::DirTree>(*store_, max_size);
  coap::DirTree::Scan scan;
  tree_->scan(
      "",
      [&](std::unique_ptr<coap::Resource> r) -> coap::Status {
        if (resources.find(r->path()))
          return coap::error("resource ", r->path(), " exists already");
        if (resources.user_count() >= max_resources)
          return coap::error("more than --max-resources (", std::to_string(max_resources), ")");
        resources.add(std::move(r));
        return {};
      },
      &scan);
  for (const std::string& s : scan.skipped) spdlog::warn("resource directory: not served: {}", s);
  directories_ = std::move(scan.directories);
  resources.set_fallback(
      std::make_unique<coap::DirFallback>(*store_, resources, max_resources, max_size));
  return {};
}

coap::Status ResourceDir::start(uv_loop_t* loop, Engine& engine, LoopPoster& poster) {
  if (!store_) return {};
  engine_ = &engine;
  poster_ = &poster;
  watcher_ = std::make_unique<DirWatcher>(
      loop, root_, [this](std::vector<std::string> paths) { changed(std::move(paths)); });
  for (const std::string& d : directories_)
    if (!watcher_->watch(d) && d.empty())
      return coap::error("--resource-dir '", root_, "' cannot be watched");
  spdlog::info("resource directory {}: {} directories watched", root_, watcher_->watches());
  return {};
}

void ResourceDir::stop() {
  if (watcher_) watcher_->close();
}

void ResourceDir::changed(std::vector<std::string> paths) {
  coap::DirTree* tree = tree_.get();
  LoopPoster* poster = poster_;
  DirWatcher* watcher = watcher_.get();
  engine_->post(
      [tree, poster, watcher, paths = std::move(paths)](coap::Endpoint& ep, coap::TimePoint now) {
        coap::DirTree::Scan all;
        for (const std::string& p : paths) tree->refresh(ep, p, now, &all);
        for (const std::string& s : all.skipped)
          spdlog::warn("resource directory: not served: {}", s);
        // The watcher lives as long as the daemon; once closed it ignores this.
        poster->post([watcher, dirs = std::move(all.directories), gone = std::move(all.gone)] {
          for (const std::string& g : gone) watcher->unwatch(g);
          for (const std::string& d : dirs) watcher->watch(d);
        });
      });
}

}  // namespace coapd
