// A client of a running lab session (scripts/lab start): sends one shell command line to the
// lab's /init over the session's serial FIFOs and returns the command's output and status.
// The protocol is described in scripts/lab-init.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "ferry/base/error.h"

namespace ferry::test {

struct LabCommandResult {
  std::string output;  // stdout and stderr, interleaved as the lab wrote them
  int status = -1;     // the shell's exit status (124: the lab's timeout ended the command)
};

class LabSession {
 public:
  /// A session started with `scripts/lab start --session dir`.
  explicit LabSession(std::string dir) : dir_(std::move(dir)) {}

  /// Why the lab cannot run on this host, when `scripts/lab start` said so (exit 77).
  std::string cannot_run_reason() const;
  /// The kernel the session booted, as `scripts/lab start` recorded it ("ferry <version>" or
  /// "debian <version>"); empty before the session is ready.
  std::string kernel() const;
  /// Runs `command_line` in the lab (one at a time across processes: it holds a lock on the
  /// session while it runs). Fails when the session is gone or the lab stops answering.
  Expected<LabCommandResult> run(const std::string& command_line,
                                 std::chrono::seconds lab_timeout) const;
  /// The last lines of the lab's console, for error messages.
  std::string console_tail() const;

 private:
  bool qemu_alive() const;

  std::string dir_;
};

/// `words` quoted for a POSIX shell, separated by spaces.
std::string shell_quote(const std::vector<std::string>& words);

}  // namespace ferry::test
