#include "guest_runner.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "ferry/kvm/kvm_hypervisor.h"
#include "ferry/vmm/builtin_payloads.h"

namespace ferry::test {

vmm::VmConfig builtin_config(const std::string& name, const TempDir& dir, unsigned vcpus) {
  vmm::VmConfig config;
  config.name = name;
  config.vcpus = vcpus;
  config.memory_size = 16 * kMiB;
  const vmm::BuiltinPayload* builtin = vmm::find_builtin_payload(name);
  EXPECT_NE(builtin, nullptr) << name;
  if (builtin) config.payload = builtin->config();
  config.serial.mode = vmm::SerialMode::kFile;
  config.serial.path = dir.path() + "/serial.txt";
  return config;
}

Expected<GuestResult> run_guest(accel::Hypervisor& hypervisor, const vmm::VmConfig& config,
                                const TempDir& dir, std::chrono::milliseconds timeout) {
  FERRY_ASSIGN(auto machine, vmm::Machine::create(hypervisor, config));
  GuestResult result;
  std::mutex mutex;
  std::condition_variable done;
  bool finished = false;
  machine->start();
  std::thread watchdog([&] {
    std::unique_lock lock(mutex);
    if (!done.wait_for(lock, timeout, [&] { return finished; })) {
      result.timed_out = true;
      machine->stop(SIGALRM);
    }
  });
  result.outcome = machine->wait();
  {
    std::lock_guard lock(mutex);
    finished = true;
  }
  done.notify_all();
  watchdog.join();
  result.stats = machine->stats();
  result.serial = dir.read("serial.txt");
  return result;
}

std::unique_ptr<accel::Hypervisor> open_kvm() {
  auto kvm = kvm::KvmHypervisor::open();
  EXPECT_TRUE(kvm) << kvm.error().message();
  return kvm ? std::move(*kvm) : nullptr;
}

}  // namespace ferry::test
