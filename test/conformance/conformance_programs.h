// The programs the conformance tests run on both backends, each with what the CPU does: the
// GuestIo traffic, the registers and the memory it leaves. Every backend is held to it.
#pragma once

#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "conformance_backend.h"

namespace ferry::test {

struct Expectation {
  ConformanceProgram program;
  std::vector<IoAccess> accesses;
  size_t access_count = 0;  // when not 0, only the number of accesses is checked
  std::function<void(const accel::Regs&)> check_regs;
  std::vector<uint8_t> watched;
};

inline void PrintTo(const Expectation& e, std::ostream* os) { *os << e.program.name; }

/// An expectation for `code` in `mode` from the entry state with `regs` applied; no traffic.
Expectation program(std::string name, vmm::BootMode mode, std::vector<uint8_t> code,
                    std::function<void(accel::Regs&)> regs);

/// Port I/O: each size and mode, IN merging, REP INS/OUTS, overrides, wrap, zero counts.
std::vector<Expectation> pio_programs();
/// MMIO: MOV both ways, extensions, read-modify-write, REP STOS/MOVS, SSE, page crossings,
/// protected and real mode, with and without a GPA in the MSHV message.
std::vector<Expectation> mmio_programs();

}  // namespace ferry::test
