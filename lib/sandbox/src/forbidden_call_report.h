// The SIGSYS handler that says which thread made which forbidden call, then ends ferry.
#pragma once

#include <string_view>

#include "ferry/base/error.h"

namespace ferry::sandbox {

/// Fills the table of system call names the handler prints and installs the handler.
Expected<void> install_forbidden_call_report();
/// The calling thread's name in a report; kept in thread-local storage, which the handler reads.
void name_this_thread(std::string_view who);

}  // namespace ferry::sandbox
