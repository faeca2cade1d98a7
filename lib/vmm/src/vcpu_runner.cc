#include "ferry/vmm/vcpu_runner.h"
#include "ferry/base/hot_path.h"

#include <signal.h>

#include <cstring>

namespace ferry::vmm {
namespace {

// The kick: a real-time signal whose handler does nothing. Its only job is to make a blocking
// KVM_RUN / MSHV_RUN_VP return -EINTR, so it is installed without SA_RESTART.
int kick_signal() { return SIGRTMIN; }

void install_kick_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction action;
    std::memset(&action, 0, sizeof action);
    action.sa_handler = [](int) {};
    sigemptyset(&action.sa_mask);
    sigaction(kick_signal(), &action, nullptr);
  });
}

}  // namespace

VcpuRunner::VcpuRunner(accel::Vcpu& vcpu, accel::GuestIo& io, Observer& observer,
                       ThreadStart on_thread_start)
    : vcpu_(vcpu), io_(io), observer_(observer), on_thread_start_(std::move(on_thread_start)) {
  install_kick_handler();
}

VcpuRunner::~VcpuRunner() { stop(); }

void VcpuRunner::start() {
  std::lock_guard lock(kick_mutex_);
  thread_ = std::thread([this] { thread_main(); });
  thread_handle_ = thread_.native_handle();
  kickable_ = true;
}

void VcpuRunner::request(VcpuState state) {
  {
    std::lock_guard lock(mutex_);
    if (requested_.load() == VcpuState::kExiting) return;  // exiting is final
    requested_.store(state);
  }
  changed_.notify_all();
}

void VcpuRunner::resume() { request(VcpuState::kRunning); }

void VcpuRunner::pause() {
  request(VcpuState::kPaused);
  kick();
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] {
    return acknowledged_ == VcpuState::kPaused || acknowledged_ == VcpuState::kExited;
  });
}

void VcpuRunner::request_stop() {
  {
    std::lock_guard lock(mutex_);
    requested_.store(VcpuState::kExiting);
  }
  changed_.notify_all();
  kick();
}

void VcpuRunner::stop() {
  request_stop();
  {
    std::lock_guard lock(kick_mutex_);
    kickable_ = false;
  }
  if (thread_.joinable()) thread_.join();
}

VcpuState VcpuRunner::state() const {
  std::lock_guard lock(mutex_);
  return acknowledged_;
}

void VcpuRunner::kick() {
  vcpu_.request_exit();
  std::lock_guard lock(kick_mutex_);
  // An exited but unjoined thread may still be signalled; a joined one may not.
  if (kickable_ && !pthread_equal(thread_handle_, pthread_self())) {
    pthread_kill(thread_handle_, kick_signal());
  }
}

void VcpuRunner::thread_main() {
  sigset_t kick_set;
  sigemptyset(&kick_set);
  sigaddset(&kick_set, kick_signal());
  pthread_sigmask(SIG_UNBLOCK, &kick_set, nullptr);
  if (on_thread_start_) {
    if (Expected<void> ready = on_thread_start_(); !ready) {
      observer_.on_vcpu_stopped(vcpu_.index(), fail(ready.error()));
      std::lock_guard lock(mutex_);
      acknowledged_ = VcpuState::kExited;
      changed_.notify_all();
      return;
    }
  }

  std::unique_lock lock(mutex_);
  for (;;) {
    const VcpuState wanted = requested_.load();
    if (wanted == VcpuState::kExiting) break;
    if (wanted == VcpuState::kPaused) {
      acknowledged_ = VcpuState::kPaused;
      changed_.notify_all();
      changed_.wait(lock, [&] { return requested_.load() != VcpuState::kPaused; });
      continue;
    }
    acknowledged_ = VcpuState::kRunning;
    changed_.notify_all();
    lock.unlock();
    const bool keep_going = run_while_requested();
    lock.lock();
    if (!keep_going) break;
  }
  acknowledged_ = VcpuState::kExited;
  changed_.notify_all();
}

FERRY_HOT bool VcpuRunner::run_while_requested() {
  while (requested_.load(std::memory_order_acquire) == VcpuState::kRunning) {
    Expected<accel::Exit> exit = vcpu_.run(io_);
    exits_.store(exits_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    if (!exit) {
      observer_.on_vcpu_stopped(vcpu_.index(), exit);
      return false;
    }
    switch (exit->kind) {
      case accel::ExitKind::kHandled:
      case accel::ExitKind::kInterrupted:
        continue;
      case accel::ExitKind::kIoapicEoi:
        observer_.on_ioapic_eoi(exit->vector);
        continue;
      case accel::ExitKind::kHalt:
      case accel::ExitKind::kShutdown:
      case accel::ExitKind::kReset:
        observer_.on_vcpu_stopped(vcpu_.index(), exit);
        return false;
    }
  }
  return true;
}

}  // namespace ferry::vmm
