#include "ferry/accel/vcpu_error.h"

namespace ferry::accel {

Error vcpu_error(Vcpu& vcpu, std::string what, Errc code) {
  std::string message = fmt::format("vCPU {}: {}", vcpu.index(), what);
  auto regs = vcpu.get_regs();
  auto sregs = vcpu.get_special_regs();
  if (regs && sregs) {
    message += "\n" + format_registers(*regs, *sregs);
  } else {
    message += "\n(registers unavailable)";
  }
  return Error(code, std::move(message));
}

}  // namespace ferry::accel
