// Runs a program as a child and times it: when its first byte of output arrived, when it ended,
// and its peak resident memory.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace ferry::bench {

struct ChildRun {
  bool ok = false;              // started, exited normally
  int status = -1;              // exit status
  double first_output_ms = -1;  // from fork to the first byte on stdout
  double total_ms = 0;          // from fork to exit
  long peak_rss_kib = 0;        // from wait4
  std::string out, err;
};

ChildRun run_child(const std::vector<std::string>& argv);

struct WatchedRun {
  bool started = false;    // the pipes and fork worked
  double until_ms = -1;    // from fork to `until(stdout)` first being true; -1: never
  double ended_ms = -1;    // from fork to its end; -1: killed
  bool timed_out = false;  // `until` never came within the timeout
  int status = -1;         // exit status; -1 when killed or ended by a signal
  std::string out, err;
};

/// Runs argv (stdin /dev/null), timestamps when `until` first holds for its stdout so far, and
/// gives it `grace_ms` more to end by itself before SIGKILL. Without `until` by `timeout_ms` it
/// is killed then. Always reaped.
WatchedRun run_child_until(const std::vector<std::string>& argv,
                           const std::function<bool(const std::string&)>& until, int timeout_ms,
                           int grace_ms);

}  // namespace ferry::bench
