#include "ferry/vmm/console_tail.h"

#include <fmt/format.h>

namespace ferry::vmm {

void ConsoleTail::put(uint8_t byte) {
  std::lock_guard lock(mutex_);
  if (byte == '\n') {
    lines_.push_back(std::move(current_));
    current_.clear();
    if (lines_.size() > max_lines_) lines_.pop_front();
    return;
  }
  // Escape sequences and carriage returns would garble the report on a terminal.
  const bool printable = byte == '\t' || (byte >= 0x20 && byte != 0x7f);
  if (printable && current_.size() < kMaxLineLength) current_.push_back(static_cast<char>(byte));
}

std::vector<std::string> ConsoleTail::lines() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> all(lines_.begin(), lines_.end());
  if (!current_.empty()) all.push_back(current_);
  if (all.size() > max_lines_) all.erase(all.begin());
  return all;
}

std::string format_console_tail(const std::vector<std::string>& lines) {
  if (lines.empty()) return "";
  std::string text = fmt::format("ferry: the guest's last {} console line{}:\n", lines.size(),
                                 lines.size() == 1 ? "" : "s");
  for (const std::string& line : lines) text += "  | " + line + "\n";
  return text;
}

}  // namespace ferry::vmm
