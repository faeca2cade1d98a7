#include "dma_progress.h"

#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <memory>

#include "ferry/base/units.h"

namespace ferry::cli {
namespace {

constexpr uint64_t kShownFrom = 4 * kGiB;  // smaller guests are done before a line would help
constexpr double kRedrawSeconds = 0.1;

double gib(uint64_t bytes) { return static_cast<double>(bytes) / static_cast<double>(kGiB); }

const char* step_name(vmm::PinStep step) {
  return step == vmm::PinStep::kPopulate ? "populating" : "mapping";
}

std::string progress_text(const vmm::PopulateProgress& p) {
  const double rate = p.seconds > 0 ? gib(p.done_bytes) / p.seconds : 0;
  return fmt::format("pinning guest RAM for DMA: {} {:.1f} of {:.1f} GiB, {:.1f} GiB/s",
                     step_name(p.step), gib(p.done_bytes), gib(p.total_bytes), rate);
}

}  // namespace

vmm::PopulateObserver dma_progress_line() {
  auto last_drawn = std::make_shared<double>(-kRedrawSeconds);
  const bool terminal = ::isatty(STDERR_FILENO) == 1;
  return [last_drawn, terminal](const vmm::PopulateProgress& p) {
    if (p.total_bytes < kShownFrom) return;
    const bool finished = p.done_bytes == p.total_bytes;
    if (!terminal) {
      if (finished) spdlog::info("{} in {:.2f} s", progress_text(p), p.seconds);
      return;
    }
    if (p.done_bytes == 0) *last_drawn = -kRedrawSeconds;  // a step begins: draw at once
    if (!finished && p.seconds - *last_drawn < kRedrawSeconds) return;
    *last_drawn = p.seconds;
    std::fprintf(stderr, "\r%s%s", progress_text(p).c_str(), finished ? "\n" : "");
  };
}

}  // namespace ferry::cli
