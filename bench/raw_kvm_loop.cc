#include "raw_kvm_loop.h"

#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "ferry/guests/exitloop.h"

namespace ferry::bench {
namespace {

constexpr uint64_t kRamSize = 0x100000;  // the first MiB, minus the VGA hole as ferry has it
constexpr uint64_t kHoleStart = 0xa0000, kHoleEnd = 0xc0000;

int fail(const char* what) {
  std::perror(what);
  return -1;
}

}  // namespace

int run_raw_kvm_loop(std::span<const uint8_t> image, bool in_kernel_lapic) {
  int kvm = ::open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (kvm < 0) return fail("/dev/kvm");
  int vm = ::ioctl(kvm, KVM_CREATE_VM, 0);
  if (vm < 0) return fail("KVM_CREATE_VM");
  if (::ioctl(vm, KVM_SET_TSS_ADDR, 0xfffbd000ul) < 0) return fail("KVM_SET_TSS_ADDR");
  void* ram = ::mmap(nullptr, kRamSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (ram == MAP_FAILED) return fail("mmap");
  std::memcpy(static_cast<uint8_t*>(ram) + FERRY_EXITLOOP_LOAD_ADDRESS, image.data(), image.size());
  kvm_userspace_memory_region low = {0, 0, 0, kHoleStart, reinterpret_cast<uint64_t>(ram)};
  kvm_userspace_memory_region high = {1, 0, kHoleEnd, kRamSize - kHoleEnd,
                                      reinterpret_cast<uint64_t>(ram) + kHoleEnd};
  if (::ioctl(vm, KVM_SET_USER_MEMORY_REGION, &low) < 0 ||
      ::ioctl(vm, KVM_SET_USER_MEMORY_REGION, &high) < 0) {
    return fail("KVM_SET_USER_MEMORY_REGION");
  }
  if (in_kernel_lapic) {
    kvm_enable_cap split = {};
    split.cap = KVM_CAP_SPLIT_IRQCHIP;
    split.args[0] = 24;  // routes reserved for an IOAPIC, as ferry reserves them
    if (::ioctl(vm, KVM_ENABLE_CAP, &split) < 0) return fail("KVM_CAP_SPLIT_IRQCHIP");
  }
  int vcpu = ::ioctl(vm, KVM_CREATE_VCPU, 0);
  if (vcpu < 0) return fail("KVM_CREATE_VCPU");
  int run_size = ::ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
  auto* run = static_cast<kvm_run*>(
      ::mmap(nullptr, static_cast<size_t>(run_size), PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0));
  if (run == MAP_FAILED) return fail("mmap kvm_run");

  kvm_sregs sregs;
  if (::ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0) return fail("KVM_GET_SREGS");
  sregs.cs.selector = 0xf000;
  sregs.cs.base = 0xf0000;
  kvm_regs regs = {};
  regs.rflags = 2;
  if (::ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0 || ::ioctl(vcpu, KVM_SET_REGS, &regs) < 0) {
    return fail("KVM_SET_REGS");
  }
  // Counted as ferry's --stats counts them, so the benchmark can check both ran every exit.
  uint64_t exits = 0, pio = 0, mmio = 0;
  for (;;) {
    if (::ioctl(vcpu, KVM_RUN, 0) < 0) return fail("KVM_RUN");
    ++exits;
    if (run->exit_reason == KVM_EXIT_IO && run->io.direction == KVM_EXIT_IO_OUT) {
      ++pio;
      const uint8_t byte = reinterpret_cast<uint8_t*>(run)[run->io.data_offset];
      if (run->io.port == 0xf4) {
        std::fprintf(stderr, "{\"exits\":%lu,\"pio\":%lu,\"mmio\":%lu}\n", exits, pio, mmio);
        return byte;
      }
      if (run->io.port == 0x3f8) {
        if (::write(1, &byte, 1) != 1) return fail("write");
      }
    } else if (run->exit_reason == KVM_EXIT_MMIO) {
      ++mmio;
      std::memset(run->mmio.data, 0xff, sizeof run->mmio.data);  // nothing there: all ones
    } else {
      std::fprintf(stderr, "unexpected exit %u\n", run->exit_reason);
      return -1;
    }
  }
}

}  // namespace ferry::bench
