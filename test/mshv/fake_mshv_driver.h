// A behavioral model of the upstream /dev/mshv driver and the hypervisor behind it, standing in
// for the kernel at the MshvDriver boundary. It enforces the rules of
// /work/shared/docs/mshv-abi.md and drivers/hv/mshv_*.c, with their errno values, rather than
// recording calls: request numbers are matched against the literal values of the ABI table,
// arguments are checked as the kernel checks them, routing tables replace each other whole,
// irqfds inject and drop real eventfd signals, VPs keep their registers and a register page, and
// RUN_VP plays the guest (fake_guest_cpu.h). It also logs every ioctl for assertions.
//
// fds are real (memfds), so the backend can close and mmap them; an fd the fake did not hand out
// answers ENOTTY, a closed one EBADF. One mutex serializes the model; RUN_VP waits without it,
// and a signal ends the wait with EINTR, as a kick does in the kernel.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "fake_mshv_types.h"
#include "fake_partition.h"
#include "ferry/mshv/hv_abi.h"
#include "ferry/mshv/mshv_driver.h"

namespace ferry::test {

class FakeMshvDriver final : public mshv::MshvDriver {
 public:
  explicit FakeMshvDriver(FakeMshvOptions options = {});
  ~FakeMshvDriver() override;

  int open_device(const char* path) override;
  int ioctl(int fd, unsigned long request, void* arg) override;
  Expected<Mapping> map_vp_page(int vp_fd, size_t size, unsigned page) override;
  mshv::CpuidRegs host_cpuid(uint32_t leaf, uint32_t subleaf) override;

  // --- what happened ---------------------------------------------------------------------------
  std::vector<FakeCall> calls() const;
  /// The names of the calls, without RUN_VP (there are many).
  std::vector<std::string> call_names() const;
  void clear_calls();
  size_t partition_count() const;

  // --- the newest partition --------------------------------------------------------------------
  uint64_t partition_flags() const;
  std::optional<mshv::MshvCreatePartitionV2> partition_creation() const;
  bool initialized() const;
  std::optional<uint64_t> property(uint32_t code) const;
  std::vector<std::pair<uint32_t, uint64_t>> property_writes() const;
  std::vector<FakeRegion> regions() const;
  std::map<uint32_t, mshv::MshvUserIrqEntry> routes() const;
  /// The irqfds, after the eventfds closed up to now have detached theirs (EPOLLHUP).
  size_t irqfd_count();
  std::vector<FakeIrqfd> irqfds();
  size_t ioeventfd_count() const;
  /// Interrupts asserted so far, after taking every signal sent up to now.
  std::vector<FakeInjection> injections();
  void clear_injections();
  /// Signals on `gsi` that found no route and were dropped.
  uint64_t dropped(uint32_t gsi);
  /// Signals on a GSI without a route below the highest routed one: each asserted vector 0 on
  /// APIC 0. A VMM must never cause one.
  uint64_t hole_signals();

  // --- VFIO interrupts (test-only calls standing for VFIO; see FakeMshvOptions::passthrough) ---
  /// VFIO_DEVICE_SET_IRQS makes `eventfd` the trigger of a device vector.
  void vfio_set_trigger(int eventfd);
  /// The device raises the vector whose trigger is `eventfd`.
  void vfio_interrupt(int eventfd);
  /// Passthrough device interrupts lost because their irqfd was assigned before the trigger.
  uint64_t lost_device_interrupts();

  // --- the VFIO bridge (MSHV_CREATE_DEVICE's fd, with FakeMshvOptions::vfio_device) -----------
  /// The VFIO group fds added to the bridges with MSHV_SET_DEVICE_ATTR(FILE_ADD), not deleted.
  std::vector<int> bridged_groups() const;
  /// Rules of mshv-abi.md the VMM broke, e.g. closing a partition with groups still added.
  std::vector<std::string> rule_violations() const;

  mshv::HvRegisterValue vp_register(unsigned vp, uint32_t name) const;
  void set_vp_register(unsigned vp, uint32_t name, mshv::HvRegisterValue value);
  mshv::HvLapicState lapic(unsigned vp) const;
  /// What CPUID returns inside VP `vp`: the host's value with the registered results applied.
  mshv::CpuidRegs guest_cpuid(unsigned vp, uint32_t leaf, uint32_t subleaf) const;
  /// How many times the VMM ran VP `vp` and how many of those ended with a message.
  unsigned runs(unsigned vp) const;
  /// The exceptions the VMM injected into VP `vp`, as they were delivered.
  std::vector<FakeException> exceptions(unsigned vp) const;

  // --- the guest -------------------------------------------------------------------------------
  /// From now on VP `vp` executes the code at its RIP whenever no event is queued.
  void execute_guest(unsigned vp);
  /// The instruction at linear address `rip` accesses MMIO as `access` says.
  void annotate_mmio(uint64_t rip, FakeMmioAccess access);
  /// Queues what the guest of VP `vp` does next and wakes a RUN_VP that is waiting.
  void play(unsigned vp, FakeGuestEvent event);
  /// Why RUN_VP last failed with EFAULT: the guest did something beyond the model ("" if never).
  std::string beyond_model() const;

 private:
  enum class Kind : uint8_t { kDevice, kPartition, kVp, kVfioDevice };
  struct Object {
    Kind kind;
    uint64_t inode;
    FakePartition* partition;
    FakeVp* vp;
  };

  int new_fd(const char* name, Kind kind, FakePartition* partition, FakeVp* vp, size_t size = 0);
  // The object behind `fd`, or the errno the kernel would give for it.
  Object* lookup(int fd, int& error);
  int dispatch(int fd, Object& object, unsigned long request, void* arg, std::string& detail,
               std::unique_lock<std::mutex>& lock);
  int create_partition(void* arg);
  int partition_ioctl(FakePartition& p, unsigned long request, void* arg, std::string& detail);
  int create_vp(FakePartition& p, void* arg);
  int vp_state(FakeVp& vp, unsigned long request, void* arg);
  int run_vp(FakePartition& p, FakeVp& vp, void* arg, std::unique_lock<std::mutex>& lock);
  void look();
  int set_device_attr(int device_fd, void* arg);
  void closing(int fd);  // a close() watcher (fake_eventfd.h): takes only bridge_mutex_
  FakePartition& newest() const;
  FakeVp& vp_of_newest(unsigned vp) const;

  FakeMshvOptions options_;
  mutable std::mutex mutex_;
  std::map<int, Object> objects_;
  std::vector<std::unique_ptr<FakePartition>> partitions_;
  std::map<uint64_t, FakeMmioAccess> mmio_;
  std::vector<FakeCall> calls_;
  std::map<unsigned, unsigned> runs_;
  std::string beyond_model_;
  uint64_t closes_seen_ = 0;  // fd_closes() at the last look

  // The VFIO bridges, under their own leaf lock: close() watching needs them without mutex_.
  struct BridgedGroup {
    int fd;
    uint64_t inode;
  };
  struct Bridge {  // lives until its partition closes, as a kernel device lives with its VM
    int device_fd;
    uint64_t device_inode;
    int partition_fd;
    uint64_t partition_inode;
    std::vector<BridgedGroup> groups;
  };
  mutable std::mutex bridge_mutex_;
  std::vector<Bridge> bridges_;
  std::vector<std::string> violations_;
  int close_watch_ = 0;
};

}  // namespace ferry::test
