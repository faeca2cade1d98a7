#include "ferry/accel/hypervisor.h"

namespace ferry::accel {

std::string_view kind_name(Kind kind) {
  switch (kind) {
    case Kind::kKvm:
      return "kvm";
    case Kind::kMshv:
      return "mshv";
  }
  return "unknown";
}

}  // namespace ferry::accel
