#include "spec_document.h"

#include <yaml-cpp/eventhandler.h>

#include <optional>
#include <sstream>

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
  YAML::Node root;
  try {
    root = YAML::Load(owned);
    FERRY_TRY(check_single_document(owned, source));
  } catch (const YAML::ParserException& e) {
    return fail(Errc::kInvalidArgument, "{}:{}:{}: not valid YAML: {}", source, e.mark.line + 1,
                e.mark.column + 1, e.msg);
  }
  return root;
}

}  // namespace ferry::vmm
