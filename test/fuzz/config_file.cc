// Fuzz target config_file: any text as coapd's config file (CLI11's TOML
// reader, then config::parse's own checks), given as `coapd --config PATH`.
// It must never crash or let an exception out; a refusal is exit status 2
// with exactly one line "coapd: ...\n"; an acceptance has no output and a
// config whose values are within the documented bounds.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>

#include "config/config.h"
#include "test/fuzz/fuzz_util.h"

namespace {

// The input goes into one memfd, read back through /proc/self/fd/N: no
// temporary files, no disk.
int input_fd() {
  static const int fd = memfd_create("coapd-fuzz.conf", MFD_CLOEXEC);
  FUZZ_CHECK(fd >= 0, "memfd_create failed");
  return fd;
}

void write_input(const uint8_t* data, std::size_t size) {
  const int fd = input_fd();
  FUZZ_CHECK(ftruncate(fd, 0) == 0, "ftruncate failed");
  std::size_t done = 0;
  while (done < size) {
    const ssize_t n = pwrite(fd, data + done, size - done, static_cast<off_t>(done));
    FUZZ_CHECK(n > 0, "pwrite failed");
    done += static_cast<std::size_t>(n);
  }
}

void check_accepted(const config::Config& c) {
  FUZZ_CHECK(c.ack_timeout > 0 && c.ack_timeout <= 300, "ack_timeout %g", c.ack_timeout);
  FUZZ_CHECK(c.ack_random_factor >= 1 && c.ack_random_factor <= 10, "ack_random_factor %g",
             c.ack_random_factor);
  FUZZ_CHECK(c.max_retransmit <= 20, "max_retransmit %u", c.max_retransmit);
  FUZZ_CHECK(c.max_udp_sessions >= 1 && c.max_tcp_sessions >= 1, "session limits %u %u",
             c.max_udp_sessions, c.max_tcp_sessions);
  FUZZ_CHECK(c.max_message_size >= 1152, "max_message_size %u", c.max_message_size);
  FUZZ_CHECK(c.max_queued_bytes >= 1024, "max_queued_bytes %u", c.max_queued_bytes);
  FUZZ_CHECK(c.udp_session_timeout > 0 && c.csm_timeout > 0 && c.connect_timeout > 0 &&
                 c.tcp_idle_timeout >= 0,
             "timeouts %g %g %g %g", c.udp_session_timeout, c.csm_timeout, c.connect_timeout,
             c.tcp_idle_timeout);
  FUZZ_CHECK(!c.tap.empty() && c.tap.size() <= 15, "tap '%s'", c.tap.c_str());
  for (const auto& s : c.sessions)
    FUZZ_CHECK((s.uri.starts_with("coap+tcp://") || s.uri.starts_with("coaps+tcp://") ||
                s.uri.starts_with("coaps://")) &&
                   s.reconnect_interval > 0,
               "session '%s' interval %g", s.uri.c_str(), s.reconnect_interval);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  write_input(data, size);
  const std::string path = "/proc/self/fd/" + std::to_string(input_fd());
  const char* argv[] = {"coapd", "--config", path.c_str()};
  config::Config cfg;
  config::ParseResult r;
  try {
    r = config::parse(3, argv, cfg);
  } catch (const std::exception& e) {
    FUZZ_CHECK(false, "config::parse threw: %s", e.what());
  } catch (...) {
    FUZZ_CHECK(false, "config::parse threw a non-std exception");
  }
  if (r.run) {
    FUZZ_CHECK(r.output.empty() && r.exit_code == 0, "accepted with exit %d and output '%s'",
               r.exit_code, r.output.c_str());
    check_accepted(cfg);
    return 0;
  }
  const std::string& out = r.output;
  FUZZ_CHECK(r.exit_code == 2, "refused with exit status %d: %s", r.exit_code, out.c_str());
  FUZZ_CHECK(out.starts_with("coapd: ") && out.ends_with("\n") && out.find('\n') == out.size() - 1,
             "refusal is not one line: '%s'", out.c_str());
  return 0;
}
