#include "host_cpuid.h"

#include <algorithm>

namespace ferry::mshv {
namespace {

constexpr uint32_t kMaxBasicLeaf = 0x24;
constexpr uint32_t kMaxExtendedLeaf = 0x80000028;
constexpr uint32_t kMaxSubleaves = 64;

constexpr uint32_t kLeaf1EcxVmx = 1u << 5;
constexpr uint32_t kLeaf1EcxSmx = 1u << 6;
constexpr uint32_t kLeaf1EcxX2apic = 1u << 21;
constexpr uint32_t kLeaf1EcxHypervisor = 1u << 31;

class Table {
 public:
  explicit Table(MshvDriver& driver) : driver_(driver) {}

  CpuidRegs add(uint32_t leaf, uint32_t subleaf, bool indexed) {
    const CpuidRegs r = driver_.host_cpuid(leaf, subleaf);
    if (entries_.size() < kMaxCpuidEntries) {
      entries_.push_back({leaf, subleaf, indexed ? accel::kCpuidSignificantIndex : 0u, r.eax, r.ebx,
                          r.ecx, r.edx});
    }
    return r;
  }

  // A leaf whose subleaves run until `last` says the previous one was the last.
  template <class Last>
  void add_subleaves(uint32_t leaf, Last last) {
    for (uint32_t sub = 0; sub < kMaxSubleaves; ++sub) {
      if (last(sub, add(leaf, sub, true))) break;
    }
  }

  std::vector<accel::CpuidEntry> take() { return std::move(entries_); }

 private:
  MshvDriver& driver_;
  std::vector<accel::CpuidEntry> entries_;
};

void add_leaf(Table& table, uint32_t leaf) {
  switch (leaf) {
    case 0x4:  // cache parameters: until the cache type is 0
      table.add_subleaves(leaf, [](uint32_t, const CpuidRegs& r) { return (r.eax & 0x1f) == 0; });
      return;
    case 0xb:
    case 0x1f:  // topology: until the level type is 0
      table.add_subleaves(leaf, [](uint32_t, const CpuidRegs& r) { return (r.ecx & 0xff00) == 0; });
      return;
    case 0x7:
    case 0x14:
    case 0x17:
    case 0x18:
    case 0x1d:
    case 0x20: {  // subleaf 0's EAX is the last subleaf
      uint32_t last_subleaf = 0;
      table.add_subleaves(leaf, [&](uint32_t sub, const CpuidRegs& r) {
        if (sub == 0) last_subleaf = std::min(r.eax, kMaxSubleaves - 1);
        return sub >= last_subleaf;
      });
      return;
    }
    case 0xd:  // xsave components: 0 and 1, then every component with a size
      table.add_subleaves(leaf, [](uint32_t sub, const CpuidRegs& r) {
        return sub >= 1 && r.eax == 0 && r.ebx == 0 && r.ecx == 0 && r.edx == 0;
      });
      return;
    case 0xf:
    case 0x10:
    case 0x12:
    case 0x1e:
      table.add_subleaves(leaf, [](uint32_t sub, const CpuidRegs& r) {
        return sub >= 1 && r.eax == 0 && r.ebx == 0 && r.ecx == 0 && r.edx == 0;
      });
      return;
    default:
      table.add(leaf, 0, false);
      return;
  }
}

}  // namespace

std::vector<accel::CpuidEntry> host_cpuid_table(MshvDriver& driver) {
  Table table(driver);
  const uint32_t max_basic = std::min(driver.host_cpuid(0, 0).eax, kMaxBasicLeaf);
  for (uint32_t leaf = 0; leaf <= max_basic; ++leaf) add_leaf(table, leaf);
  const uint32_t max_extended = std::min(driver.host_cpuid(0x80000000, 0).eax, kMaxExtendedLeaf);
  for (uint32_t leaf = 0x80000000; leaf <= max_extended; ++leaf) table.add(leaf, 0, false);
  std::vector<accel::CpuidEntry> entries = table.take();
  for (accel::CpuidEntry& e : entries) {
    if (e.function == 0x1) {
      e.ecx &= ~(kLeaf1EcxVmx | kLeaf1EcxSmx);
      e.ecx |= kLeaf1EcxX2apic | kLeaf1EcxHypervisor;
    }
  }
  return entries;
}

}  // namespace ferry::mshv
