// Predictor-guided measuring: which candidates of a convolution bind() times when a latency predictor ranks them
// first. The others enter the search with their predicted time; whenever the search then chooses one of those, the
// network measures it and searches again ("on demand"), so a binding never rests on a prediction alone.
//
//   auto p = predict::LatencyPredictor::parse(text).value();
//   net.bind({.guide = {.predictor = &p, .rule = predict::MeasureRule::adaptive}});
//   net.report().pairs_measured;   // of net.report().pairs
//
// docs/predictor.md has the leave-one-model-out experiment behind the default (adaptive, at most 2).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "primsel/predict/latency_predictor.hpp"

namespace primsel::predict {

enum class MeasureRule : std::uint8_t {
  all,       ///< measure every candidate (no predictor needed)
  top_k,     ///< the k predicted fastest
  adaptive,  ///< the predicted fastest, then the next ones (up to k in all) while each is within the combined
             ///< uncertainty of the fastest: confident layers cost one measurement, close calls two or more
};

inline constexpr std::string_view to_string(MeasureRule r) noexcept {
  return r == MeasureRule::all ? "all" : r == MeasureRule::top_k ? "top-k" : "adaptive";
}

/// How bind() uses a predictor. Without one (the default) every candidate is measured.
struct Guidance {
  const LatencyPredictor* predictor = nullptr;  ///< must outlive the bind() call
  MeasureRule rule = MeasureRule::adaptive;
  int k = 2;  ///< top_k: how many are measured; adaptive: at most how many
  /// Re-fit the predictor's device calibration (LatencyPredictor::calibrate) on the pairs measured so far, before
  /// each layer is predicted: a predictor trained on another device (or thread count) is rescaled to this one as
  /// the measurements come in, so predicted and measured costs compare fairly in the search.
  bool calibrate = true;

  bool active() const noexcept { return predictor != nullptr && rule != MeasureRule::all; }
};

/// Which of a layer's candidates to measure (1) from their predictions; at least the predicted fastest.
inline std::vector<char> candidates_to_measure(std::span<const Prediction> p, MeasureRule rule, int k) {
  std::vector<char> keep(p.size(), rule == MeasureRule::all ? 1 : 0);
  if (p.empty() || rule == MeasureRule::all) return keep;
  std::vector<std::size_t> order(p.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return p[a].ms < p[b].ms; });
  const std::size_t best = order[0];
  keep[best] = 1;
  const std::size_t limit = static_cast<std::size_t>(std::max(k, 1));
  for (std::size_t n = 1; n < order.size() && n < limit; ++n) {
    const std::size_t c = order[n];
    // Log-scale gap against the combined uncertainty of the two predictions.
    const bool close = std::log(p[c].ms / p[best].ms) <= std::hypot(p[best].log_sigma, p[c].log_sigma);
    if (rule == MeasureRule::adaptive && !close) break;
    keep[c] = 1;
  }
  return keep;
}

}  // namespace primsel::predict
