// Exact: the optimum of the cost-table model, by PBQP reduction (Scholz & Eckstein; used for primitive selection
// by Anderson & Gregg's triNNity). A node with no neighbours left takes its cheapest choice (R0); a node with
// one neighbour folds its best response into that neighbour's costs (RI); a node with two folds into a new edge
// between them (RII). All three are exact, and they alone solve chains and series-parallel graphs — VGG, ResNet's
// residual blocks, SqueezeNet's fire modules. When every remaining node has three or more neighbours (inception
// concats), Exact branches on the busiest node, trying each choice; past a branching budget it falls back to the
// PBQP heuristic (RN: fix the locally best choice) and says so in the result's note.
#pragma once

#include <algorithm>
#include <cstddef>
#include <limits>
#include <map>
#include <string_view>
#include <utility>
#include <vector>

#include "primsel/search/problem.hpp"

namespace primsel {

struct ExactConfig {
  long branch_budget = 100000;  ///< reduced sub-problems solved while branching before falling back to RN
};

template <ExactConfig Config = ExactConfig{}>
struct Exact {
  static constexpr std::string_view name = "exact";
  static constexpr ExactConfig config = Config;

  static SearchResult search(const SelectionProblem& p, const SearchOptions& = {}) {
    State s;
    s.cost.reserve(p.size());
    for (const SearchNode& n : p.nodes) s.cost.push_back(n.cost);
    s.alive.assign(p.size(), true);
    s.adj.resize(p.size());
    for (const SearchEdge& e : p.edges) {
      Matrix m{p.choices(static_cast<std::size_t>(e.from)), p.choices(static_cast<std::size_t>(e.to)), e.cost};
      s.add_edge(e.from, e.to, m);
    }
    Solver solver;
    SearchResult r;
    r.binding = solver.solve(std::move(s));
    r.cost = p.cost(r.binding);
    r.trace = {r.cost};
    r.optimal = !solver.approximated;
    if (solver.approximated)
      r.note = "branching budget exhausted: some nodes fixed by the PBQP heuristic (RN); the binding may not be optimal";
    return r;
  }

 private:
  static constexpr double inf = std::numeric_limits<double>::infinity();

  /// Row-major rows x cols cost matrix: entry (a, b) for choice a of the first node, b of the second.
  struct Matrix {
    std::size_t rows = 0, cols = 0;
    std::vector<double> v;
    double at(std::size_t a, std::size_t b) const { return v[a * cols + b]; }
    Matrix transposed() const {
      Matrix t{cols, rows, std::vector<double>(v.size())};
      for (std::size_t a = 0; a < rows; ++a)
        for (std::size_t b = 0; b < cols; ++b) t.v[b * rows + a] = at(a, b);
      return t;
    }
  };

  struct State {
    std::vector<std::vector<double>> cost;
    std::vector<bool> alive;
    std::vector<std::map<int, Matrix>> adj;  ///< adj[x][y]: matrix oriented (choice of x, choice of y)

    void add_edge(int x, int y, const Matrix& m) {  // merges with an existing edge
      auto [it, inserted] = adj[static_cast<std::size_t>(x)].try_emplace(y, m);
      if (!inserted)
        for (std::size_t i = 0; i < m.v.size(); ++i) it->second.v[i] += m.v[i];
      adj[static_cast<std::size_t>(y)][x] = it->second.transposed();
    }
    void remove(int x) {
      alive[static_cast<std::size_t>(x)] = false;
      for (const auto& [y, m] : adj[static_cast<std::size_t>(x)]) adj[static_cast<std::size_t>(y)].erase(x);
    }
    /// The objective restricted to the alive nodes and the edges between them.
    double value(const std::vector<int>& binding) const {
      double total = 0;
      for (std::size_t x = 0; x < cost.size(); ++x) {
        if (!alive[x]) continue;
        total += cost[x][static_cast<std::size_t>(binding[x])];
        for (const auto& [y, m] : adj[x])
          if (static_cast<std::size_t>(y) > x)
            total += m.at(static_cast<std::size_t>(binding[x]), static_cast<std::size_t>(binding[static_cast<std::size_t>(y)]));
      }
      return total;
    }
  };

  /// A removed node: its costs and edges at removal, to pick its choice once its neighbours are decided.
  struct Removed {
    int node;
    std::vector<double> cost;
    std::map<int, Matrix> edges;
  };

  struct Solver {
    long branches = 0;
    bool approximated = false;

    std::vector<int> solve(State s) {
      std::vector<Removed> stack;
      std::vector<int> binding(s.cost.size(), 0);
      for (;;) {
        int pick = -1;
        std::size_t degree = 0;
        for (std::size_t x = 0; x < s.cost.size(); ++x)
          if (s.alive[x] && (pick < 0 || s.adj[x].size() < degree)) pick = static_cast<int>(x), degree = s.adj[x].size();
        if (pick < 0) break;  // everything reduced
        if (degree <= 2) {
          reduce(s, pick, stack);
          continue;
        }
        // Branch on the node with the most neighbours: every choice, each sub-problem solved recursively.
        int hub = pick;
        for (std::size_t x = 0; x < s.cost.size(); ++x)
          if (s.alive[x] && s.adj[x].size() > s.adj[static_cast<std::size_t>(hub)].size()) hub = static_cast<int>(x);
        const std::size_t choices = s.cost[static_cast<std::size_t>(hub)].size();
        std::vector<int> best;
        double best_value = inf;
        for (std::size_t a = 0; a < choices; ++a) {
          if (++branches > Config.branch_budget) {
            approximated = true;
            break;
          }
          std::vector<int> sub = solve(fixed(s, hub, a));
          sub[static_cast<std::size_t>(hub)] = static_cast<int>(a);
          const double v = s.value(merge(sub, binding, s.alive));
          if (v < best_value) best_value = v, best = std::move(sub);
        }
        if (best.empty()) {  // budget gone before any branch finished: RN, the locally best choice
          const std::size_t a = locally_best(s, hub);
          best = solve(fixed(s, hub, a));
          best[static_cast<std::size_t>(hub)] = static_cast<int>(a);
        }
        for (std::size_t x = 0; x < s.cost.size(); ++x)
          if (s.alive[x]) binding[x] = best[x];
        break;
      }
      // Back-substitution in reverse removal order: a node's neighbours at its removal were removed after it (or
      // were decided by the branch), so they are decided by the time it is.
      for (auto it = stack.rbegin(); it != stack.rend(); ++it) {
        double best = inf;
        for (std::size_t a = 0; a < it->cost.size(); ++a) {
          double v = it->cost[a];
          for (const auto& [y, m] : it->edges) v += m.at(a, static_cast<std::size_t>(binding[static_cast<std::size_t>(y)]));
          if (v < best) best = v, binding[static_cast<std::size_t>(it->node)] = static_cast<int>(a);
        }
      }
      return binding;
    }

    /// R0 / RI / RII on node x (degree <= 2).
    static void reduce(State& s, int x, std::vector<Removed>& stack) {
      const auto& cx = s.cost[static_cast<std::size_t>(x)];
      const auto edges = s.adj[static_cast<std::size_t>(x)];
      stack.push_back({x, cx, edges});
      if (edges.size() == 1) {
        const auto& [y, m] = *edges.begin();
        auto& cy = s.cost[static_cast<std::size_t>(y)];
        for (std::size_t b = 0; b < cy.size(); ++b) {
          double best = inf;
          for (std::size_t a = 0; a < cx.size(); ++a) best = std::min(best, cx[a] + m.at(a, b));
          cy[b] += best;
        }
      } else if (edges.size() == 2) {
        const auto& [y, my] = *edges.begin();
        const auto& [z, mz] = *std::next(edges.begin());
        Matrix d{my.cols, mz.cols, std::vector<double>(my.cols * mz.cols)};
        for (std::size_t b = 0; b < my.cols; ++b)
          for (std::size_t c = 0; c < mz.cols; ++c) {
            double best = inf;
            for (std::size_t a = 0; a < cx.size(); ++a) best = std::min(best, cx[a] + my.at(a, b) + mz.at(a, c));
            d.v[b * mz.cols + c] = best;
          }
        s.remove(x);
        s.add_edge(y, z, d);
        return;
      }
      s.remove(x);
    }

    /// A copy of s with node x fixed to choice a: its edges folded into the neighbours' costs, x removed.
    static State fixed(const State& s, int x, std::size_t a) {
      State t = s;
      for (const auto& [y, m] : s.adj[static_cast<std::size_t>(x)]) {
        auto& cy = t.cost[static_cast<std::size_t>(y)];
        for (std::size_t b = 0; b < cy.size(); ++b) cy[b] += m.at(a, b);
      }
      t.remove(x);
      return t;
    }

    /// RN's choice: own cost plus, per neighbour, its best response.
    static std::size_t locally_best(const State& s, int x) {
      const auto& cx = s.cost[static_cast<std::size_t>(x)];
      std::size_t best_a = 0;
      double best = inf;
      for (std::size_t a = 0; a < cx.size(); ++a) {
        double v = cx[a];
        for (const auto& [y, m] : s.adj[static_cast<std::size_t>(x)]) {
          const auto& cy = s.cost[static_cast<std::size_t>(y)];
          double r = inf;
          for (std::size_t b = 0; b < cy.size(); ++b) r = std::min(r, cy[b] + m.at(a, b));
          v += r;
        }
        if (v < best) best = v, best_a = a;
      }
      return best_a;
    }

    static std::vector<int> merge(const std::vector<int>& sub, const std::vector<int>& base, const std::vector<bool>& alive) {
      std::vector<int> out = base;
      for (std::size_t x = 0; x < out.size(); ++x)
        if (alive[x]) out[x] = sub[x];
      return out;
    }
  };
};
static_assert(Searcher<Exact<>>);

}  // namespace primsel
