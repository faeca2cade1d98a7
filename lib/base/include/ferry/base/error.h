// Error values: a code for programs and one sentence for people. Every error a user can cause
// says what was wrong, where, and what to do; the sentence carries all three.
#pragma once

#include <fmt/format.h>

#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <utility>

namespace ferry {

enum class Errc {
  kInvalidArgument,  // the caller (user, config, guest) asked for something impossible
  kNotFound,
  kExists,
  kBusy,
  kUnsupported,  // the host, kernel or hypervisor lacks a capability
  kPermission,
  kNoResources,  // memory, hugepages, GSIs, memory slots
  kIo,
  kGuestFault,  // the guest did something the VMM refuses to carry out
  kInternal,
};

std::string_view errc_name(Errc code);

class Error {
 public:
  Error(Errc code, std::string message, int sys_errno = 0)
      : code_(code), message_(std::move(message)), sys_errno_(sys_errno) {}

  // "<what>: <strerror> (errno N)", with the code derived from the errno.
  static Error from_errno(int err, std::string_view what);

  Errc code() const { return code_; }
  const std::string& message() const { return message_; }
  int sys_errno() const { return sys_errno_; }

  // Prefixes the message with the outer operation: "loading payload: <message>".
  Error context(std::string_view outer) const&;
  Error context(std::string_view outer) &&;

 private:
  Errc code_;
  std::string message_;
  int sys_errno_;
};

template <class T>
using Expected = tl::expected<T, Error>;

template <class... Args>
tl::unexpected<Error> fail(Errc code, fmt::format_string<Args...> format, Args&&... args) {
  return tl::unexpected<Error>(Error(code, fmt::format(format, std::forward<Args>(args)...)));
}

inline tl::unexpected<Error> fail_errno(int err, std::string_view what) {
  return tl::unexpected<Error>(Error::from_errno(err, what));
}

inline tl::unexpected<Error> fail(Error error) { return tl::unexpected<Error>(std::move(error)); }

}  // namespace ferry

#define FERRY_CONCAT_INNER(a, b) a##b
#define FERRY_CONCAT(a, b) FERRY_CONCAT_INNER(a, b)

// Returns the error of an Expected<T> expression from the enclosing function.
#define FERRY_TRY(expr)                                            \
  do {                                                             \
    auto ferry_try_result_ = (expr);                               \
    if (!ferry_try_result_) {                                      \
      return tl::unexpected(std::move(ferry_try_result_).error()); \
    }                                                              \
  } while (0)

// FERRY_ASSIGN(auto x, expr): declares x from the value of expr, or returns its error.
#define FERRY_ASSIGN(lhs, expr) FERRY_ASSIGN_IMPL(FERRY_CONCAT(ferry_assign_, __LINE__), lhs, expr)
#define FERRY_ASSIGN_IMPL(tmp, lhs, expr)                  \
  auto tmp = (expr);                                       \
  if (!tmp) return tl::unexpected(std::move(tmp).error()); \
  lhs = std::move(tmp).value()
