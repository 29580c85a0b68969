// Post-training calibration of activation ranges: a RangeObserver sees a tensor's values over sample batches
// (exact min/max plus a streaming histogram) and picks the range to quantise with by (a) min/max, (b) a
// percentile of the histogram, clipping rare outliers, or (c) the clip that minimises the expected quantisation
// error over the histogram (clipping error of the tails + scale^2/12 rounding error inside). (b) and (c) are the
// calibrators of TensorRT and PyTorch's HistogramObserver; see Wu et al., "Integer Quantization for Deep Learning
// Inference" (2020), section 4.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "primsel/quant/quantize.hpp"

namespace primsel::quant {

/// A real range [lo, hi] to quantise over.
struct Range {
  float lo = 0, hi = 0;
};

enum class CalibrationMethod : std::uint8_t { min_max, percentile, mse };

/// Accumulates statistics of one tensor over batches. The histogram has a fixed number of equal bins over a span
/// that grows by doubling whenever a batch falls outside it: two neighbouring bins merge into one, so growing is
/// exact (counts never move between values' bins) and costs resolution only where the data needed the range.
///
///   RangeObserver obs;
///   for (auto& batch : samples) obs.observe(batch);
///   QuantParams p = obs.params(CalibrationMethod::percentile);
class RangeObserver {
 public:
  /// `bins` is rounded up to an even number (merging pairs needs it); 2048 resolves 8 bins per uint8 level.
  explicit RangeObserver(int bins = 2048) : counts_(static_cast<std::size_t>(std::max(2, bins + (bins & 1))), 0.0) {}

  /// Adds a batch. Non-finite values are skipped (and counted in skipped()).
  void observe(std::span<const float> x) {
    float lo = std::numeric_limits<float>::infinity(), hi = -lo;
    for (float v : x)
      if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
    if (!(lo <= hi)) {
      skipped_ += x.size();
      return;
    }
    if (total_ == 0) {
      // First data: span its range exactly (a single value gets a tiny width around itself).
      const double w =
          hi > lo ? (static_cast<double>(hi) - lo) / bins() : std::max(1e-30, std::fabs(double(lo)) * 1e-6);
      origin_ = lo, width_ = w;
    }
    min_ = std::min(min_, lo), max_ = std::max(max_, hi);
    while (lo < origin_) grow_down();
    while (hi > end()) grow_up();  // a value on the upper edge belongs to the last bin
    for (float v : x) {
      if (!std::isfinite(v)) {
        ++skipped_;
        continue;
      }
      const auto b = static_cast<std::int64_t>((v - origin_) / width_);
      counts_[static_cast<std::size_t>(std::clamp<std::int64_t>(b, 0, bins() - 1))] += 1;
      ++total_;
    }
  }

  std::uint64_t count() const noexcept { return total_; }
  std::uint64_t skipped() const noexcept { return skipped_; }
  std::int64_t bins() const noexcept { return static_cast<std::int64_t>(counts_.size()); }
  /// Histogram span and counts (for inspection and tests).
  double hist_lo() const noexcept { return origin_; }
  double bin_width() const noexcept { return width_; }
  const std::vector<double>& counts() const noexcept { return counts_; }

  /// (a) The exact extremes seen ({0, 0} before any data).
  Range min_max() const noexcept { return total_ ? Range{min_, max_} : Range{}; }

  /// (b) Clips each tail to `fraction` of the values (0.9999 keeps the central 99.99% per side: the lower bound is
  /// the (1 - fraction) quantile, the upper the fraction quantile), interpolated within a bin.
  Range percentile(double fraction = 0.9999) const noexcept {
    if (!total_) return {};
    fraction = std::clamp(fraction, 0.5, 1.0);
    return {std::max(min_, static_cast<float>(quantile(1.0 - fraction))),
            std::min(max_, static_cast<float>(quantile(fraction)))};
  }

  /// (c) The range minimising the expected squared error of quantising the observed distribution with `levels`
  /// (uint8: 256 of them). Scored by the error model
  ///   sum over bins of count * (scale^2 / 12 if the bin centre lies inside the range, else its distance^2),
  /// which assumes values spread evenly within a level (true at 8 histogram bins per level). Search: coordinate
  /// descent, each bound over `steps` candidates extreme * i / steps (0 stays inside anyway), then again over
  /// `steps` candidates within one coarse step of the best, so the bound resolves to |extreme| / steps^2.
  Range mse(QRange levels = u8_range, int steps = 128) const {
    if (!total_) return {};
    Range best = min_max();
    double best_err = error(best, levels);
    for (int pass = 0; pass < 2; ++pass)
      for (int round = 0; round < 3; ++round) {
        const Range start = best;
        for (int side = 0; side < 2; ++side) {
          const double extreme = side == 0 ? min_ : max_;
          const double step = extreme / steps;
          // Pass 0: (0, extreme]; pass 1: a neighbourhood of one coarse step around the current bound.
          const double from = pass == 0 ? step : (side == 0 ? best.lo : best.hi) - step;
          const double by = pass == 0 ? step : 2 * step / steps;
          if (extreme == 0) continue;
          for (int i = 0; i < steps + pass; ++i) {
            const double v = from + by * i;
            if (std::fabs(v) > std::fabs(extreme) || v * extreme <= 0) continue;
            Range r = best;
            (side == 0 ? r.lo : r.hi) = static_cast<float>(v);
            const double e = error(r, levels);
            if (e < best_err) best_err = e, best = r;
          }
        }
        if (start.lo == best.lo && start.hi == best.hi) break;
      }
    return best;
  }

  Range range(CalibrationMethod m, double fraction = 0.9999) const {
    switch (m) {
      case CalibrationMethod::min_max:
        return min_max();
      case CalibrationMethod::percentile:
        return percentile(fraction);
      case CalibrationMethod::mse:
        return mse();
    }
    return min_max();
  }

  /// Quantisation parameters for the chosen range (choose_params widens it to include 0).
  QuantParams params(CalibrationMethod m, QRange r = u8_range, double fraction = 0.9999) const {
    const Range x = m == CalibrationMethod::mse ? mse(r) : range(m, fraction);
    return choose_params(x.lo, x.hi, r);
  }

  /// The model mse() minimises, for a given range (exposed so tests and tools can compare ranges).
  double error(Range r, QRange levels = u8_range) const noexcept {
    const QuantParams p = choose_params(r.lo, r.hi, levels);
    // The range actually represented after the zero point was rounded.
    const double lo = dequantize(levels.lo, p), hi = dequantize(levels.hi, p);
    const double inside = static_cast<double>(p.scale) * p.scale / 12.0;
    double err = 0;
    for (std::int64_t b = 0; b < bins(); ++b) {
      const double c = counts_[static_cast<std::size_t>(b)];
      if (c == 0) continue;
      const double x = origin_ + (static_cast<double>(b) + 0.5) * width_;
      const double d = x < lo ? lo - x : x > hi ? x - hi : 0.0;
      err += c * (d > 0 ? d * d : inside);
    }
    return err / static_cast<double>(total_);
  }

 private:
  double end() const noexcept { return origin_ + width_ * static_cast<double>(bins()); }

  // Doubles the bin width keeping the lower edge: bins 2i and 2i+1 become bin i, the upper half empties.
  void grow_up() {
    const std::size_t n = counts_.size();
    for (std::size_t i = 0; i < n / 2; ++i) counts_[i] = counts_[2 * i] + counts_[2 * i + 1];
    std::fill(counts_.begin() + static_cast<std::ptrdiff_t>(n / 2), counts_.end(), 0.0);
    width_ *= 2;
  }
  // Doubles the bin width keeping the upper edge: old bins merge pairwise into the upper half.
  void grow_down() {
    const std::size_t n = counts_.size();
    for (std::size_t i = n; i-- > n / 2;) counts_[i] = counts_[2 * i - n] + counts_[2 * i - n + 1];
    std::fill(counts_.begin(), counts_.begin() + static_cast<std::ptrdiff_t>(n / 2), 0.0);
    origin_ -= width_ * static_cast<double>(n);
    width_ *= 2;
  }

  // The value below which `q` of the observed values lie, linear within the bin that crosses it.
  double quantile(double q) const noexcept {
    const double target = q * static_cast<double>(total_);
    double below = 0;
    for (std::int64_t b = 0; b < bins(); ++b) {
      const double c = counts_[static_cast<std::size_t>(b)];
      if (below + c >= target && c > 0) return origin_ + (static_cast<double>(b) + (target - below) / c) * width_;
      below += c;
    }
    return end();
  }

  std::vector<double> counts_;
  double origin_ = 0, width_ = 1;
  float min_ = std::numeric_limits<float>::infinity(), max_ = -std::numeric_limits<float>::infinity();
  std::uint64_t total_ = 0, skipped_ = 0;
};

}  // namespace primsel::quant
