// A searcher for tests that want int8 wherever the network offers it: mixed-precision behaviour (accuracy, no
// allocation) is then checked on the largest int8 share the network allows, not on whatever the timings favour.
#pragma once

#include <string_view>

#include "primsel/search/problem.hpp"

namespace primsel::testing {

inline bool is_int8_candidate(std::string_view name) { return name.ends_with("_u8s8") || name.ends_with("_u8"); }

/// The cheapest int8 candidate wherever there is one (else the cheapest): every calibrated conv runs int8, the
/// worst case for accuracy.
struct PreferInt8 {
  static constexpr std::string_view name = "prefer-int8";
  static SearchResult search(const SelectionProblem& p, const SearchOptions& = {}) {
    SearchResult r;
    for (const SearchNode& n : p.nodes) {
      int best = -1;
      for (std::size_t c = 0; c < n.cost.size(); ++c) {
        if (best < 0) {
          best = static_cast<int>(c);
          continue;
        }
        const auto b = static_cast<std::size_t>(best);
        const bool c_int8 = is_int8_candidate(n.candidates[c]), b_int8 = is_int8_candidate(n.candidates[b]);
        if ((c_int8 && !b_int8) || (c_int8 == b_int8 && n.cost[c] < n.cost[b])) best = static_cast<int>(c);
      }
      r.binding.push_back(best);
    }
    r.cost = p.cost(r.binding);
    return r;
  }
};

}  // namespace primsel::testing
