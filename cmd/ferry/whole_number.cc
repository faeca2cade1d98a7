#include "whole_number.h"

#include <charconv>

namespace ferry::cli {
namespace {

namespace po = boost::program_options;

// boost fills in the option's name ("--guest-phys-bits") in place of %canonical_option%.
class NotAWholeNumber : public po::error_with_option_name {
 public:
  explicit NotAWholeNumber(const std::string& text)
      : po::error_with_option_name(
            "%canonical_option% '%value%': not a whole number; give 0 or more in decimal digits, "
            "without a sign") {
    set_substitute("value", text);
  }
};

}  // namespace

void validate(boost::any& out, const std::vector<std::string>& tokens, WholeNumber*, int) {
  po::validators::check_first_occurrence(out);
  const std::string& text = po::validators::get_single_string(tokens);
  WholeNumber number;
  const char* end = text.data() + text.size();
  auto [stop, error] = std::from_chars(text.data(), end, number.value);
  // from_chars accepts a leading '-' for unsigned types and wraps; only digits are a count.
  if (text.empty() || text.front() < '0' || text.front() > '9' || error != std::errc() ||
      stop != end) {
    throw NotAWholeNumber(text);
  }
  out = number;
}

}  // namespace ferry::cli
