// Runs a program (the ferry binary) with its output captured, for end-to-end tests.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace ferry::test {

struct ProcessResult {
  int exit_status = -1;  // -1 when killed by a signal
  int signal = 0;
  std::string out;
  std::string err;
};

// A started child whose stdout/stderr go to files until it is waited for.
class Process {
 public:
  /// Starts argv[0] with argv; stdout and stderr are captured into `scratch_dir`.
  Process(const std::vector<std::string>& argv, const std::string& scratch_dir);
  ~Process();

  pid_t pid() const { return pid_; }
  /// True once the child's stdout has at least `text` in it (polls up to `timeout`).
  bool wait_for_output(const std::string& text, std::chrono::milliseconds timeout);
  /// Waits for the child (kills it after `timeout`) and returns what it did.
  ProcessResult wait(std::chrono::milliseconds timeout = std::chrono::seconds(60));

 private:
  std::string out_path_, err_path_;
  pid_t pid_ = -1;
};

/// Runs argv to completion.
ProcessResult run_process(const std::vector<std::string>& argv, const std::string& scratch_dir);

/// Runs `body` in a forked child (stdout and stderr captured into `scratch_dir`), which exits
/// with what it returns; kills it after `timeout`, so a call that blocks forever fails instead.
ProcessResult run_in_child(const std::function<int()>& body, const std::string& scratch_dir,
                           std::chrono::milliseconds timeout);

}  // namespace ferry::test
