// The selection problem every searcher solves, stated as costs on nodes and edges (triNNity, PBQP): each layer
// picks one candidate; a candidate costs its measured time, and each edge costs the format conversion between the
// producer's and the consumer's choice. Searchers read only this — they never time anything — so a search is
// deterministic for its seed, replayable from a cached table, and testable on synthetic problems.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "primsel/core/error.hpp"

namespace primsel {

/// One layer's choices. `cost[c]` is candidate c's time in ms, including any conversion it forces at the graph's
/// boundary (its input is a graph input, or its output a graph output).
struct SearchNode {
  std::string name;
  std::vector<std::string> candidates;  ///< primitive names, for reports
  std::vector<double> cost;             ///< ms, one per candidate
};

/// A data edge from node `from` to node `to` (from < to: nodes are in topological order). `cost[a * nb + b]` is the
/// conversion time when `from` picks a and `to` picks b (0 where the formats agree), nb = candidates of `to`.
struct SearchEdge {
  int from = 0;
  int to = 0;
  std::vector<double> cost;
};

struct SelectionProblem {
  std::vector<SearchNode> nodes;  ///< topological order
  std::vector<SearchEdge> edges;

  std::size_t size() const noexcept { return nodes.size(); }
  std::size_t choices(std::size_t node) const noexcept { return nodes[node].cost.size(); }
  double edge_cost(const SearchEdge& e, int a, int b) const noexcept {
    return e.cost[static_cast<std::size_t>(a) * choices(static_cast<std::size_t>(e.to)) + static_cast<std::size_t>(b)];
  }

  /// The predicted network time of a binding (one candidate index per node).
  double cost(const std::vector<int>& binding) const noexcept {
    double total = 0;
    for (std::size_t i = 0; i < nodes.size(); ++i) total += nodes[i].cost[static_cast<std::size_t>(binding[i])];
    for (const SearchEdge& e : edges)
      total += edge_cost(e, binding[static_cast<std::size_t>(e.from)], binding[static_cast<std::size_t>(e.to)]);
    return total;
  }

  /// Checks the problem is well formed: every node has a candidate, sizes agree, edges go forward, costs finite
  /// and non-negative. Searchers may assume a validated problem.
  Status validate() const {
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      const SearchNode& n = nodes[i];
      PRIMSEL_CHECK(!n.cost.empty(), ErrorCode::unsupported, "no primitive supports this layer",
                    ErrorContext{{}, n.name, {}});
      PRIMSEL_CHECK(n.candidates.empty() || n.candidates.size() == n.cost.size(), ErrorCode::internal,
                    "candidate names and costs differ in number", ErrorContext{{}, n.name, {}});
      for (double c : n.cost)
        PRIMSEL_CHECK(c >= 0 && c < std::numeric_limits<double>::infinity(), ErrorCode::invalid_argument,
                      "a candidate cost is negative, infinite or NaN", ErrorContext{{}, n.name, {}});
    }
    for (const SearchEdge& e : edges) {
      PRIMSEL_CHECK(e.from >= 0 && e.from < e.to && static_cast<std::size_t>(e.to) < nodes.size(),
                    ErrorCode::internal, "edge " + std::to_string(e.from) + "->" + std::to_string(e.to) +
                                             " does not go forward between existing nodes");
      PRIMSEL_CHECK(e.cost.size() == choices(static_cast<std::size_t>(e.from)) * choices(static_cast<std::size_t>(e.to)),
                    ErrorCode::internal, "edge " + std::to_string(e.from) + "->" + std::to_string(e.to) +
                                             " has a cost matrix of the wrong size");
      for (double c : e.cost)
        PRIMSEL_CHECK(c >= 0 && c < std::numeric_limits<double>::infinity(), ErrorCode::invalid_argument,
                      "a conversion cost is negative, infinite or NaN");
    }
    return {};
  }
};

/// `p` with only the candidates `keep[node][c]` marks (every node must keep one); `index[node][k]` maps the k-th
/// kept candidate back to its index in `p`. How budgets constrain every searcher alike: they remove candidates.
inline SelectionProblem restrict_problem(const SelectionProblem& p, const std::vector<std::vector<char>>& keep,
                                         std::vector<std::vector<int>>& index) {
  SelectionProblem r;
  index.assign(p.size(), {});
  for (std::size_t i = 0; i < p.size(); ++i) {
    SearchNode n{p.nodes[i].name, {}, {}};
    for (std::size_t c = 0; c < p.choices(i); ++c) {
      if (i < keep.size() && c < keep[i].size() && !keep[i][c]) continue;
      index[i].push_back(static_cast<int>(c));
      if (!p.nodes[i].candidates.empty()) n.candidates.push_back(p.nodes[i].candidates[c]);
      n.cost.push_back(p.nodes[i].cost[c]);
    }
    r.nodes.push_back(std::move(n));
  }
  for (const SearchEdge& e : p.edges) {
    SearchEdge out{e.from, e.to, {}};
    for (int a : index[static_cast<std::size_t>(e.from)])
      for (int b : index[static_cast<std::size_t>(e.to)]) out.cost.push_back(p.edge_cost(e, a, b));
    r.edges.push_back(std::move(out));
  }
  return r;
}

/// What every searcher returns: the binding, its predicted cost, and the best cost after each episode/sample (for
/// comparing searches against the exact optimum). `note` says when a result is approximate (e.g. PBQP heuristic).
struct SearchResult {
  std::vector<int> binding;
  double cost = 0;
  std::vector<double> trace;
  bool optimal = false;  ///< proven optimal for this problem
  std::string note;
};

/// Run-time knobs shared by all searchers; the algorithm's own configuration is a compile-time parameter.
struct SearchOptions {
  std::uint64_t seed = 7;
};

/// A searcher is a stateless policy type: `S::search(problem, options)` returns a SearchResult.
///   template <QConfig C = QConfig{}> struct QLearning { static constexpr std::string_view name = "qlearning"; ... };
template <class S>
concept Searcher = requires(const SelectionProblem& p, const SearchOptions& o) {
  { S::name } -> std::convertible_to<std::string_view>;
  { S::search(p, o) } -> std::same_as<SearchResult>;
};

}  // namespace primsel
