// Where the files of --resource-dir live, as the protocol core sees them: an
// interface, so that coap/ stays I/O-free (daemon/coapd/dir_store.h is the
// POSIX implementation, tests use a fake).
//
// Paths are relative to the directory, '/'-separated, e.g. "sensors/temp.txt"
// ("" is the directory itself). Every implementation must refuse (kRefused) a
// path that could leave the directory: a segment that is empty, "." or "..",
// holds '\0', or names a symbolic link (at any level), and must never read
// or write anything outside the directory.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace coap {

enum class StoreCode : uint8_t {
  kOk,
  kMissing,   // nothing at that path (or a parent is missing)
  kExists,    // create(): the name is taken
  kRefused,   // the path would leave the directory, or is not a regular file
  kTooLarge,  // read(): larger than the limit given
  kFailed,    // an I/O error (the detail says which)
};

struct StoreResult {
  StoreCode code = StoreCode::kOk;
  std::string detail;  // for logs and diagnostics
  explicit operator bool() const { return code == StoreCode::kOk; }
};

enum class EntryKind : uint8_t { kMissing, kFile, kDirectory, kOther };

class ResourceStore {
 public:
  virtual ~ResourceStore() = default;
  // What is at path, without following a symbolic link (kOther: a link, a
  // device, ...; kMissing also when a parent is missing or refused).
  virtual EntryKind kind(std::string_view path) = 0;
  // The content of the regular file at path, at most max bytes.
  virtual StoreResult read(std::string_view path, std::size_t max, std::vector<uint8_t>* out) = 0;
  // Replaces (or creates) the regular file at path atomically: readers see
  // the old content or the new, never a mix (temporary file, fsync, rename).
  virtual StoreResult replace(std::string_view path, std::span<const uint8_t> value) = 0;
  // Creates the regular file at path; kExists if the name is taken.
  virtual StoreResult create(std::string_view path, std::span<const uint8_t> value) = 0;
  virtual StoreResult remove(std::string_view path) = 0;
  // The entries of the directory at path (names and kinds), "." and ".." and
  // coapd's own temporary files left out.
  virtual StoreResult list(std::string_view path,
                           std::vector<std::pair<std::string, EntryKind>>* out) = 0;
};

// Whether a name is one of the temporary files replace() writes (they are
// never served).
inline bool is_store_temporary(std::string_view name) { return name.starts_with(".coapd-tmp-"); }

}  // namespace coap
