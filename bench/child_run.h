// Runs a program as a child and times it: when its first byte of output arrived, when it ended,
// and its peak resident memory.
#pragma once

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

}  // namespace ferry::bench
