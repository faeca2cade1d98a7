#include "mshv_backend_test.h"

#include <cstring>

#include "ferry/vmm/boot_state.h"

namespace ferry::test {

vmm::VmConfig fake_machine_config(const std::string& serial_path) {
  vmm::VmConfig config;
  config.name = "mshv";
  config.memory_size = 16 * 1024 * 1024;
  config.payload.builtin = "hello";
  config.serial.mode = vmm::SerialMode::kFile;
  config.serial.path = serial_path;
  return config;
}

Expected<void> load_outsb_exit_guest(FakeMshvDriver& fake, const vmm::GuestMemory& memory) {
  const uint64_t entry = fake.vp_register(0, mshv::kHvRegRip).low;
  const uint8_t code[] = {0xf3, 0x6e, 0xe6, 0xf4, 0xf4};  // rep outsb; out 0xf4, al; hlt; hlt
  const uint8_t text[] = {'h', 'i', '\n'};
  FERRY_TRY(memory.write(entry, code));
  FERRY_TRY(memory.write(0x300000, text));
  fake.set_vp_register(0, mshv::kHvRegRsi, {0x300000, 0});
  fake.set_vp_register(0, mshv::kHvRegRcx, {3, 0});
  fake.set_vp_register(0, mshv::kHvRegRdx, {0x3f8, 0});
  fake.set_vp_register(0, mshv::kHvRegRax, {7, 0});
  return {};
}

FakeMshvOptions fake_options_with_host_cpuid() {
  FakeMshvOptions options;
  auto& c = options.host_cpuid;
  c[{0, 0}] = {0xb, 0x756e6547, 0x6c65746e, 0x49656e69};  // GenuineIntel, max leaf 0xb
  c[{1, 0}] = {0x000906ea, 0x00000800, 0x7ffafbff | (1u << 5), 0xbfebfbff};
  c[{7, 0}] = {1, 0x029c6fbf, 0, 0};
  c[{7, 1}] = {0x10, 0, 0, 0};
  c[{0xb, 0}] = {0, 1, 0x100, 0};
  c[{0xb, 1}] = {4, 8, 0x201, 0};
  c[{0xb, 2}] = {0, 0, 2, 0};
  c[{0x80000000, 0}] = {0x80000008, 0, 0, 0};
  c[{0x80000001, 0}] = {0, 0, 0x121, 0x2c100800 | (1u << 26)};
  c[{0x80000008, 0}] = {0x3027, 0, 0, 0};
  return options;
}

void MshvBackendTest::create_vm(mshv::MshvOptions options) {
  auto hypervisor = mshv::MshvHypervisor::open(fake_, "/dev/mshv", std::move(options));
  ASSERT_TRUE(hypervisor) << hypervisor.error().message();
  hypervisor_ = std::move(*hypervisor);
  auto vm = hypervisor_->create_vm({.vcpus = 1});
  ASSERT_TRUE(vm) << vm.error().message();
  vm_ = std::move(*vm);
}

void MshvBackendTest::boot(vmm::BootMode mode, std::span<const uint8_t> code) {
  if (!vm_) {
    ASSERT_NO_FATAL_FAILURE(create_vm());
  }
  auto memory = vmm::GuestMemory::allocate(kMemorySize);
  ASSERT_TRUE(memory) << memory.error().message();
  memory_.emplace(std::move(*memory));
  auto mapped = memory_->map_into(*vm_);
  ASSERT_TRUE(mapped) << mapped.error().message();
  auto tables = vmm::write_boot_tables(*memory_, mode, false);
  ASSERT_TRUE(tables) << tables.error().message();
  ASSERT_NO_FATAL_FAILURE(write(kEntry, code));
  auto vcpu = vm_->create_vcpu(0);
  ASSERT_TRUE(vcpu) << vcpu.error().message();
  vcpu_ = std::move(*vcpu);
  auto entered = vmm::set_entry_state(*vcpu_, mode, kEntry, 0, 1);
  ASSERT_TRUE(entered) << entered.error().message();
  fake_.execute_guest(0);
}

void MshvBackendTest::start(vmm::BootMode mode, const std::vector<uint8_t>& code,
                            const std::function<void(accel::Regs&)>& adjust) {
  ASSERT_NO_FATAL_FAILURE(boot(mode, code));
  auto r = vcpu_->get_regs();
  ASSERT_TRUE(r) << r.error().message();
  adjust(*r);
  auto set = vcpu_->set_regs(*r);
  ASSERT_TRUE(set) << set.error().message();
}

accel::Regs MshvBackendTest::regs() {
  auto r = vcpu_->get_regs();
  EXPECT_TRUE(r) << r.error().message();
  return r ? *r : accel::Regs{};
}

accel::Exit MshvBackendTest::run_until_stop(accel::GuestIo& io, unsigned limit) {
  for (unsigned i = 0; i < limit; ++i) {
    auto exit = vcpu_->run(io);
    EXPECT_TRUE(exit) << exit.error().message();
    if (!exit) return {accel::ExitKind::kShutdown};
    if (exit->kind != accel::ExitKind::kHandled) return *exit;
  }
  ADD_FAILURE() << "the vCPU did not stop within " << limit << " runs";
  return {accel::ExitKind::kShutdown};
}

void MshvBackendTest::write(uint64_t gpa, std::span<const uint8_t> bytes) {
  auto written = memory_->write(gpa, bytes);
  ASSERT_TRUE(written) << written.error().message();
}

std::vector<uint8_t> MshvBackendTest::read(uint64_t gpa, size_t length) {
  std::vector<uint8_t> bytes(length);
  const uint8_t* host = memory_->host_span(gpa, length);
  if (host != nullptr) std::memcpy(bytes.data(), host, length);
  return bytes;
}

}  // namespace ferry::test
