// Fixed<"im2col_gemm">: one primitive family wherever it applies — the "single library" baseline (a network run
// entirely on one backend). Layers the family does not support take their fastest candidate, as a single-backend
// runtime would fall back to its generic path.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>

#include "primsel/search/problem.hpp"

namespace primsel {

/// A primitive name as a compile-time value: `Fixed<"winograd_f43">`.
template <std::size_t N>
struct FixedName {
  char text[N]{};
  constexpr FixedName(const char (&s)[N]) { std::copy_n(s, N, text); }
  constexpr std::string_view view() const { return {text, N - 1}; }
};

template <FixedName Primitive>
struct Fixed {
  static constexpr std::string_view name = "fixed";
  static constexpr std::string_view primitive = Primitive.view();

  static SearchResult search(const SelectionProblem& p, const SearchOptions& = {}) {
    SearchResult r;
    std::size_t fallbacks = 0;
    for (const SearchNode& n : p.nodes) {
      const auto it = std::find(n.candidates.begin(), n.candidates.end(), primitive);
      if (it != n.candidates.end()) {
        r.binding.push_back(static_cast<int>(it - n.candidates.begin()));
      } else {
        r.binding.push_back(static_cast<int>(std::min_element(n.cost.begin(), n.cost.end()) - n.cost.begin()));
        ++fallbacks;
      }
    }
    r.cost = p.cost(r.binding);
    r.trace = {r.cost};
    r.note = std::string(primitive) + " on " + std::to_string(p.size() - fallbacks) + " of " +
             std::to_string(p.size()) + " nodes; the rest take their fastest candidate";
    return r;
  }
};

}  // namespace primsel
