// Fixed<Im2colGemm>: one primitive family wherever it applies — the "single library" baseline (a network run
// entirely on one backend). Layers the family does not support fall back to im2col+GEMM, the generic path every
// convolution has (as a single-backend runtime falls back to its generic kernel); nodes without that candidate
// either (pooling, adds, ...) take their fastest one.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>

#include "primsel/search/problem.hpp"

namespace primsel {

/// The baseline for one primitive: any type with a `name` (a primitive, or a tag type naming one).
template <class Primitive>
struct Fixed {
  static constexpr std::string_view name = "fixed";
  static constexpr std::string_view primitive = Primitive::name;

  static SearchResult search(const SelectionProblem& p, const SearchOptions& o = {}) { return by_name(p, primitive, o); }

  /// The same rule for a primitive named at run time (`primsel-bench --searcher fixed:<name>`).
  static SearchResult by_name(const SelectionProblem& p, std::string_view wanted, const SearchOptions& = {}) {
    SearchResult r;
    std::size_t fallbacks = 0;
    for (const SearchNode& n : p.nodes) {
      const auto it = std::find(n.candidates.begin(), n.candidates.end(), wanted);
      const auto generic = std::find(n.candidates.begin(), n.candidates.end(), std::string_view("im2col_gemm"));
      if (it != n.candidates.end()) {
        r.binding.push_back(static_cast<int>(it - n.candidates.begin()));
      } else if (generic != n.candidates.end()) {
        r.binding.push_back(static_cast<int>(generic - n.candidates.begin()));
        ++fallbacks;
      } else {
        r.binding.push_back(static_cast<int>(std::min_element(n.cost.begin(), n.cost.end()) - n.cost.begin()));
        ++fallbacks;
      }
    }
    r.cost = p.cost(r.binding);
    r.trace = {r.cost};
    r.note = std::string(wanted) + " on " + std::to_string(p.size() - fallbacks) + " of " +
             std::to_string(p.size()) + " nodes; im2col_gemm or the fastest candidate elsewhere";
    return r;
  }
};

}  // namespace primsel
