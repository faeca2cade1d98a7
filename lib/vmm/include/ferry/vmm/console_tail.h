// The last lines the guest wrote to its console, kept so that ferry can show them when the guest
// ends abnormally (a triple fault, a reset after a panic, a vCPU error): often the panic message.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

namespace ferry::vmm {

class ConsoleTail {
 public:
  static constexpr size_t kDefaultLines = 20;
  static constexpr size_t kMaxLineLength = 512;  // longer lines are cut: memory stays bounded

  explicit ConsoleTail(size_t lines = kDefaultLines) : max_lines_(lines) {}

  /// One byte of console output; '\n' ends a line, '\r' and other control bytes are dropped.
  void put(uint8_t byte);
  /// The kept lines, oldest first, with the unfinished last line if it has text.
  std::vector<std::string> lines() const;

 private:
  mutable std::mutex mutex_;  // vCPU threads write, the main thread reads
  size_t max_lines_;
  std::deque<std::string> lines_;
  std::string current_;
};

/// What ferry prints on stderr after a guest's abnormal end: a header, then the lines indented,
/// or nothing when there are none.
std::string format_console_tail(const std::vector<std::string>& lines);

}  // namespace ferry::vmm
