// coap::ResourceStore on a real directory (--resource-dir), confined to it:
// the directory is opened once and every path is walked from that
// descriptor one segment at a time with O_NOFOLLOW (openat), so no symbolic
// link is ever followed and no ".." or absolute path is ever resolved; what
// is opened is the inode that was reached, so a link swapped in between a
// check and a use (TOCTOU) still cannot lead out. The one thing it cannot
// stop: somebody with write access to DIR moving a directory out of DIR
// while coapd holds it open.
//
// Threading: coapd calls it on the engine thread only (requests, and the
// changes the watcher reports); files are at most --max-resource-size, so a
// call is short on a local file system.
#pragma once

#include <memory>
#include <string>

#include "coap/resource_store.h"
#include "coap/result.h"

namespace coapd {

class PosixDirStore final : public coap::ResourceStore {
 public:
  static coap::Result<std::unique_ptr<PosixDirStore>> open(const std::string& dir);
  ~PosixDirStore() override;
  PosixDirStore(const PosixDirStore&) = delete;
  PosixDirStore& operator=(const PosixDirStore&) = delete;

  coap::EntryKind kind(std::string_view path) override;
  coap::StoreResult read(std::string_view path, std::size_t max,
                         std::vector<uint8_t>* out) override;
  coap::StoreResult replace(std::string_view path, std::span<const uint8_t> value) override;
  coap::StoreResult create(std::string_view path, std::span<const uint8_t> value) override;
  coap::StoreResult remove(std::string_view path) override;
  coap::StoreResult list(std::string_view path,
                         std::vector<std::pair<std::string, coap::EntryKind>>* out) override;

 private:
  explicit PosixDirStore(int root_fd) : root_fd_(root_fd) {}
  // A descriptor of the directory at rel (-1 and *err on failure).
  int open_dir(std::string_view rel, coap::StoreResult* err) const;
  // The parent directory of rel, and rel's last segment.
  int open_parent(std::string_view rel, std::string* name, coap::StoreResult* err) const;
  // Writes value to a new temporary file in dir_fd; its name in *tmp.
  coap::StoreResult write_temporary(int dir_fd, std::span<const uint8_t> value, mode_t mode,
                                    std::string* tmp);

  int root_fd_;
  uint64_t serial_ = 0;  // temporary file names
};

}  // namespace coapd
