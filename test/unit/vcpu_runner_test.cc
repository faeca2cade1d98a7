#include "ferry/vmm/vcpu_runner.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <condition_variable>
#include <deque>
#include <thread>

#include "support/mock_accel.h"

namespace ferry::vmm {
namespace {

using ::testing::StrictMock;
using namespace std::chrono_literals;

// Behaves like KVM_RUN: run() returns the next scripted exit, or blocks in the "guest" until
// request_exit() makes it return kInterrupted.
class BlockingVcpu : public test::MockVcpu {
 public:
  Expected<accel::Exit> run_blocking() {
    std::unique_lock lock(mutex_);
    ++runs_;
    entered_.notify_all();
    cv_.wait(lock, [&] { return exit_requested_ || !script_.empty(); });
    if (!script_.empty()) {
      auto next = std::move(script_.front());
      script_.pop_front();
      return next;
    }
    exit_requested_ = false;
    return accel::Exit{accel::ExitKind::kInterrupted};
  }
  void request() {
    std::lock_guard lock(mutex_);
    exit_requested_ = true;
    cv_.notify_all();
  }
  void push(Expected<accel::Exit> exit) {
    std::lock_guard lock(mutex_);
    script_.push_back(std::move(exit));
    cv_.notify_all();
  }
  // Waits until run() has been entered at least `n` times.
  bool wait_for_runs(unsigned n) {
    std::unique_lock lock(mutex_);
    return entered_.wait_for(lock, 5s, [&] { return runs_ >= n; });
  }
  unsigned runs() {
    std::lock_guard lock(mutex_);
    return runs_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_, entered_;
  bool exit_requested_ = false;
  unsigned runs_ = 0;
  std::deque<Expected<accel::Exit>> script_;
};

class RecordingObserver : public VcpuRunner::Observer {
 public:
  void on_vcpu_stopped(unsigned index, const Expected<accel::Exit>& why) override {
    std::lock_guard lock(mutex_);
    stopped_index = index;
    stopped = why;
  }
  void on_ioapic_eoi(uint8_t vector) override {
    std::lock_guard lock(mutex_);
    eois.push_back(vector);
  }
  std::mutex mutex_;
  int stopped_index = -1;
  std::optional<Expected<accel::Exit>> stopped;
  std::vector<uint8_t> eois;
};

class VcpuRunnerTest : public ::testing::Test {
 protected:
  VcpuRunnerTest() {
    ON_CALL(vcpu_, run).WillByDefault([this](accel::GuestIo&) { return vcpu_.run_blocking(); });
    ON_CALL(vcpu_, request_exit).WillByDefault([this] { vcpu_.request(); });
    ON_CALL(vcpu_, index).WillByDefault([] { return 3u; });
    EXPECT_CALL(vcpu_, run).Times(::testing::AnyNumber());
    EXPECT_CALL(vcpu_, request_exit).Times(::testing::AnyNumber());
    EXPECT_CALL(vcpu_, index).Times(::testing::AnyNumber());
  }
  bool eventually(const std::function<bool()>& condition) {
    for (int i = 0; i < 500; ++i) {
      if (condition()) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }

  StrictMock<BlockingVcpu> vcpu_;
  StrictMock<test::MockGuestIo> io_;
  RecordingObserver observer_;
};

TEST_F(VcpuRunnerTest, StartsPausedAndRunsOnlyAfterResume) {
  VcpuRunner runner(vcpu_, io_, observer_);
  runner.start();
  EXPECT_TRUE(eventually([&] { return runner.state() == VcpuState::kPaused; }));
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(vcpu_.runs(), 0u);
  runner.resume();
  EXPECT_TRUE(vcpu_.wait_for_runs(1));
  EXPECT_EQ(runner.state(), VcpuState::kRunning);
  runner.stop();
  EXPECT_EQ(runner.state(), VcpuState::kExited);
}

TEST_F(VcpuRunnerTest, PauseKicksTheVcpuOutOfTheGuestAndResumeReenters) {
  VcpuRunner runner(vcpu_, io_, observer_);
  runner.start();
  runner.resume();
  ASSERT_TRUE(vcpu_.wait_for_runs(1));
  runner.pause();  // returns only once the blocked run() was interrupted
  EXPECT_EQ(runner.state(), VcpuState::kPaused);
  const unsigned runs = vcpu_.runs();
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(vcpu_.runs(), runs);
  runner.resume();
  EXPECT_TRUE(vcpu_.wait_for_runs(runs + 1));
  runner.stop();
}

TEST_F(VcpuRunnerTest, AnExitThatEndsTheVcpuIsReportedOnceAndEndsTheThread) {
  VcpuRunner runner(vcpu_, io_, observer_);
  runner.start();
  runner.resume();
  vcpu_.push(accel::Exit{accel::ExitKind::kHandled});
  vcpu_.push(accel::Exit{accel::ExitKind::kShutdown});
  EXPECT_TRUE(eventually([&] { return runner.state() == VcpuState::kExited; }));
  std::lock_guard lock(observer_.mutex_);
  EXPECT_EQ(observer_.stopped_index, 3);
  ASSERT_TRUE(observer_.stopped && *observer_.stopped);
  EXPECT_EQ((*observer_.stopped)->kind, accel::ExitKind::kShutdown);
  EXPECT_EQ(runner.exits(), 2u);
}

TEST_F(VcpuRunnerTest, ErrorsReachTheObserver) {
  VcpuRunner runner(vcpu_, io_, observer_);
  runner.start();
  runner.resume();
  vcpu_.push(fail(Errc::kGuestFault, "boom"));
  EXPECT_TRUE(eventually([&] { return runner.state() == VcpuState::kExited; }));
  std::lock_guard lock(observer_.mutex_);
  ASSERT_TRUE(observer_.stopped);
  ASSERT_FALSE(*observer_.stopped);
  EXPECT_EQ(observer_.stopped->error().message(), "boom");
}

TEST_F(VcpuRunnerTest, IoapicEoisAreForwardedAndTheVcpuKeepsRunning) {
  VcpuRunner runner(vcpu_, io_, observer_);
  runner.start();
  runner.resume();
  vcpu_.push(accel::Exit{accel::ExitKind::kIoapicEoi, 0x31});
  EXPECT_TRUE(eventually([&] {
    std::lock_guard lock(observer_.mutex_);
    return !observer_.eois.empty();
  }));
  EXPECT_TRUE(vcpu_.wait_for_runs(2));
  EXPECT_EQ(runner.state(), VcpuState::kRunning);
  runner.stop();
  std::lock_guard lock(observer_.mutex_);
  EXPECT_EQ(observer_.eois, std::vector<uint8_t>{0x31});
  EXPECT_FALSE(observer_.stopped);
}

TEST_F(VcpuRunnerTest, StopIsSafeFromAnyStateAndTwice) {
  VcpuRunner never_started(vcpu_, io_, observer_);
  never_started.stop();
  VcpuRunner runner(vcpu_, io_, observer_);
  runner.start();
  runner.stop();
  runner.stop();
  runner.resume();  // exiting is final
  EXPECT_EQ(runner.state(), VcpuState::kExited);
}

TEST_F(VcpuRunnerTest, ConcurrentStopRequestsWhileJoiningAreSafe) {
  // A vCPU ending the VM stops its siblings while the main thread joins them.
  for (int round = 0; round < 20; ++round) {
    VcpuRunner runner(vcpu_, io_, observer_);
    runner.start();
    runner.resume();
    std::thread sibling([&] {
      for (int i = 0; i < 50; ++i) runner.request_stop();
    });
    runner.stop();
    sibling.join();
    // Every request landed on a runner that had already ended, and it stayed ended.
    EXPECT_EQ(runner.state(), VcpuState::kExited) << "round " << round;
  }
}

}  // namespace
}  // namespace ferry::vmm
