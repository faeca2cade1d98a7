// ferry_kvm_or_lab: runs a test that needs KVM on whichever KVM there is. ctest runs every KVM
// test case through it (the test binaries' CROSSCOMPILING_EMULATOR, test/CMakeLists.txt):
//
//   ferry_kvm_or_lab PROGRAM ARGS...      run PROGRAM here when /dev/kvm works, else inside the
//                                         lab session's nested KVM, with the same arguments,
//                                         working directory and FERRY_*/GTEST_* environment
//   ferry_kvm_or_lab --session CMD...     run CMD (scripts/lab start|stop) only when the tests
//                                         will use the lab
//   ferry_kvm_or_lab --vfio-session CMD...
//                                         run CMD (scripts/lab start|stop for the VFIO tests'
//                                         session) only when the KVM tests do NOT use the lab
//                                         (when they do, their session serves the VFIO tests)
//   ferry_kvm_or_lab --always-session CMD...
//                                         run CMD (scripts/lab start|stop for the session on
//                                         Debian's kernel) on every host
//   ferry_kvm_or_lab --check              exit 0 when the tests use this host's KVM, else 1 and
//                                         say why they use the lab
//
// FERRY_KVM=host|lab|auto (default auto: the host's /dev/kvm when it answers, else the lab).
// FERRY_REQUIRE_LAB=1: a host that cannot run the lab fails the tests instead of skipping them.
// FERRY_LAB_COMMAND_TIMEOUT: seconds a command may take in the lab (default 900).
// FERRY_LAB_SESSION: the session directory (default: the one the ctest fixture starts).
// FERRY_NEEDS_VFIO=1 (ctest sets it for the tests labelled vfio): the test needs VFIO, which only
// the lab has, so it runs in a lab session even where the KVM tests run on this host: the
// KVM tests' session when they use the lab, else FERRY_VFIO_LAB_SESSION (default: the one the
// fixture vfio_lab starts). test/lab/lab_choice.h makes that choice. With
// FERRY_VFIO_LAB_KERNEL=debian too (the VFIO tests' second registration) it runs in the session
// on Debian's kernel (FERRY_DEBIAN_LAB_SESSION, the fixture vfio_lab_debian), and fails when that
// session runs another kernel.
// FERRY_NEEDS_LEGACY_PAGING=1 (ctest sets it for the x86 differential test's 32-bit paging
// modes): where the KVM tests run on this host but its KVM cannot run 32-bit paging (kvm-pvm,
// kvm_required.h), the test runs in the VFIO tests' session instead, whose kvm-amd can.
// A test run in the lab sees FERRY_IN_LAB=1.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "lab_choice.h"
#include "lab_session.h"
#include "support/kvm_required.h"

extern char** environ;

namespace ferry::test {
namespace {

constexpr int kCannotRunLab = 77;  // scripts/lab's status for "this host cannot run the lab"

std::string env(const char* name, const char* fallback = "") {
  const char* value = std::getenv(name);
  return value != nullptr ? value : fallback;
}

int exec_here(char** argv) {
  ::execvp(argv[0], argv);
  std::cerr << "ferry_kvm_or_lab: cannot run " << argv[0] << ": " << std::strerror(errno) << "\n";
  return 127;
}

// Runs a session command (scripts/lab start|stop) and returns its status; a lab that cannot run
// here (exit 77) is a skip unless FERRY_REQUIRE_LAB=1.
int run_lab_command(char** argv, const char* skipped_tests) {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(exec_here(argv));
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (code == kCannotRunLab && env("FERRY_REQUIRE_LAB") != "1") {
    std::cout << "[  SKIPPED ] THE LAB CANNOT RUN ON THIS HOST: every " << skipped_tests
              << " test will be reported as skipped (FERRY_REQUIRE_LAB=1 makes this a failure)\n";
    return 0;
  }
  return code;
}

int run_session_command(char** argv) {
  const std::string why = why_kvm_tests_use_lab();
  if (why.empty()) {
    std::cout << "the KVM tests run on this host's /dev/kvm; no lab session needed\n";
    return 0;
  }
  std::cout << "the KVM tests run in the lab: " << why << "\n" << std::flush;
  return run_lab_command(argv, "KVM and VFIO");
}

int run_vfio_session_command(char** argv) {
  const std::string why = why_kvm_tests_use_lab();
  if (!why.empty()) {
    std::cout << "the KVM tests run in the lab (" << why
              << "); their session serves the VFIO tests too\n";
    return 0;
  }
  std::cout << "the KVM tests run on this host's /dev/kvm; the VFIO tests get a lab session of "
               "their own\n"
            << std::flush;
  return run_lab_command(argv, "VFIO");
}

int run_always_session_command(char** argv) {
  std::cout << "the VFIO tests registered for Debian's kernel get a lab session of their own\n"
            << std::flush;
  return run_lab_command(argv, "VFIO (label debian-kernel)");
}

std::string lab_command_line(char** argv) {
  std::vector<std::string> words{"env", "FERRY_IN_LAB=1"};  // for tests that must know
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry = *e;
    if (entry.rfind("FERRY_", 0) == 0 || entry.rfind("GTEST_", 0) == 0) words.push_back(entry);
  }
  for (char** a = argv; *a != nullptr; ++a) words.emplace_back(*a);
  char cwd[4096];
  const std::string dir = ::getcwd(cwd, sizeof cwd) != nullptr ? cwd : "/root";
  return "mkdir -p " + shell_quote({dir}) + " && cd " + shell_quote({dir}) + " && exec " +
         shell_quote(words);
}

int run_in_lab(char** argv, const std::string& why, const std::string& session_dir) {
  LabSession session(session_dir);
  const std::string cannot_run = session.cannot_run_reason();
  if (!cannot_run.empty()) {
    if (env("FERRY_REQUIRE_LAB") == "1") {
      std::cout << "FERRY_REQUIRE_LAB=1, but this host cannot run the lab: " << cannot_run;
      return 1;
    }
    std::cout << "[  SKIPPED ] THIS TEST NEEDS THE LAB (" << why << "), AND NO LAB: " << cannot_run;
    return 0;
  }
  const std::string wrong_kernel = vfio_lab_kernel_mismatch(session.kernel());
  if (!wrong_kernel.empty()) {
    std::cerr << "ferry_kvm_or_lab: " << wrong_kernel << "\n";
    return 1;
  }
  std::cerr << "ferry_kvm_or_lab: " << why << "; running " << argv[0] << " in the lab session "
            << session_dir << "\n";
  const std::chrono::seconds timeout(std::stol(env("FERRY_LAB_COMMAND_TIMEOUT", "900")));
  auto result = session.run(lab_command_line(argv), timeout);
  if (!result) {
    std::cerr << "ferry_kvm_or_lab: " << result.error().message() << "\n"
              << "(ctest starts the sessions as the tests kvm_lab_start, vfio_lab_start and "
                 "vfio_lab_debian_start: run the tests through ctest, e.g. ctest -L kvm or ctest "
                 "-L vfio)\n";
    return 1;
  }
  std::cout << result->output << std::flush;
  if (result->status == 124) {
    std::cerr << "ferry_kvm_or_lab: the lab stopped the command after " << timeout.count()
              << " s (FERRY_LAB_COMMAND_TIMEOUT)\n";
  }
  return result->status;
}

int main_impl(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: ferry_kvm_or_lab PROGRAM ARGS... | --session CMD... | --vfio-session "
                 "CMD... | --always-session CMD... | --check\n";
    return 2;
  }
  const std::string first = argv[1];
  if (first == "--check") {
    const std::string why = why_kvm_tests_use_lab();
    std::cout << (why.empty() ? "this host's /dev/kvm" : why) << "\n";
    return why.empty() ? 0 : 1;
  }
  if (first == "--session") {
    if (argc < 3) return main_impl(1, argv);
    return run_session_command(argv + 2);
  }
  if (first == "--vfio-session") {
    if (argc < 3) return main_impl(1, argv);
    return run_vfio_session_command(argv + 2);
  }
  if (first == "--always-session") {
    if (argc < 3) return main_impl(1, argv);
    return run_always_session_command(argv + 2);
  }
  for (int i = 2; i < argc; ++i) {
    // Listing the tests (gtest_discover_tests at build time) needs no KVM.
    if (std::strcmp(argv[i], "--gtest_list_tests") == 0) return exec_here(argv + 1);
  }
  const std::string why = why_kvm_tests_use_lab();
  if (env("FERRY_NEEDS_VFIO") == "1") {
    // VFIO is only in the lab: the KVM tests' session when they use it, else the VFIO one.
    return run_in_lab(argv + 1, why.empty() ? "the test needs VFIO (FERRY_NEEDS_VFIO=1)" : why,
                      vfio_lab_session_dir());
  }
  if (!why.empty()) return run_in_lab(argv + 1, why, kvm_lab_session_dir());
  if (env("FERRY_NEEDS_LEGACY_PAGING") == "1") {
    const std::string missing = kvm_legacy_paging_missing_reason();
    if (!missing.empty()) {
      return run_in_lab(argv + 1, missing + " (FERRY_NEEDS_LEGACY_PAGING=1)",
                        vfio_lab_session_dir());
    }
  }
  return exec_here(argv + 1);
}

}  // namespace
}  // namespace ferry::test

int main(int argc, char** argv) { return ferry::test::main_impl(argc, argv); }
