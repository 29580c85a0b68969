// choose_calibration_layers: which few layers to measure on a new device so that LatencyPredictor::calibrate()
// learns the most. calibrate() fits an offset per primitive (and a slope from 5 samples on), so the layers should
// give every primitive samples — and layers where several primitives compete give them on the same layer, which
// is what a per-layer ranking depends on — spread over the size range, where the rescale's slope is decided.
// Greedy: each pick maximises the samples it adds to primitives still short of `want_per_primitive`, ties broken
// by the largest distance in log MACs from the layers already picked, then by more candidates.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "primsel/graph/conv_desc.hpp"

namespace primsel::predict {

/// A layer that could be measured: its descriptor and the primitives that support it.
struct CandidateLayer {
  ConvDesc desc;
  std::vector<std::string> primitives;
};

/// Indices into `layers` of at most `n` layers to measure (all their candidates) for calibrate(); deterministic.
/// Layers with fewer than two candidates (no choice to rank) and repeats of a chosen descriptor are never picked.
///   auto pick = predict::choose_calibration_layers(layers, 10);   // ~30 samples for a 10-layer calibration
inline std::vector<std::size_t> choose_calibration_layers(std::span<const CandidateLayer> layers, std::size_t n,
                                                          int want_per_primitive = 5) {
  std::vector<std::size_t> chosen;
  std::map<std::string, int> count;  // samples each primitive has among the chosen layers
  auto log_macs = [&](std::size_t i) { return std::log(double(std::max<std::int64_t>(layers[i].desc.macs(), 1))); };
  while (chosen.size() < n) {
    std::size_t best = layers.size();
    double best_gain = -1, best_spread = -1;
    for (std::size_t i = 0; i < layers.size(); ++i) {
      if (layers[i].primitives.size() < 2) continue;
      bool repeat = false;
      for (std::size_t c : chosen) repeat = repeat || layers[c].desc == layers[i].desc;
      if (repeat) continue;
      double gain = 0;
      for (const std::string& p : layers[i].primitives) gain += count[p] < want_per_primitive ? 1 : 0;
      double spread = 1e300;
      for (std::size_t c : chosen) spread = std::min(spread, std::abs(log_macs(i) - log_macs(c)));
      if (chosen.empty()) spread = 0;
      const bool better = gain > best_gain || (gain == best_gain && spread > best_spread) ||
                          (gain == best_gain && spread == best_spread && best < layers.size() &&
                           layers[i].primitives.size() > layers[best].primitives.size());
      if (better) best = i, best_gain = gain, best_spread = spread;
    }
    if (best == layers.size()) break;
    chosen.push_back(best);
    for (const std::string& p : layers[best].primitives) ++count[p];
  }
  return chosen;
}

}  // namespace primsel::predict
