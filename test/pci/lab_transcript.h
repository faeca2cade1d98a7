// Reads the transcript scripts/lab writes (its header comment and scripts/lab-init describe the
// format): for each command run inside the lab, its stdout, stderr and exit status.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "ferry/base/error.h"

namespace ferry::test {

struct LabCommand {
  std::string line;  // the shell command line as given
  std::string out;
  std::string err;
  int status = -1;
};

struct LabTranscript {
  std::vector<LabCommand> commands;
  bool done = false;                      // "@@lab done": every command ran
  std::vector<std::string> setup_errors;  // "@@lab setup-error <text>": a module or bind failed

  /// The command run with exactly this line, or nullptr.
  const LabCommand* find(const std::string& line) const;
};

/// Parses the transcript text; fails naming the line where the format breaks.
Expected<LabTranscript> parse_lab_transcript(const std::string& text);

}  // namespace ferry::test
