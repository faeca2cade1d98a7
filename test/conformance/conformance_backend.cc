#include "conformance_backend.h"

#include <algorithm>
#include <cstring>

#include "fake_mshv_driver.h"
#include "ferry/kvm/kvm_hypervisor.h"
#include "ferry/mshv/mshv_hypervisor.h"
#include "ferry/vmm/boot_state.h"
#include "mshv_backend_test.h"

namespace ferry::test {
namespace {

class KvmBackend final : public ConformanceBackend {
 public:
  Expected<std::unique_ptr<accel::Hypervisor>> open() override {
    FERRY_ASSIGN(auto kvm, kvm::KvmHypervisor::open());
    return std::unique_ptr<accel::Hypervisor>(std::move(kvm));
  }
};

class FakeMshvBackend final : public ConformanceBackend {
 public:
  Expected<std::unique_ptr<accel::Hypervisor>> open() override {
    FERRY_ASSIGN(auto mshv, mshv::MshvHypervisor::open(fake_));
    return std::unique_ptr<accel::Hypervisor>(std::move(mshv));
  }
  void start_guest(const ConformanceProgram& program) override {
    for (const MmioSite& site : program.mmio) {
      fake_.annotate_mmio(kProgramEntry + site.offset,
                          {.gva = site.gva,
                           .write = site.write,
                           .gpa_valid = site.gpa_valid,
                           .instruction_bytes = site.instruction_bytes});
    }
    fake_.execute_guest(0);
  }

 private:
  FakeMshvDriver fake_{fake_options_with_host_cpuid()};
};

constexpr int kMaxRuns = 10000;  // KVM may exit once per element of a REP

}  // namespace

std::unique_ptr<ConformanceBackend> ConformanceBackend::make(const std::string& name) {
  if (name == "kvm") return std::make_unique<KvmBackend>();
  return std::make_unique<FakeMshvBackend>();
}

Expected<ConformanceRun> run_program(ConformanceBackend& backend, const ConformanceProgram& p) {
  FERRY_ASSIGN(auto hypervisor, backend.open());
  FERRY_ASSIGN(auto vm, hypervisor->create_vm({.vcpus = 1}));
  FERRY_ASSIGN(vmm::GuestMemory memory, vmm::GuestMemory::allocate(kProgramMemorySize));
  FERRY_TRY(memory.map_into(*vm));
  FERRY_TRY(vmm::write_boot_tables(memory, p.mode, false));
  std::vector<uint8_t> code = p.code;
  code.insert(code.end(), {0xe6, static_cast<uint8_t>(kSentinelPort)});  // out %al, $sentinel
  FERRY_TRY(memory.write(kProgramEntry, code));
  for (const auto& [gpa, bytes] : p.memory) FERRY_TRY(memory.write(gpa, bytes));

  FERRY_ASSIGN(auto vcpu, vm->create_vcpu(0));
  // As ferry's Machine does: Linux 6.12's KVM refuses long mode's EFER.LME without CPUID's LM.
  FERRY_ASSIGN(const std::vector<accel::CpuidEntry> cpuid, hypervisor->supported_cpuid());
  FERRY_TRY(vcpu->set_cpuid(cpuid));
  FERRY_TRY(vmm::set_entry_state(*vcpu, p.mode, kProgramEntry, 0, 1));
  if (p.fs_base) {
    FERRY_ASSIGN(accel::SpecialRegs sregs, vcpu->get_special_regs());
    sregs.fs.base = *p.fs_base;
    FERRY_TRY(vcpu->set_special_regs(sregs));
  }
  FERRY_ASSIGN(accel::Regs regs, vcpu->get_regs());
  p.regs(regs);
  FERRY_TRY(vcpu->set_regs(regs));
  backend.start_guest(p);

  RecordingGuestIo io;
  ConformanceRun run;
  bool done = false;
  std::optional<Error> regs_error;
  io.on_access = [&](const IoAccess& access) {
    if (access.kind != IoAccess::Kind::kPioWrite || access.address != kSentinelPort) return;
    // The device behind the sentinel port sees the state right after the program.
    auto at_sentinel = vcpu->get_regs();
    if (at_sentinel) {
      run.regs = *at_sentinel;
      run.regs.rip = 0;
    } else {
      regs_error = at_sentinel.error();
    }
    done = true;
  };
  for (int i = 0; i < kMaxRuns && !done; ++i) {
    FERRY_ASSIGN(accel::Exit exit, vcpu->run(io));
    if (exit.kind != accel::ExitKind::kHandled && exit.kind != accel::ExitKind::kInterrupted) {
      return fail(Errc::kGuestFault,
                  "program {}: the vCPU stopped (exit kind {}) before the sentinel", p.name,
                  static_cast<int>(exit.kind));
    }
  }
  if (!done) return fail(Errc::kGuestFault, "program {} did not reach the sentinel", p.name);
  if (regs_error) return fail(*regs_error);
  for (const IoAccess& access : io.accesses()) {
    const bool mmio =
        access.kind == IoAccess::Kind::kMmioRead || access.kind == IoAccess::Kind::kMmioWrite;
    if (!mmio || access.data.size() <= 8) {
      run.accesses.push_back(access);
      continue;
    }
    for (size_t at = 0; at < access.data.size(); at += 8) {
      const size_t piece = std::min<size_t>(8, access.data.size() - at);
      run.accesses.push_back({access.kind,
                              access.address + at,
                              {access.data.begin() + at, access.data.begin() + at + piece}});
    }
  }
  run.accesses.pop_back();  // the sentinel
  if (p.watch_length != 0) {
    const uint8_t* host = memory.host_span(p.watch, p.watch_length);
    if (host == nullptr) return fail(Errc::kInvalidArgument, "program {}: bad watch range", p.name);
    run.watched.assign(host, host + p.watch_length);
  }
  return run;
}

}  // namespace ferry::test
