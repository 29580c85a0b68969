// Greedy: every layer takes its own fastest candidate and conversions are ignored — what cuDNN's benchmark mode
// (and most "pick the fastest kernel per layer" autotuners) do. The baseline the other searchers must beat.
#pragma once

#include <algorithm>
#include <string_view>

#include "primsel/search/problem.hpp"

namespace primsel {

struct Greedy {
  static constexpr std::string_view name = "greedy";

  static SearchResult search(const SelectionProblem& p, const SearchOptions& = {}) {
    SearchResult r;
    r.binding.reserve(p.size());
    for (const SearchNode& n : p.nodes)
      r.binding.push_back(static_cast<int>(std::min_element(n.cost.begin(), n.cost.end()) - n.cost.begin()));
    r.cost = p.cost(r.binding);
    r.trace = {r.cost};
    r.optimal = p.edges.empty();  // without conversions the per-layer minimum is the optimum
    return r;
  }
};
static_assert(Searcher<Greedy>);

}  // namespace primsel
