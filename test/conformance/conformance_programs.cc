#include "conformance_programs.h"

namespace ferry::test {

Expectation program(std::string name, vmm::BootMode mode, std::vector<uint8_t> code,
                    std::function<void(accel::Regs&)> regs) {
  Expectation e;
  e.program.name = std::move(name);
  e.program.mode = mode;
  e.program.code = std::move(code);
  e.program.regs = std::move(regs);
  e.check_regs = [](const accel::Regs&) {};
  return e;
}

}  // namespace ferry::test
