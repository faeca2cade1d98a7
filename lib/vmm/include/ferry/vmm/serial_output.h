// Where a UART's transmitted bytes go: stdout, a file, or nowhere; and a ConsoleTail that keeps
// the last lines wherever they go.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "ferry/base/error.h"
#include "ferry/base/unique_fd.h"
#include "ferry/vmm/console_tail.h"

namespace ferry::vmm {

class SerialOutput {
 public:
  static SerialOutput discard() { return SerialOutput(-1, UniqueFd()); }
  static SerialOutput to_stdout() { return SerialOutput(1, UniqueFd()); }
  /// Whether to_file(path) can work, without creating anything: its directory exists and is
  /// writable, and the path is a regular file or does not exist yet (a FIFO, directory, device or
  /// socket is refused).
  static Expected<void> check_file(const std::string& path);
  /// Creates or truncates `path`, a regular file.
  static Expected<SerialOutput> to_file(const std::string& path);

  /// Also hands every byte to `tail`.
  void keep_tail(std::shared_ptr<ConsoleTail> tail) { tail_ = std::move(tail); }

  /// Writes one byte now (unbuffered, so prompts without a newline show up).
  void put(uint8_t byte) const;

 private:
  SerialOutput(int fd, UniqueFd owned) : fd_(fd), owned_(std::move(owned)) {}
  int fd_;
  UniqueFd owned_;
  std::shared_ptr<ConsoleTail> tail_;
};

}  // namespace ferry::vmm
