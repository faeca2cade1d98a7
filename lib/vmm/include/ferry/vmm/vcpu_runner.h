// Runs one vCPU on its own thread with an explicit state machine:
//
//   kPaused <-> kRunning --> kExiting --> kExited
//
// A controller thread requests a state; the vCPU thread acknowledges it. To get a vCPU out of
// the guest the controller stores the request, then calls Vcpu::request_exit() (so a run that
// has not entered yet returns at once), then sends the kick signal (so a run inside the guest
// returns). The vCPU thread re-reads the request after every run, so no request is lost.
#pragma once

#include <pthread.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

#include "ferry/accel/vcpu.h"

namespace ferry::vmm {

enum class VcpuState : uint8_t { kPaused, kRunning, kExiting, kExited };

class VcpuRunner {
 public:
  // Told when the vCPU stops on its own: an exit that ends it (halt, shutdown, reset) or an error.
  class Observer {
   public:
    virtual ~Observer() = default;
    /// Called on the vCPU thread, once, before it acknowledges kExited.
    virtual void on_vcpu_stopped(unsigned index, const Expected<accel::Exit>& why) = 0;
    /// The guest ended a level-triggered IOAPIC interrupt. Called on the vCPU thread.
    virtual void on_ioapic_eoi(uint8_t vector) = 0;
  };

  /// Code the vCPU thread runs on itself before its first run (ferry run loads the thread's
  /// seccomp filter there); an error stops the vCPU through the observer.
  using ThreadStart = std::function<Expected<void>()>;

  VcpuRunner(accel::Vcpu& vcpu, accel::GuestIo& io, Observer& observer,
             ThreadStart on_thread_start = {});
  ~VcpuRunner();  // stops and joins
  VcpuRunner(const VcpuRunner&) = delete;
  VcpuRunner& operator=(const VcpuRunner&) = delete;

  /// Starts the thread in kPaused.
  void start();
  /// kPaused -> kRunning.
  void resume();
  /// kRunning -> kPaused; returns once the vCPU is out of the guest.
  void pause();
  /// Asks the thread to end without waiting (safe from any thread, including this vCPU's).
  void request_stop();
  /// Ends the thread and joins it.
  void stop();

  VcpuState state() const;
  uint64_t exits() const { return exits_.load(std::memory_order_relaxed); }

 private:
  void thread_main();
  // Runs the guest until the request is no longer kRunning; false when the vCPU stopped itself.
  bool run_while_requested();
  void request(VcpuState state);
  void kick();

  accel::Vcpu& vcpu_;
  accel::GuestIo& io_;
  Observer& observer_;
  ThreadStart on_thread_start_;
  std::atomic<VcpuState> requested_{VcpuState::kPaused};
  std::atomic<uint64_t> exits_{0};
  // The thread may be signalled from start() until stop() is about to join it: a kick after the
  // join would signal a thread that no longer exists. kick_mutex_ is a leaf.
  std::mutex kick_mutex_;
  bool kickable_ = false;  // guarded by kick_mutex_
  pthread_t thread_handle_{};

  // Lock order: mutex_ is a leaf; it is never held while the vCPU runs or calls the observer.
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  VcpuState acknowledged_ = VcpuState::kPaused;  // guarded by mutex_
  std::thread thread_;
};

}  // namespace ferry::vmm
