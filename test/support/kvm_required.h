// Tests that need a working /dev/kvm call FERRY_REQUIRE_KVM() first. ctest runs them where KVM
// is (test/lab/kvm_or_lab.cc: here, or in the lab's nested KVM). Run where there is none, they
// FAIL, loudly, unless FERRY_ALLOW_NO_KVM=1 is set; then they are SKIPPED (ctest says so) and
// never counted as passing.
#pragma once

#include <gtest/gtest.h>

#include <string>

namespace ferry::test {

// Empty when /dev/kvm opens read-write and speaks KVM API version 12; otherwise why not.
std::string kvm_unusable_reason();
bool no_kvm_allowed();
// Empty when this host's KVM can run guests with 32-bit (legacy or PAE) paging; otherwise why
// not, detected positively: kvm-pvm (/sys/module/kvm_pvm) runs guests only with long-mode paging.
std::string kvm_legacy_paging_missing_reason();

}  // namespace ferry::test

#define FERRY_REQUIRE_KVM()                                                                 \
  do {                                                                                      \
    const std::string ferry_kvm_reason = ::ferry::test::kvm_unusable_reason();              \
    if (!ferry_kvm_reason.empty()) {                                                        \
      if (::ferry::test::no_kvm_allowed()) {                                                \
        GTEST_SKIP() << "NO KVM: " << ferry_kvm_reason << " (FERRY_ALLOW_NO_KVM=1 is set)"; \
      }                                                                                     \
      FAIL() << "this test needs /dev/kvm: " << ferry_kvm_reason                            \
             << ". Run it through ctest (ctest -L kvm runs it in the lab's nested KVM), "   \
             << "on a KVM host, or set FERRY_ALLOW_NO_KVM=1 to skip it.";                   \
    }                                                                                       \
  } while (0)
