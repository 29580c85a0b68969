// Timing one candidate: warm up, then repeat until the middle half of the samples is tight (interquartile range
// within `spread` of the median) or the candidate's time cap is spent, and report the median. Medians, not means:
// a shared machine's interruptions are one-sided outliers.
#pragma once

#include <algorithm>
#include <chrono>
#include <vector>

namespace primsel {

struct MeasureOptions {
  int warmup = 1;
  int min_runs = 5;
  int max_runs = 50;  ///< 0 is taken as 1: every candidate is timed at least once
  double spread = 0.05;   ///< stop once (q3 - q1) / median <= spread
  double cap_ms = 200.0;  ///< stop once this much time has been spent on the candidate (after min_runs)
};

/// Median wall time of fn() in milliseconds.
template <class F>
double median_ms(F&& fn, const MeasureOptions& o = {}) {
  using clock = std::chrono::steady_clock;
  for (int i = 0; i < o.warmup; ++i) fn();
  // At least one timed run whatever max_runs says: a median of no samples has no value to return.
  const int max_runs = std::max(o.max_runs, 1);
  std::vector<double> samples;
  samples.reserve(static_cast<std::size_t>(max_runs));
  double spent = 0;
  auto quantile = [](std::vector<double> v, double q) {
    const auto k = static_cast<std::ptrdiff_t>(q * static_cast<double>(v.size() - 1));
    std::nth_element(v.begin(), v.begin() + k, v.end());
    return v[static_cast<std::size_t>(k)];
  };
  while (static_cast<int>(samples.size()) < max_runs) {
    const auto t0 = clock::now();
    fn();
    const double ms = std::chrono::duration<double, std::milli>(clock::now() - t0).count();
    samples.push_back(ms);
    spent += ms;
    if (static_cast<int>(samples.size()) < o.min_runs) continue;
    const double med = quantile(samples, 0.5);
    if (spent >= o.cap_ms || quantile(samples, 0.75) - quantile(samples, 0.25) <= o.spread * med) break;
  }
  return quantile(samples, 0.5);
}

}  // namespace primsel
