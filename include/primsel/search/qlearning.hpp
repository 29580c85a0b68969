// QLearning: tabular Q-learning over primitive bindings, as in QS-DNN (de Prado et al., "QS-DNN: Automated
// Tuning of Deep Neural Networks with Reinforcement Learning", 2018). An episode binds the layers in topological
// order. The state is (layer, the candidate the previous layer took) — the previous choice fixes the format this
// layer receives; the action is this layer's candidate; the reward is minus its time plus the conversions it
// causes on its incoming edges. Exploration is epsilon-greedy with epsilon decaying linearly over the episodes,
// and after every episode a batch of stored transitions is replayed (experience replay) so that rare good
// transitions propagate back faster. The result is the better of the best episode seen and the greedy rollout
// of the learned table.
//
// Skip connections make the reward depend on more than the previous layer, so the learned values are an
// approximation of the true objective; the search still evaluates every episode's binding exactly.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string_view>
#include <vector>

#include "primsel/core/random.hpp"
#include "primsel/search/problem.hpp"

namespace primsel {

struct Epsilon {
  double start = 1.0;  ///< first episode: fully random
  double end = 0.02;   ///< last episode
};

/// Defaults chosen by experiment (benchmarks/search/search_bench.cpp, docs/search.md): on 14 measured tables of
/// the zoo models, 300 episodes with alpha 0.7, epsilon decaying to 0.02, 2048 replayed transitions per episode
/// and a final local-search polish end at the optimum for every model and seed; QS-DNN-like settings (alpha 0.1,
/// replay 64, no polish) stay up to 23% above it. Costs are deterministic, so a high learning rate does not chase
/// noise.
struct QConfig {
  int episodes = 300;
  double alpha = 0.7;  ///< learning rate
  double gamma = 1.0;  ///< discount: 1, the network's total time is what counts
  Epsilon epsilon{};
  int replay = 2048;  ///< transitions replayed after each episode
  bool polish = true;  ///< finish with local search on the best binding (single and edge-pair moves)
};

template <QConfig Config = QConfig{}>
struct QLearning {
  static_assert(Config.episodes >= 1 && Config.alpha > 0 && Config.alpha <= 1 && Config.gamma >= 0 &&
                    Config.gamma <= 1 && Config.replay >= 0,
                "QConfig: episodes >= 1, alpha in (0, 1], gamma in [0, 1], replay >= 0");
  static constexpr std::string_view name = "qlearning";
  static constexpr QConfig config = Config;

  static SearchResult search(const SelectionProblem& p, const SearchOptions& o = {}) {
    const std::size_t n = p.size();
    SearchResult r;
    if (n == 0) return r;
    Rng rng(o.seed);
    // q[i][s * choices(i) + a]: layer i, previous layer's choice s (a single state for the first layer).
    std::vector<std::vector<double>> q(n);
    for (std::size_t i = 0; i < n; ++i) q[i].assign(states(p, i) * p.choices(i), 0.0);
    std::vector<std::vector<const SearchEdge*>> incoming(n);
    for (const SearchEdge& e : p.edges) incoming[static_cast<std::size_t>(e.to)].push_back(&e);

    struct Transition {
      std::uint32_t layer, state, action;
      double reward;
    };
    std::vector<Transition> memory;
    constexpr std::size_t memory_cap = 1 << 14;
    std::size_t memory_next = 0;

    auto best_next = [&](std::size_t i, std::size_t a) {  // max_a' Q(i + 1, a, a'), 0 past the last layer
      if (i + 1 == n) return 0.0;
      const std::size_t m = p.choices(i + 1);
      const auto row = q[i + 1].begin() + static_cast<std::ptrdiff_t>(a * m);
      return *std::max_element(row, row + static_cast<std::ptrdiff_t>(m));
    };
    auto update = [&](const Transition& t) {
      double& v = q[t.layer][t.state * p.choices(t.layer) + t.action];
      v += Config.alpha * (t.reward + Config.gamma * best_next(t.layer, t.action) - v);
    };

    std::vector<int> binding(n);
    r.trace.reserve(static_cast<std::size_t>(Config.episodes));
    for (int episode = 0; episode < Config.episodes; ++episode) {
      const double eps = Config.episodes == 1 ? Config.epsilon.end
                                              : Config.epsilon.start + (Config.epsilon.end - Config.epsilon.start) *
                                                                           episode / (Config.episodes - 1);
      std::size_t state = 0;
      for (std::size_t i = 0; i < n; ++i) {
        const std::size_t m = p.choices(i);
        std::size_t a;
        if (rng.uniform() < eps) {
          a = rng.below(static_cast<std::uint32_t>(m));
        } else {
          const auto row = q[i].begin() + static_cast<std::ptrdiff_t>(state * m);
          a = static_cast<std::size_t>(std::max_element(row, row + static_cast<std::ptrdiff_t>(m)) - row);
        }
        binding[i] = static_cast<int>(a);
        double cost = p.nodes[i].cost[a];
        for (const SearchEdge* e : incoming[i]) cost += p.edge_cost(*e, binding[static_cast<std::size_t>(e->from)], static_cast<int>(a));
        const Transition t{static_cast<std::uint32_t>(i), static_cast<std::uint32_t>(state), static_cast<std::uint32_t>(a), -cost};
        update(t);
        if (memory.size() < memory_cap)
          memory.push_back(t);
        else
          memory[memory_next++ % memory_cap] = t;
        state = a;
      }
      for (int k = 0; k < Config.replay && !memory.empty(); ++k)
        update(memory[rng.below(static_cast<std::uint32_t>(memory.size()))]);
      const double c = p.cost(binding);
      if (r.binding.empty() || c < r.cost) r.binding = binding, r.cost = c;
      r.trace.push_back(r.cost);
    }
    // The learned policy's own rollout may beat every explored episode.
    std::size_t state = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t m = p.choices(i);
      const auto row = q[i].begin() + static_cast<std::ptrdiff_t>(state * m);
      state = static_cast<std::size_t>(std::max_element(row, row + static_cast<std::ptrdiff_t>(m)) - row);
      binding[i] = static_cast<int>(state);
    }
    if (const double c = p.cost(binding); c < r.cost) {
      r.binding = binding, r.cost = c;
      r.trace.back() = c;
    }
    if constexpr (Config.polish) {
      polish(p, r.binding);
      r.cost = p.cost(r.binding);
      r.trace.back() = r.cost;
    }
    return r;
  }

  /// Local search from a binding until no move helps: change one node, or both ends of an edge (a layout flip
  /// often needs producer and consumer to change together). The Q-table's state sees only the previous layer, so
  /// choices tied through skip connections (residual adds, concats) are what this repairs.
  static void polish(const SelectionProblem& p, std::vector<int>& b) {
    double best = p.cost(b);
    for (bool improved = true; improved;) {
      improved = false;
      for (std::size_t i = 0; i < p.size(); ++i)
        for (std::size_t a = 0; a < p.choices(i); ++a) {
          const int old = b[i];
          b[i] = static_cast<int>(a);
          if (const double c = p.cost(b); c < best - 1e-12)
            best = c, improved = true;
          else
            b[i] = old;
        }
      for (const SearchEdge& e : p.edges) {
        const auto i = static_cast<std::size_t>(e.from), j = static_cast<std::size_t>(e.to);
        for (std::size_t a = 0; a < p.choices(i); ++a)
          for (std::size_t c2 = 0; c2 < p.choices(j); ++c2) {
            const int oi = b[i], oj = b[j];
            b[i] = static_cast<int>(a), b[j] = static_cast<int>(c2);
            if (const double c = p.cost(b); c < best - 1e-12)
              best = c, improved = true;
            else
              b[i] = oi, b[j] = oj;
          }
      }
    }
  }

 private:
  static std::size_t states(const SelectionProblem& p, std::size_t i) { return i == 0 ? 1 : p.choices(i - 1); }
};

}  // namespace primsel
