#include "intercept_platform.h"

namespace ferry::mshv {

bool InterceptPlatform::read_ram(uint64_t gpa, std::span<uint8_t> data) noexcept {
  return vp_->read_ram(gpa, data);
}

bool InterceptPlatform::write_ram(uint64_t gpa, std::span<const uint8_t> data) noexcept {
  // A write to read-only guest memory (a ROM: MSHV reports it as GPA_INTERCEPT) goes to the bus,
  // as KVM reports it as an MMIO exit.
  return vp_->write_ram(gpa, data);
}

void InterceptPlatform::mmio_read(uint64_t gpa, std::span<uint8_t> data) noexcept {
  io_->mmio_read(gpa, data);
}

void InterceptPlatform::mmio_write(uint64_t gpa, std::span<const uint8_t> data) noexcept {
  io_->mmio_write(gpa, data);
}

}  // namespace ferry::mshv
