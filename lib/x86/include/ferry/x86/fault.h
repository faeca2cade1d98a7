// An exception the emulated instruction raises, for the backend to inject into the guest.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace ferry::x86 {

enum class Vector : uint8_t {
  kDe = 0,   // divide error (not raised by the supported instructions, listed for completeness)
  kDb = 1,   // debug: Outcome::single_step's trap
  kUd = 6,   // invalid opcode
  kNm = 7,   // device not available (SSE with CR0.TS)
  kSs = 12,  // stack-segment fault
  kGp = 13,  // general protection
  kPf = 14,  // page fault
};

struct Fault {
  Vector vector = Vector::kGp;
  std::optional<uint32_t> error_code;  // #GP, #SS and #PF push one (not in real mode)
  uint64_t cr2 = 0;                    // #PF: the faulting linear address
  std::string reason;                  // for logs: what the instruction tried and why it faulted
};

/// "#PF(0x2) at 0x7000: ..." for logs and test failures.
std::string describe(const Fault& fault);

// Page-fault error code bits.
constexpr uint32_t kPfPresent = 1u << 0;
constexpr uint32_t kPfWrite = 1u << 1;
constexpr uint32_t kPfUser = 1u << 2;
constexpr uint32_t kPfReserved = 1u << 3;
constexpr uint32_t kPfFetch = 1u << 4;

}  // namespace ferry::x86
