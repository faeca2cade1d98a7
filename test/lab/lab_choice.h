// Which lab session a test that needs KVM or VFIO talks to. One decision, shared by the runner
// (test/lab/kvm_or_lab.cc) and the VFIO tests that talk to a session themselves (test/vfio/):
//
// - the KVM tests run on this host's /dev/kvm when it works (FERRY_KVM=host|lab|auto), else in
//   the KVM session (FERRY_LAB_SESSION, default build/lab-session, the fixture kvm_lab);
// - VFIO exists only in the lab. When the KVM tests use the lab anyway, its session serves the
//   VFIO tests too (one boot: what matters on a 2-core host without /dev/kvm); when they run on
//   this host, the VFIO tests get a session of their own (FERRY_VFIO_LAB_SESSION, default
//   build/lab-vfio, the fixture vfio_lab);
// - the VFIO tests' second registration (FERRY_VFIO_LAB_KERNEL=debian, test/CMakeLists.txt)
//   always runs in the session booted on Debian's kernel (FERRY_DEBIAN_LAB_SESSION, default
//   build/lab-debian, the fixture vfio_lab_debian), on every host.
#pragma once

#include <string>

namespace ferry::test {

/// Empty when the KVM tests run on this host's /dev/kvm; otherwise why they run in the lab.
std::string why_kvm_tests_use_lab();
/// The KVM tests' session directory (used only when why_kvm_tests_use_lab() is not empty).
std::string kvm_lab_session_dir();
/// The session the VFIO tests run in: Debian's when FERRY_VFIO_LAB_KERNEL=debian, else the KVM
/// tests' when those use the lab, else the VFIO tests' own.
std::string vfio_lab_session_dir();
/// Why a session whose `kernel` file (scripts/lab start writes "ferry <version>" or "debian
/// <version>") is not the kernel FERRY_VFIO_LAB_KERNEL asks for; empty when it is, or when the
/// variable asks for none. A test registered for Debian's kernel must not pass on another.
std::string vfio_lab_kernel_mismatch(const std::string& session_kernel);

}  // namespace ferry::test
