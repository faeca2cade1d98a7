#include "ferry/vmm/test_device.h"

#include <spdlog/spdlog.h>

#include <cstring>

#include "ferry/base/checked.h"
#include "ferry/guests/testdev.h"
#include "ferry/irq/msi_batch.h"

namespace ferry::vmm {

Expected<std::shared_ptr<TestDevice>> TestDevice::create(irq::MsiRouteTable& routes) {
  return std::shared_ptr<TestDevice>(new TestDevice(routes));
}

uint64_t TestDevice::read_register(uint64_t offset, unsigned size) {
  std::lock_guard lock(mutex_);
  const uint32_t seen = accesses_++;
  if (offset >= FERRY_TESTDEV_SCRATCH &&
      range_fits(offset - FERRY_TESTDEV_SCRATCH, size, FERRY_TESTDEV_SCRATCH_SIZE)) {
    uint64_t value = 0;
    std::memcpy(&value, &scratch_[offset - FERRY_TESTDEV_SCRATCH], size);
    return value;
  }
  switch (offset) {
    case FERRY_TESTDEV_ID:
      return FERRY_TESTDEV_MAGIC;
    case FERRY_TESTDEV_VERSION:
      return 1;
    case FERRY_TESTDEV_ACCESSES:
      return seen;
    case FERRY_TESTDEV_MSI_ADDR_LO:
      return msi_address_lo_;
    case FERRY_TESTDEV_MSI_ADDR_HI:
      return msi_address_hi_;
    case FERRY_TESTDEV_MSI_DATA:
      return msi_data_;
    case FERRY_TESTDEV_MSI_SENT:
      return static_cast<uint32_t>(msi_.sent());
    default:
      return ~uint64_t{0};
  }
}

void TestDevice::write_register(uint64_t offset, unsigned size, uint64_t value) {
  std::lock_guard lock(mutex_);
  ++accesses_;
  if (offset >= FERRY_TESTDEV_SCRATCH &&
      range_fits(offset - FERRY_TESTDEV_SCRATCH, size, FERRY_TESTDEV_SCRATCH_SIZE)) {
    std::memcpy(&scratch_[offset - FERRY_TESTDEV_SCRATCH], &value, size);
    return;
  }
  switch (offset) {
    case FERRY_TESTDEV_MSI_ADDR_LO:
      msi_address_lo_ = static_cast<uint32_t>(value);
      return;
    case FERRY_TESTDEV_MSI_ADDR_HI:
      msi_address_hi_ = static_cast<uint32_t>(value);
      return;
    case FERRY_TESTDEV_MSI_DATA:
      msi_data_ = static_cast<uint32_t>(value);
      return;
    case FERRY_TESTDEV_MSI_DOORBELL:
      send_msi();
      return;
    default:
      return;
  }
}

void TestDevice::send_msi() {
  const uint64_t address = uint64_t{msi_address_hi_} << 32 | msi_address_lo_;
  irq::MsiBatch batch(routes_);
  msi_.set_message(batch, address, msi_data_);
  msi_.set_masked(batch, false);
  if (auto committed = batch.commit(); !committed) {
    spdlog::warn("test device: MSI not sent: {}", committed.error().message());
    return;
  }
  (void)msi_.signal();  // counted in msi_.sent(); a failure is logged there
}

}  // namespace ferry::vmm
