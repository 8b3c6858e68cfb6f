#include "daemon/coapd/dir_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace coapd {
namespace {

using coap::EntryKind;
using coap::StoreCode;
using coap::StoreResult;

StoreResult failed(StoreCode code, std::string detail) { return {code, std::move(detail)}; }

StoreResult from_errno(const char* what, int err) {
  if (err == ENOENT) return failed(StoreCode::kMissing, "no such file");
  if (err == ELOOP) return failed(StoreCode::kRefused, "a symbolic link");
  return failed(StoreCode::kFailed, std::string(what) + ": " + std::strerror(err));
}

// Closes a descriptor at scope end.
struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

bool valid_segment(std::string_view s) {
  return !s.empty() && s != "." && s != ".." &&
         s.find_first_of(std::string_view("/\0", 2)) == std::string_view::npos;
}

EntryKind kind_of(const struct stat& st) {
  if (S_ISREG(st.st_mode)) return EntryKind::kFile;
  if (S_ISDIR(st.st_mode)) return EntryKind::kDirectory;
  return EntryKind::kOther;
}

StoreResult write_all(int fd, std::span<const uint8_t> value) {
  while (!value.empty()) {
    const ssize_t n = ::write(fd, value.data(), value.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return from_errno("write", errno);
    value = value.subspan(static_cast<std::size_t>(n));
  }
  if (::fsync(fd) != 0) return from_errno("fsync", errno);
  return {};
}

}  // namespace

coap::Result<std::unique_ptr<PosixDirStore>> PosixDirStore::open(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return coap::error("--resource-dir '", dir, "': ", std::strerror(errno));
  return std::unique_ptr<PosixDirStore>(new PosixDirStore(fd));
}

PosixDirStore::~PosixDirStore() { ::close(root_fd_); }

int PosixDirStore::open_dir(std::string_view rel, StoreResult* err) const {
  int fd = ::openat(root_fd_, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  while (fd >= 0 && !rel.empty()) {
    const std::size_t slash = rel.find('/');
    const std::string seg(rel.substr(0, slash));
    rel = slash == std::string_view::npos ? std::string_view{} : rel.substr(slash + 1);
    if (!valid_segment(seg)) {
      ::close(fd);
      *err = failed(StoreCode::kRefused, "a path segment that is empty, '.' or '..'");
      return -1;
    }
    const int next = ::openat(fd, seg.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    const int saved = errno;
    struct stat st {};
    const bool link = next < 0 && ::fstatat(fd, seg.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                      S_ISLNK(st.st_mode);
    ::close(fd);
    if (next < 0) {
      *err = link ? failed(StoreCode::kRefused, "a symbolic link")
                  : from_errno("open", saved == ENOTDIR ? ENOENT : saved);
      return -1;
    }
    fd = next;
  }
  if (fd < 0) *err = from_errno("open", errno);
  return fd;
}

int PosixDirStore::open_parent(std::string_view rel, std::string* name, StoreResult* err) const {
  const std::size_t slash = rel.rfind('/');
  *name = std::string(slash == std::string_view::npos ? rel : rel.substr(slash + 1));
  if (!valid_segment(*name)) {
    *err = failed(StoreCode::kRefused, "a path segment that is empty, '.' or '..'");
    return -1;
  }
  return open_dir(slash == std::string_view::npos ? std::string_view{} : rel.substr(0, slash), err);
}

EntryKind PosixDirStore::kind(std::string_view path) {
  StoreResult err;
  if (path.empty()) return EntryKind::kDirectory;
  std::string name;
  Fd dir(open_parent(path, &name, &err));
  if (dir.fd < 0) return err.code == StoreCode::kRefused ? EntryKind::kOther : EntryKind::kMissing;
  struct stat st {};
  if (::fstatat(dir.fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return EntryKind::kMissing;
  return kind_of(st);
}

StoreResult PosixDirStore::read(std::string_view path, std::size_t max, std::vector<uint8_t>* out) {
  StoreResult err;
  std::string name;
  Fd dir(open_parent(path, &name, &err));
  if (dir.fd < 0) return err;
  // O_NONBLOCK: a FIFO put there must not hang the engine (it is refused below).
  Fd f(::openat(dir.fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (f.fd < 0) return from_errno("open", errno);
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) return from_errno("fstat", errno);
  if (!S_ISREG(st.st_mode)) return failed(StoreCode::kRefused, "not a regular file");
  if (static_cast<uint64_t>(st.st_size) > max)
    return failed(StoreCode::kTooLarge, "larger than the limit");
  out->clear();
  uint8_t buf[16384];
  for (;;) {
    const ssize_t n = ::read(f.fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return from_errno("read", errno);
    if (n == 0) break;
    out->insert(out->end(), buf, buf + n);
    if (out->size() > max) return failed(StoreCode::kTooLarge, "larger than the limit");
  }
  return {};
}

StoreResult PosixDirStore::write_temporary(int dir_fd, std::span<const uint8_t> value, mode_t mode,
                                           std::string* tmp) {
  *tmp = ".coapd-tmp-" + std::to_string(::getpid()) + "-" + std::to_string(++serial_);
  Fd f(::openat(dir_fd, tmp->c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
  if (f.fd < 0) return from_errno("create", errno);
  // The mode asked for, not what the umask leaves of it.
  StoreResult r = ::fchmod(f.fd, mode) == 0 ? write_all(f.fd, value) : from_errno("chmod", errno);
  if (!r) ::unlinkat(dir_fd, tmp->c_str(), 0);
  return r;
}

StoreResult PosixDirStore::replace(std::string_view path, std::span<const uint8_t> value) {
  StoreResult err;
  std::string name;
  Fd dir(open_parent(path, &name, &err));
  if (dir.fd < 0) return err;
  struct stat st {};
  mode_t mode = 0644;
  if (::fstatat(dir.fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    if (!S_ISREG(st.st_mode)) return failed(StoreCode::kRefused, "not a regular file");
    mode = st.st_mode & 07777;  // a replaced file keeps its permissions
  }
  std::string tmp;
  if (StoreResult r = write_temporary(dir.fd, value, mode, &tmp); !r) return r;
  // rename() replaces the name, never what a link there would point to.
  if (::renameat(dir.fd, tmp.c_str(), dir.fd, name.c_str()) != 0) {
    const int saved = errno;
    ::unlinkat(dir.fd, tmp.c_str(), 0);
    return from_errno("rename", saved);
  }
  ::fsync(dir.fd);  // the rename itself survives a crash
  return {};
}

StoreResult PosixDirStore::create(std::string_view path, std::span<const uint8_t> value) {
  StoreResult err;
  std::string name;
  Fd dir(open_parent(path, &name, &err));
  if (dir.fd < 0) return err;
  std::string tmp;
  if (StoreResult r = write_temporary(dir.fd, value, 0644, &tmp); !r) return r;
  // link() fails if the name is taken: created whole, or not at all.
  const int rc = ::linkat(dir.fd, tmp.c_str(), dir.fd, name.c_str(), 0);
  const int saved = errno;
  ::unlinkat(dir.fd, tmp.c_str(), 0);
  if (rc != 0)
    return saved == EEXIST ? failed(StoreCode::kExists, "exists") : from_errno("link", saved);
  ::fsync(dir.fd);
  return {};
}

StoreResult PosixDirStore::remove(std::string_view path) {
  StoreResult err;
  std::string name;
  Fd dir(open_parent(path, &name, &err));
  if (dir.fd < 0) return err;
  struct stat st {};
  if (::fstatat(dir.fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
    return from_errno("stat", errno);
  if (!S_ISREG(st.st_mode)) return failed(StoreCode::kRefused, "not a regular file");
  if (::unlinkat(dir.fd, name.c_str(), 0) != 0) return from_errno("unlink", errno);
  ::fsync(dir.fd);
  return {};
}

StoreResult PosixDirStore::list(std::string_view path,
                                std::vector<std::pair<std::string, EntryKind>>* out) {
  StoreResult err;
  const int fd = open_dir(path, &err);
  if (fd < 0) return err;
  DIR* d = ::fdopendir(fd);  // owns fd from here
  if (!d) {
    const int saved = errno;
    ::close(fd);
    return from_errno("opendir", saved);
  }
  out->clear();
  while (const dirent* e = ::readdir(d)) {
    const std::string_view name = e->d_name;
    if (name == "." || name == ".." || coap::is_store_temporary(name)) continue;
    struct stat st {};
    if (::fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // gone meanwhile
    out->emplace_back(std::string(name), kind_of(st));
  }
  ::closedir(d);
  return {};
}

}  // namespace coapd
