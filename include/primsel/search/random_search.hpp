// RandomSearch: uniform random bindings, the best kept — the baseline QS-DNN compares Q-learning against.
#pragma once

#include <cstdint>
#include <string_view>

#include "primsel/core/random.hpp"
#include "primsel/search/problem.hpp"

namespace primsel {

struct RandomConfig {
  int samples = 1000;
};

template <RandomConfig Config = RandomConfig{}>
struct RandomSearch {
  static_assert(Config.samples >= 1, "RandomSearch needs at least one sample");
  static constexpr std::string_view name = "random";
  static constexpr RandomConfig config = Config;

  static SearchResult search(const SelectionProblem& p, const SearchOptions& o = {}) {
    Rng rng(o.seed);
    SearchResult r;
    std::vector<int> binding(p.size());
    r.trace.reserve(static_cast<std::size_t>(Config.samples));
    for (int s = 0; s < Config.samples; ++s) {
      for (std::size_t i = 0; i < p.size(); ++i)
        binding[i] = static_cast<int>(rng.below(static_cast<std::uint32_t>(p.choices(i))));
      const double c = p.cost(binding);
      if (r.binding.empty() || c < r.cost) r.binding = binding, r.cost = c;
      r.trace.push_back(r.cost);
    }
    return r;
  }
};

}  // namespace primsel
