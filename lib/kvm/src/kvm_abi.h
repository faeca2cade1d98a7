// The variable-length KVM structures, declared with their C layout.
//
// Debian 12's linux-libc-dev (6.1) declares kvm_cpuid2, kvm_irq_routing and kvm_xsave with
// __DECLARE_FLEX_ARRAY, which under C++ puts a 1-byte empty struct before the array: the entries
// move from offset 8 to 12, and the size _IOW/_IOWR encode in the request number becomes 12, so
// the kernel rejects the ioctl with EINVAL. ferry uses its own headers and request numbers for
// these; the static_asserts hold them to the values a C compiler computes.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <cstring>
#include <vector>

namespace ferry::kvm {

struct KvmCpuidHeader {
  uint32_t nent;
  uint32_t padding;
};

struct KvmIrqRoutingHeader {
  uint32_t nr;
  uint32_t flags;
};

constexpr unsigned long kKvmGetSupportedCpuid =
    _IOC(_IOC_READ | _IOC_WRITE, KVMIO, 0x05, sizeof(KvmCpuidHeader));
constexpr unsigned long kKvmSetCpuid2 = _IOC(_IOC_WRITE, KVMIO, 0x90, sizeof(KvmCpuidHeader));
constexpr unsigned long kKvmSetGsiRouting =
    _IOC(_IOC_WRITE, KVMIO, 0x6a, sizeof(KvmIrqRoutingHeader));
// KVM_GET_XSAVE/KVM_SET_XSAVE move the first 4096 bytes of the XSAVE area (struct kvm_xsave).
constexpr size_t kKvmXsaveSize = 4096;
constexpr unsigned long kKvmGetXsave = _IOC(_IOC_READ, KVMIO, 0xa4, kKvmXsaveSize);
constexpr unsigned long kKvmSetXsave = _IOC(_IOC_WRITE, KVMIO, 0xa5, kKvmXsaveSize);
static_assert(kKvmGetXsave == 0x9000aea4);
static_assert(kKvmSetXsave == 0x5000aea5);

static_assert(kKvmGetSupportedCpuid == 0xc008ae05);
static_assert(kKvmSetCpuid2 == 0x4008ae90);
static_assert(kKvmSetGsiRouting == 0x4008ae6a);
static_assert(sizeof(kvm_cpuid_entry2) == 40);
static_assert(sizeof(kvm_irq_routing_entry) == 48);

// A header immediately followed by `count` entries in one buffer, as the kernel reads it.
template <class Header, class Entry>
class KvmArray {
 public:
  explicit KvmArray(size_t count) : bytes_(sizeof(Header) + count * sizeof(Entry)) {}
  Header& header() { return *reinterpret_cast<Header*>(bytes_.data()); }
  Entry* entries() { return reinterpret_cast<Entry*>(bytes_.data() + sizeof(Header)); }
  void* data() { return bytes_.data(); }

 private:
  std::vector<uint8_t> bytes_;  // zeroed: reserved fields must be 0
};

using KvmCpuid = KvmArray<KvmCpuidHeader, kvm_cpuid_entry2>;
using KvmIrqRouting = KvmArray<KvmIrqRoutingHeader, kvm_irq_routing_entry>;

}  // namespace ferry::kvm
