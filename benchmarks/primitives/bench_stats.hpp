// Small statistics the primitive benchmarks share: one definition of the median they quote.
#pragma once

#include <algorithm>
#include <vector>

namespace primsel::bench {

/// The median of `v` (the upper middle value for an even count; v must not be empty).
inline double median(std::vector<double> v) {
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
  return v[v.size() / 2];
}

}  // namespace primsel::bench
