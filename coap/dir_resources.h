// The resources of --resource-dir: every regular file below the directory
// is a resource at its relative path (DIR/sensors/temp.txt is
// /sensors/temp.txt) with the content-format its name says. A PUT replaces
// the file, a DELETE removes it, a PUT to a new name or a POST to a
// directory creates one (2.01); paths that would leave the directory get
// 4.03. The files are reached only through a ResourceStore: this code does
// no I/O itself.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "coap/resource_store.h"
#include "coap/user_resource.h"

namespace coap {

// .txt 0, .json 50, .cbor 60, .xml 41, .senml.json 110, .senml.cbor 112,
// .link 40, anything else 42 (of the last segment of path).
uint32_t content_format_for_file(std::string_view path);
// The extension a POST gives a new file of content-format ct ("" for 42);
// nullopt for a format no extension maps to.
std::optional<std::string_view> extension_for_format(uint32_t ct);

// A StoreResult that failed as a CoAP refusal (4.03, 4.04, 4.13, 5.00).
UserResource::Refusal refusal_of(const StoreResult& r);

class DirResource final : public UserResource {
 public:
  // rel: the file's path below the directory ("sensors/temp.txt").
  DirResource(std::string_view rel, std::vector<uint8_t> value, ResourceStore& store,
              std::size_t max_size);
  std::string_view file() const { return std::string_view(path()).substr(1); }

 protected:
  std::optional<Refusal> persist(std::span<const uint8_t> value) override;
  std::optional<Refusal> erase() override;
  bool format_fixed() const override { return true; }

 private:
  ResourceStore& store_;
};

// Serves requests no resource matches while --resource-dir is set: refuses
// paths that would leave the directory (4.03), creates files (PUT to a new
// name in an existing directory, POST to a directory), 4.04 otherwise. Never
// an error response that reveals what is outside the directory.
class DirFallback final : public Resource {
 public:
  DirFallback(ResourceStore& store, const ResourceDirectory& dir, std::size_t max_resources,
              std::size_t max_size);
  bool allows(Code) const override { return true; }
  bool evaluates_preconditions() const override { return true; }
  ResourceSource source() const override { return ResourceSource::kDir; }
  void handle(const Request& req, Response& resp) override;

 private:
  // False (resp holds 4.12, 4.13 or 5.03) when a new file may not be made.
  bool may_create(const Request& req, Response& resp) const;
  void put_new(const Request& req, const std::string& rel, Response& resp);
  void post_into(const Request& req, const std::string& rel, Response& resp);
  void created(std::string rel, std::span<const uint8_t> value, Response& resp);

  ResourceStore& store_;
  const ResourceDirectory& dir_;
  std::size_t max_resources_;
  std::size_t max_size_;
  uint64_t next_name_ = 1;
};

// Keeps the directory's resources in step with the files (start-up scan,
// and every change the daemon sees on disk).
class DirTree {
 public:
  DirTree(ResourceStore& store, std::size_t max_size) : store_(store), max_size_(max_size) {}

  struct Scan {
    std::vector<std::string> directories;  // seen, relative ("" the top): to watch
    std::vector<std::string> skipped;      // "PATH: why" for files not served
    std::vector<std::string> gone;         // refresh: no longer there (stop watching)
  };
  using Add = std::function<Status(std::unique_ptr<Resource>)>;
  // Every regular file below rel, as a new resource through add.
  void scan(std::string_view rel, const Add& add, Scan* out);
  // The entry rel changed on disk: its resource is re-read, added or
  // removed (with everything below it, for a directory that went); a new
  // directory is scanned.
  // What it finds is added to *out.
  void refresh(class Endpoint& ep, std::string_view rel, TimePoint now, Scan* out);

 private:
  void file_changed(Endpoint& ep, const std::string& rel, TimePoint now, Scan* out);
  void entry_gone(Endpoint& ep, const std::string& rel, TimePoint now);

  ResourceStore& store_;
  std::size_t max_size_;
};

}  // namespace coap
