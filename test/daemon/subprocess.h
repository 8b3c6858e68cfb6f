// Runs the built coapctl binary with pipes on stdin, stdout and stderr.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace coapctl_test {

struct RunResult {
  int exit_code = -1;  // 128+N when killed by signal N
  std::string out;
  std::string err;
};

class Subprocess {
 public:
  // Starts program with args (argv[1]...). The environment is ours, minus
  // COAPD_CONTROL_SOCKET, plus env. Throws when it cannot start.
  Subprocess(const std::string& program, const std::vector<std::string>& args,
             const std::map<std::string, std::string>& env = {});
  // Kills the process if it still runs.
  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  // Writes data to its stdin and closes it.
  void write_stdin_and_close(const std::string& data);

  // The next line of stdout (without '\n'), or nullopt at EOF or timeout.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout);

  void send_signal(int signal);

  // Reads stdout and stderr to EOF and reaps the process; kills it first if
  // it runs past timeout (exit_code is then 128+SIGKILL).
  RunResult finish(std::chrono::milliseconds timeout);

 private:
  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  int stdout_fd_ = -1;
  int stderr_fd_ = -1;
  std::string stdout_buffer_;  // read but not yet returned by read_line()
};

// Runs program to completion (at most 20 s) with stdin_data on its stdin.
RunResult run(const std::string& program, const std::vector<std::string>& args,
              const std::map<std::string, std::string>& env = {},
              const std::string& stdin_data = "");

}  // namespace coapctl_test
