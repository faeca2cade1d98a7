#include "spec_document.h"

#include <yaml-cpp/eventhandler.h>

#include <optional>
#include <sstream>
#include <vector>

namespace ferry::vmm {
namespace {

// Records where each document of a YAML stream starts; the content itself is not needed.
class DocumentStarts : public YAML::EventHandler {
 public:
  std::optional<YAML::Mark> second;

  void OnDocumentStart(const YAML::Mark& mark) override {
    if (++count_ == 2) second = mark;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}

 private:
  int count_ = 0;
};

// Flow brackets nested deeper than this are a runaway, not a spec (which needs three levels).
constexpr size_t kMaxFlowDepth = 32;

struct Position {
  size_t line = 1;
  size_t column = 1;
};

Position position_of(std::string_view text, size_t offset) {
  Position at;
  for (size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++at.line;
      at.column = 1;
    } else {
      ++at.column;
    }
  }
  return at;
}

Position position_of(const YAML::Mark& mark) {
  return Position{static_cast<size_t>(mark.line) + 1, static_cast<size_t>(mark.column) + 1};
}

Error error_at(const std::string& source, Position at, const std::string& message) {
  return Error(Errc::kInvalidArgument,
               fmt::format("{}:{}:{}: {}", source, at.line, at.column, message));
}

// YAML allows no C0 control character in a stream but tab, line feed and carriage return, and
// no DEL; yaml-cpp's own messages for them ("unknown escape character") point elsewhere.
Expected<void> check_characters(std::string_view text, const std::string& source) {
  for (size_t i = 0; i < text.size(); ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if ((byte < 0x20 && byte != '\t' && byte != '\n' && byte != '\r') || byte == 0x7f) {
      return fail(error_at(source, position_of(text, i),
                           fmt::format("the control character {:#04x}{} is not allowed in YAML; a "
                                       "spec is plain text: delete it (is this a binary file?)",
                                       byte, byte == 0 ? " (NUL)" : "")));
    }
  }
  return {};
}

// The first tab in a line's indentation: YAML indents with spaces only.
std::optional<size_t> tab_in_indentation(std::string_view text) {
  size_t line_start = 0;
  while (line_start < text.size()) {
    size_t i = line_start;
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '-')) {
      if (text[i] == '\t') {
        const size_t end = text.find('\n', i);
        const std::string_view rest = text.substr(i, end == std::string_view::npos ? end : end - i);
        // A line of nothing but blanks is not indentation.
        if (rest.find_first_not_of(" \t\r") != std::string_view::npos) return i;
        break;
      }
      ++i;
    }
    const size_t next = text.find('\n', line_start);
    if (next == std::string_view::npos) break;
    line_start = next + 1;
  }
  return std::nullopt;
}

// Where flow brackets ('[', '{') nest too deep, or the one left open at the end of the text;
// quoted text and comments are skipped. yaml-cpp reports both as "bad file".
struct FlowNesting {
  std::optional<size_t> too_deep;  // offset of the bracket past kMaxFlowDepth
  std::optional<size_t> unclosed;  // offset of the innermost bracket still open at the end
};

FlowNesting flow_nesting(std::string_view text) {
  FlowNesting result;
  std::vector<size_t> open;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '"' || c == '\'') {
      for (++i; i < text.size() && text[i] != c; ++i) {
        if (c == '"' && text[i] == '\\') ++i;
      }
    } else if (c == '#' && (i == 0 || text[i - 1] == ' ' || text[i - 1] == '\n')) {
      while (i < text.size() && text[i] != '\n') ++i;
    } else if (c == '[' || c == '{') {
      open.push_back(i);
      if (open.size() > kMaxFlowDepth && !result.too_deep) result.too_deep = i;
    } else if ((c == ']' || c == '}') && !open.empty()) {
      open.pop_back();
    }
  }
  if (!open.empty()) result.unclosed = open.back();
  return result;
}

// What a yaml-cpp syntax error means for a spec, at the place to fix.
Error syntax_error(std::string_view text, const std::string& source, const YAML::Mark& mark,
                   const std::string& message) {
  if (auto tab = tab_in_indentation(text)) {
    return error_at(source, position_of(text, *tab),
                    "not valid YAML: tabs are not allowed for indentation in YAML; use spaces");
  }
  // "bad file" and "end of ... flow not found" both mean a bracket left open.
  const bool open_flow =
      message == YAML::ErrorMsg::BAD_FILE || message.find("flow not found") != std::string::npos;
  if (open_flow) {
    const FlowNesting nesting = flow_nesting(text);
    if (nesting.unclosed) {
      return error_at(
          source, position_of(text, *nesting.unclosed),
          fmt::format("not valid YAML: this '{}' is never closed; add the matching "
                      "'{}'",
                      text[*nesting.unclosed], text[*nesting.unclosed] == '[' ? ']' : '}'));
    }
    return error_at(source, position_of(mark),
                    "not valid YAML: the parser stopped here before the end of the spec; check "
                    "the brackets and quotes above");
  }
  return error_at(source, position_of(mark), fmt::format("not valid YAML: {}", message));
}

// A spec is one document: whatever follows a "---" would otherwise be dropped without a word.
Expected<void> check_single_document(const std::string& text, const std::string& source) {
  std::istringstream stream(text);
  YAML::Parser parser(stream);
  DocumentStarts starts;
  while (!starts.second && parser.HandleNextDocument(starts)) {
  }
  if (!starts.second) return {};
  return fail(Errc::kInvalidArgument,
              "{}:{}:{}: a second YAML document starts here; a VM spec is one document: remove "
              "the '---' and what follows, or move it to its own file",
              source, starts.second->line + 1, starts.second->column + 1);
}

}  // namespace

Expected<YAML::Node> load_spec_document(std::string_view text, const std::string& source) {
  const std::string owned(text);
  FERRY_TRY(check_characters(text, source));
  if (auto deep = flow_nesting(text).too_deep) {
    return fail(error_at(source, position_of(text, *deep),
                         fmt::format("brackets nest more than {} deep here; a VM spec needs a "
                                     "few levels: look for a runaway '[' or '{{'",
                                     kMaxFlowDepth)));
  }
  YAML::Node root;
  try {
    root = YAML::Load(owned);
    FERRY_TRY(check_single_document(owned, source));
  } catch (const YAML::ParserException& e) {
    return fail(syntax_error(text, source, e.mark, e.msg));
  }
  return root;
}

}  // namespace ferry::vmm
