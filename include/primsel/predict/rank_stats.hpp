// Rank statistics for judging a latency predictor: what matters for choosing primitives is the order of a layer's
// candidates, not their absolute times. Kendall's tau-b (Kendall 1945) counts concordant minus discordant pairs,
// corrected for ties: 1 = same order, -1 = reversed, 0 = unrelated. O(n^2), fine for a layer's handful of
// candidates.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <numeric>
#include <span>
#include <vector>

namespace primsel::predict {

/// Kendall's tau-b of two equally long sequences: (concordant - discordant) / sqrt((n0 - tx)(n0 - ty)), with n0
/// the pairs and tx, ty the pairs tied in a or in b. Returns 0 when there is nothing to rank (fewer than two
/// values, lengths differ, or either side is all ties).
inline double kendall_tau(std::span<const double> a, std::span<const double> b) {
  if (a.size() != b.size() || a.size() < 2) return 0.0;
  double concordant = 0, discordant = 0, ties_a = 0, ties_b = 0, pairs = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    for (std::size_t j = i + 1; j < a.size(); ++j) {
      ++pairs;
      const double da = a[i] - a[j], db = b[i] - b[j];
      if (da == 0) ++ties_a;
      if (db == 0) ++ties_b;
      if (da == 0 || db == 0) continue;
      ((da > 0) == (db > 0) ? concordant : discordant) += 1;
    }
  const double denom = std::sqrt((pairs - ties_a) * (pairs - ties_b));
  return denom > 0 ? (concordant - discordant) / denom : 0.0;
}

/// Indices of `v` from smallest to largest (stable: ties keep their order).
inline std::vector<std::size_t> order_ascending(std::span<const double> v) {
  std::vector<std::size_t> idx(v.size());
  std::iota(idx.begin(), idx.end(), std::size_t{0});
  std::stable_sort(idx.begin(), idx.end(), [&](std::size_t x, std::size_t y) { return v[x] < v[y]; });
  return idx;
}

/// Whether the measured fastest candidate is among the `k` predicted fastest (a "top-k hit"): measuring only
/// those k would still find the best one. True for k >= size; false for empty input.
inline bool best_in_top_k(std::span<const double> measured, std::span<const double> predicted, std::size_t k) {
  if (measured.empty() || measured.size() != predicted.size()) return false;
  const std::size_t best = order_ascending(measured).front();
  const std::vector<std::size_t> pred = order_ascending(predicted);
  return std::find(pred.begin(), pred.begin() + static_cast<std::ptrdiff_t>(std::min(k, pred.size())), best) !=
         pred.begin() + static_cast<std::ptrdiff_t>(std::min(k, pred.size()));
}

}  // namespace primsel::predict
