#include "lab_transcript.h"

#include <sstream>

namespace ferry::test {

const LabCommand* LabTranscript::find(const std::string& line) const {
  for (const LabCommand& c : commands) {
    if (c.line == line) return &c;
  }
  return nullptr;
}

Expected<LabTranscript> parse_lab_transcript(const std::string& text) {
  LabTranscript transcript;
  size_t at = 0;
  // Reads one "@@lab ..." line and advances past it.
  auto next_line = [&]() -> std::optional<std::string> {
    if (at >= text.size()) return std::nullopt;
    size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(at, end - at);
    at = end + 1;
    return line;
  };
  // Reads "<len>" bytes after a "@@lab stdout N <len>" header.
  auto payload = [&](const std::string& header) -> Expected<std::string> {
    const size_t space = header.rfind(' ');
    const size_t length = std::stoul(header.substr(space + 1));
    if (at + length > text.size()) {
      return fail(Errc::kInvalidArgument, "transcript ends inside '{}'", header);
    }
    std::string bytes = text.substr(at, length);
    at += length;
    return bytes;
  };
  while (auto line = next_line()) {
    if (line->empty()) continue;
    std::istringstream words(*line);
    std::string tag, kind;
    words >> tag >> kind;
    if (tag != "@@lab") {
      return fail(Errc::kInvalidArgument, "transcript: '{}' is not a @@lab line", *line);
    }
    if (kind == "done") {
      transcript.done = true;
    } else if (kind == "begin") {
      int number = 0;
      words >> number;
      std::string rest;
      std::getline(words, rest);
      transcript.commands.push_back({rest.empty() ? rest : rest.substr(1), "", "", -1});
    } else if (kind == "stdout" || kind == "stderr" || kind == "exit") {
      if (transcript.commands.empty()) {
        return fail(Errc::kInvalidArgument, "transcript: '{}' before any begin", *line);
      }
      LabCommand& command = transcript.commands.back();
      if (kind == "exit") {
        int number = 0;
        words >> number >> command.status;
      } else {
        FERRY_ASSIGN(std::string bytes, payload(*line));
        (kind == "stdout" ? command.out : command.err) = std::move(bytes);
      }
    } else if (kind == "setup-error") {
      std::string what;
      std::getline(words, what);
      transcript.setup_errors.push_back(what.empty() ? what : what.substr(1));
    } else {
      return fail(Errc::kInvalidArgument, "transcript: unknown line '{}'", *line);
    }
  }
  return transcript;
}

}  // namespace ferry::test
