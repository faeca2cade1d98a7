// gMock doubles of the accelerator interfaces, for StrictMock tests of everything above them.
#pragma once

#include <gmock/gmock.h>

#include "ferry/accel/hypervisor.h"

namespace ferry::test {

class MockGuestIo : public accel::GuestIo {
 public:
  MOCK_METHOD(void, mmio_read, (uint64_t, std::span<uint8_t>), (noexcept, override));
  MOCK_METHOD(void, mmio_write, (uint64_t, std::span<const uint8_t>), (noexcept, override));
  MOCK_METHOD(void, pio_read, (uint16_t, std::span<uint8_t>), (noexcept, override));
  MOCK_METHOD(void, pio_write, (uint16_t, std::span<const uint8_t>), (noexcept, override));
};

class MockVcpu : public accel::Vcpu {
 public:
  MOCK_METHOD(unsigned, index, (), (const, override));
  MOCK_METHOD(Expected<accel::Regs>, get_regs, (), (override));
  MOCK_METHOD(Expected<void>, set_regs, (const accel::Regs&), (override));
  MOCK_METHOD(Expected<accel::SpecialRegs>, get_special_regs, (), (override));
  MOCK_METHOD(Expected<void>, set_special_regs, (const accel::SpecialRegs&), (override));
  MOCK_METHOD(Expected<accel::FpuState>, get_fpu, (), (override));
  MOCK_METHOD(Expected<void>, set_fpu, (const accel::FpuState&), (override));
  MOCK_METHOD(Expected<void>, set_cpuid, (std::span<const accel::CpuidEntry>), (override));
  MOCK_METHOD(Expected<void>, set_mp_state, (accel::MpState), (override));
  MOCK_METHOD(Expected<accel::Exit>, run, (accel::GuestIo&), (noexcept, override));
  MOCK_METHOD(Expected<void>, complete_pending_io, (accel::GuestIo&), (noexcept, override));
  MOCK_METHOD(void, request_exit, (), (noexcept, override));
};

class MockVm : public accel::Vm {
 public:
  MOCK_METHOD(Expected<std::unique_ptr<accel::Vcpu>>, create_vcpu, (unsigned), (override));
  MOCK_METHOD(Expected<void>, map_memory, (uint64_t, uint64_t, void*, bool), (override));
  MOCK_METHOD(Expected<void>, map_device_memory, (uint64_t, uint64_t, void*), (override));
  MOCK_METHOD(Expected<void>, unmap_memory, (uint64_t, uint64_t), (override));
  MOCK_METHOD(Expected<void>, set_msi_routes, (std::span<const accel::MsiRoute>), (override));
  MOCK_METHOD(Expected<void>, register_irqfd, (int, uint32_t, std::optional<int>), (override));
  MOCK_METHOD(Expected<void>, unregister_irqfd, (int, uint32_t), (override));
  MOCK_METHOD(accel::IrqfdPairing, irqfd_pairing, (), (const, override));
  MOCK_METHOD(Expected<void>, register_ioeventfd, (const accel::IoEventFd&), (override));
  MOCK_METHOD(Expected<void>, unregister_ioeventfd, (const accel::IoEventFd&), (override));
  MOCK_METHOD(Expected<std::unique_ptr<accel::VfioBridge>>, create_vfio_bridge, (), (override));
};

// A StrictMock Vm that reports `pairing` whenever asked (irq::MsiRouteTable asks at construction
// to pick its order); every other call must be expected.
class StrictMockVm : public ::testing::StrictMock<MockVm> {
 public:
  explicit StrictMockVm(accel::IrqfdPairing pairing = accel::IrqfdPairing::kWhenBothExist) {
    EXPECT_CALL(*this, irqfd_pairing()).WillRepeatedly(::testing::Return(pairing));
  }
};

class MockHypervisor : public accel::Hypervisor {
 public:
  MOCK_METHOD(accel::Kind, kind, (), (const, override));
  MOCK_METHOD(unsigned, max_vcpus, (), (const, override));
  MOCK_METHOD(Expected<std::vector<accel::CpuidEntry>>, supported_cpuid, (), (override));
  MOCK_METHOD(Expected<std::unique_ptr<accel::Vm>>, create_vm, (const accel::VmOptions&),
              (override));
};

// Matches an accel::MsiRoute by its fields.
MATCHER_P3(MsiRouteIs, gsi, address, data, "") {
  return arg.gsi == gsi && arg.address == address && arg.data == data;
}

}  // namespace ferry::test
