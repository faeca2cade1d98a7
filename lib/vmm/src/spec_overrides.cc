#include "spec_overrides.h"

#include "spec_document.h"
#include "yaml_reader.h"

namespace ferry::vmm {
namespace {

// Applies one override; `made` gets every path it creates or replaces.
Expected<void> apply_override(YAML::Node& root, const ConfigOverride& o, const std::string& source,
                              std::map<std::string, std::string>& made) {
  const std::string name = fmt::format("--set {}={}", o.key, o.value);
  // The value is read like the file, so a second document or a tab in it is not dropped either.
  auto value = load_spec_document(o.value, name);
  if (!value) return fail(value.error());
  if (!root.IsDefined() || root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  YAML::Node node = root;
  std::string path;
  std::string_view rest = o.key;
  for (;;) {
    const size_t dot = rest.find('.');
    const std::string key(rest.substr(0, dot));
    if (!node.IsMap()) {
      const std::string what = path.empty() ? "the spec" : path;
      return fail(Errc::kInvalidArgument,
                  "{}: {} is {} ({}), not a mapping, so it has no key '{}'; {}", name, what,
                  yaml_type_name(node), YamlReader(source, made).where(node, path), key,
                  path.empty() ? "a spec is a mapping of keys (docs/config.md): fix the file"
                               : fmt::format("set {} itself, e.g. --set {}=<value>", path, path));
    }
    path = path.empty() ? key : path + "." + key;
    if (dot == std::string_view::npos) {
      node[key] = *value;
      made[path] = name;
      return {};
    }
    // An absent or empty key becomes a mapping; anything else is walked into as it is.
    if (!node[key] || node[key].IsNull()) {
      node[key] = YAML::Node(YAML::NodeType::Map);
      made[path] = name;
    }
    node.reset(node[key]);
    rest.remove_prefix(dot + 1);
  }
}

}  // namespace

Expected<std::map<std::string, std::string>> apply_overrides(
    YAML::Node& root, std::span<const ConfigOverride> overrides, const std::string& source) {
  std::map<std::string, std::string> made;
  for (const ConfigOverride& o : overrides) FERRY_TRY(apply_override(root, o, source, made));
  return made;
}

}  // namespace ferry::vmm
