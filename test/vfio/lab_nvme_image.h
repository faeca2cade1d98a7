// What the tests that read a lab device's backing file (SESSION/nvme.img, SESSION/ivshmem.img)
// from this host share: the session-or-skip check (and that the session runs the kernel the
// test is registered for) and the little-endian words the guests write.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "lab_choice.h"
#include "lab_session.h"

namespace ferry::test {

/// FERRY_REQUIRE_LAB=1: a host that cannot run the lab fails the test instead of skipping it.
inline bool lab_required() {
  const char* value = std::getenv("FERRY_REQUIRE_LAB");
  return value != nullptr && std::string(value) == "1";
}

inline void put_le64(uint8_t* out, uint64_t value) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(value >> (8 * i));
}

inline uint64_t get_le64(const uint8_t* in) {
  uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = value << 8 | in[i];
  return value;
}

}  // namespace ferry::test

// In a test body: skips (loudly) or fails when `session` (a LabSession) cannot run the lab, and
// fails when it runs another kernel than the test's registration asks for (lab_choice.h).
#define FERRY_REQUIRE_LAB_SESSION(session)                                                 \
  do {                                                                                     \
    const std::string cannot_run = (session).cannot_run_reason();                          \
    if (!cannot_run.empty()) {                                                             \
      if (::ferry::test::lab_required()) {                                                 \
        FAIL() << "FERRY_REQUIRE_LAB=1, but this host cannot run the lab: " << cannot_run; \
      }                                                                                    \
      GTEST_SKIP() << "VFIO IS ONLY IN THE LAB, AND NO LAB: " << cannot_run;               \
    }                                                                                      \
    const std::string wrong = ::ferry::test::vfio_lab_kernel_mismatch((session).kernel()); \
    if (!wrong.empty()) FAIL() << wrong;                                                   \
  } while (0)
