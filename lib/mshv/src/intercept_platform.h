// lib/x86's view of the machine during one memory intercept: guest RAM through the partition's own
// region table (VpContext), everything else through the VMM's GuestIo. Bound per intercept.
#pragma once

#include "ferry/accel/guest_io.h"
#include "ferry/mshv/vp_context.h"
#include "ferry/x86/platform.h"

namespace ferry::mshv {

class InterceptPlatform final : public x86::Platform {
 public:
  /// The VP and the GuestIo of the intercept being emulated.
  void bind(VpContext& vp, accel::GuestIo& io) {
    vp_ = &vp;
    io_ = &io;
  }

  bool read_ram(uint64_t gpa, std::span<uint8_t> data) noexcept override;
  bool write_ram(uint64_t gpa, std::span<const uint8_t> data) noexcept override;
  void mmio_read(uint64_t gpa, std::span<uint8_t> data) noexcept override;
  void mmio_write(uint64_t gpa, std::span<const uint8_t> data) noexcept override;

 private:
  VpContext* vp_ = nullptr;
  accel::GuestIo* io_ = nullptr;
};

}  // namespace ferry::mshv
