#include "ferry/pci/bar.h"

#include <bit>

#include "ferry/base/units.h"

namespace ferry::pci {

std::string describe(const BarSpec& spec) {
  const char* kind = spec.kind == BarKind::kIo         ? "I/O"
                     : spec.kind == BarKind::kMemory32 ? "32-bit memory"
                                                       : "64-bit memory";
  return fmt::format("{}{} BAR of {}", kind, spec.prefetchable ? " prefetchable" : "",
                     format_size(spec.size));
}

Expected<void> check_bar_spec(const BarSpec& spec) {
  uint64_t min = kMinMemoryBarSize;
  uint64_t max = uint64_t{1} << 63;
  if (spec.kind == BarKind::kIo) min = kMinIoBarSize, max = kMaxIoBarSize;
  if (spec.kind == BarKind::kMemory32) max = 2 * kGiB;
  if (!std::has_single_bit(spec.size) || spec.size < min || spec.size > max) {
    return fail(Errc::kInvalidArgument, "{}: the size must be a power of two from {} to {}",
                describe(spec), format_size(min), format_size(max));
  }
  if (spec.kind == BarKind::kIo && spec.prefetchable) {
    return fail(Errc::kInvalidArgument, "{}: only memory BARs are prefetchable", describe(spec));
  }
  return {};
}

}  // namespace ferry::pci
