// What the benchmarks report of a set of samples: the median and the quartiles (with the extremes
// for the record), never only the best run, which on a noisy host mostly measures luck.
#pragma once

#include <fmt/format.h>

#include <algorithm>
#include <string>
#include <vector>

namespace ferry::bench {

struct Spread {
  double median = 0, q1 = 0, q3 = 0, min = 0, max = 0;
  size_t count = 0;
};

// Quartiles by nearest rank on the sorted samples (index q * (n - 1), rounded).
inline Spread spread_of(std::vector<double> samples) {
  if (samples.empty()) return {};
  std::sort(samples.begin(), samples.end());
  auto at = [&](double q) {
    return samples[static_cast<size_t>(q * static_cast<double>(samples.size() - 1) + 0.5)];
  };
  return {.median = at(0.5),
          .q1 = at(0.25),
          .q3 = at(0.75),
          .min = samples.front(),
          .max = samples.back(),
          .count = samples.size()};
}

// "1.030 [1.018-1.045]": the median and, in brackets, the quartiles.
inline std::string show_spread(const Spread& s, int decimals) {
  return fmt::format("{:.{}f} [{:.{}f}-{:.{}f}]", s.median, decimals, s.q1, decimals, s.q3,
                     decimals);
}

// Met or missed by the median, and whether the quartiles straddle the target; `meets` says
// whether one value meets it.
template <typename Meets>
std::string verdict(const Spread& s, Meets meets) {
  if (meets(s.q1) && meets(s.q3)) return "met: median and both quartiles";
  if (!meets(s.q1) && !meets(s.q3)) return "MISSED: median and both quartiles";
  return meets(s.median) ? "met by the median; the quartiles straddle the target"
                         : "MISSED by the median; the quartiles straddle the target";
}

// One line of raw samples, in the order they were taken.
inline std::string show_samples(const std::vector<double>& samples, int decimals) {
  std::string line;
  for (double s : samples) line += fmt::format(" {:.{}f}", s, decimals);
  return line;
}

}  // namespace ferry::bench
