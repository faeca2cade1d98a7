#include "ferry/irq/msi_message.h"

#include <fmt/format.h>

namespace ferry::irq {
namespace {

constexpr uint64_t kWindowBase = 0xfee00000;
constexpr uint64_t kWindowMask = ~uint64_t{0xfffff};  // 1 MiB window, upper half zero
constexpr unsigned kFirstLegalVector = 16;

enum DeliveryMode : uint32_t {
  kFixed = 0,
  kLowestPriority = 1,
  kSmi = 2,
  kNmi = 4,
  kInit = 5,
  kExtInt = 7
};

}  // namespace

bool msi_deliverable(uint64_t address, uint32_t data, std::string* why) {
  auto refuse = [&](std::string reason) {
    if (why) *why = std::move(reason);
    return false;
  };
  if ((address & kWindowMask) != kWindowBase) {
    return refuse(fmt::format("address {:#x} is outside the MSI window", address));
  }
  const uint32_t mode = (data >> 8) & 7;
  const uint32_t vector = data & 0xff;
  switch (mode) {
    case kFixed:
    case kLowestPriority:
      if (vector < kFirstLegalVector) {
        return refuse(fmt::format("vector {} is reserved (an illegal vector)", vector));
      }
      return true;
    case kNmi:
    case kInit:
      return true;
    case kSmi:
      return refuse("SMI (no SMM firmware)");
    case kExtInt:
      return refuse("ExtINT (no 8259 PIC)");
    default:
      return refuse(fmt::format("delivery mode {} is reserved", mode));
  }
}

}  // namespace ferry::irq
