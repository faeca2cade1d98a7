// A command-line option that takes a whole number. boost's own conversion to unsigned reads "-1"
// as 4294967295; this one refuses anything but decimal digits and echoes what was typed.
#pragma once

#include <boost/program_options.hpp>
#include <string>
#include <vector>

namespace ferry::cli {

struct WholeNumber {
  unsigned value = 0;
};

/// boost::program_options finds this through the WholeNumber* argument.
void validate(boost::any& out, const std::vector<std::string>& tokens, WholeNumber*, int);

}  // namespace ferry::cli
