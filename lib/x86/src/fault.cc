#include "ferry/x86/fault.h"

#include <fmt/format.h>

namespace ferry::x86 {
namespace {

const char* vector_name(Vector vector) {
  switch (vector) {
    case Vector::kDe:
      return "#DE";
    case Vector::kDb:
      return "#DB";
    case Vector::kUd:
      return "#UD";
    case Vector::kNm:
      return "#NM";
    case Vector::kSs:
      return "#SS";
    case Vector::kGp:
      return "#GP";
    case Vector::kPf:
      return "#PF";
  }
  return "#?";
}

}  // namespace

std::string describe(const Fault& fault) {
  std::string text = vector_name(fault.vector);
  if (fault.error_code) text += fmt::format("({:#x})", *fault.error_code);
  if (fault.vector == Vector::kPf) text += fmt::format(" at {:#x}", fault.cr2);
  return text + ": " + fault.reason;
}

}  // namespace ferry::x86
