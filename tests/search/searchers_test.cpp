// Searchers on synthetic cost tables: Exact against brute force, and every searcher's contract (a valid binding
// whose reported cost is its true cost, a monotone trace, determinism for a seed).
#include <catch2/catch.hpp>

#include <algorithm>
#include <functional>
#include <limits>

#include "primsel/core/random.hpp"
#include "primsel/search/searchers.hpp"

using namespace primsel;

namespace {

struct P1 {
  static constexpr std::string_view name = "p1";
};
struct P2 {
  static constexpr std::string_view name = "p2";
};

enum class ProblemShape { chain, residual, dense };

std::string label(char prefix, std::size_t i) {  // not prefix + to_string(i): GCC 12 -Wrestrict false positive
  std::string s(1, prefix);
  s += std::to_string(i);
  return s;
}

/// A random problem: `n` nodes with 1..max_choices candidates, costs in [1, 10), conversions in [0, 5) (zero with
/// probability 1/3, as when formats agree). chain: i -> i+1; residual: plus skips i -> i+2 every other node;
/// dense: plus edges i -> i+2, i -> i+3 (every inner node has degree >= 3, so Exact must branch).
SelectionProblem random_problem(std::size_t n, std::size_t max_choices, ProblemShape shape, std::uint64_t seed) {
  Rng rng(seed);
  SelectionProblem p;
  for (std::size_t i = 0; i < n; ++i) {
    SearchNode node{label('n', i), {}, {}};
    const std::size_t k = 1 + rng.below(static_cast<std::uint32_t>(max_choices));
    for (std::size_t c = 0; c < k; ++c) {
      node.candidates.push_back(label('p', c));
      node.cost.push_back(rng.uniform(1.0, 10.0));
    }
    p.nodes.push_back(node);
  }
  auto edge = [&](std::size_t a, std::size_t b) {
    SearchEdge e{static_cast<int>(a), static_cast<int>(b), {}};
    for (std::size_t i = 0; i < p.choices(a) * p.choices(b); ++i)
      e.cost.push_back(rng.below(3) == 0 ? 0.0 : rng.uniform(0.0, 5.0));
    p.edges.push_back(e);
  };
  for (std::size_t i = 0; i + 1 < n; ++i) {
    edge(i, i + 1);
    if (shape != ProblemShape::chain && i + 2 < n && (shape == ProblemShape::dense || i % 2 == 0)) edge(i, i + 2);
    if (shape == ProblemShape::dense && i + 3 < n) edge(i, i + 3);
  }
  return p;
}

double brute_force(const SelectionProblem& p) {
  std::vector<int> b(p.size(), 0);
  double best = std::numeric_limits<double>::infinity();
  std::function<void(std::size_t)> go = [&](std::size_t i) {
    if (i == p.size()) {
      best = std::min(best, p.cost(b));
      return;
    }
    for (std::size_t c = 0; c < p.choices(i); ++c) b[i] = static_cast<int>(c), go(i + 1);
  };
  go(0);
  return best;
}

template <class S>
void check_contract(const SelectionProblem& p) {
  INFO(S::name);
  REQUIRE(p.validate().ok());
  const SearchResult r = S::search(p, {.seed = 11});
  REQUIRE(r.binding.size() == p.size());
  for (std::size_t i = 0; i < p.size(); ++i) {
    CHECK(r.binding[i] >= 0);
    CHECK(static_cast<std::size_t>(r.binding[i]) < p.choices(i));
  }
  CHECK(r.cost == Approx(p.cost(r.binding)).epsilon(1e-12));
  REQUIRE_FALSE(r.trace.empty());
  CHECK(std::is_sorted(r.trace.rbegin(), r.trace.rend()));  // best-so-far never rises
  CHECK(r.trace.back() == Approx(r.cost).epsilon(1e-12));
  const SearchResult again = S::search(p, {.seed = 11});
  CHECK(again.binding == r.binding);
  CHECK(again.trace == r.trace);
}

}  // namespace

TEST_CASE("Exact equals brute force on chains, residual DAGs and dense DAGs") {
  for (ProblemShape shape : {ProblemShape::chain, ProblemShape::residual, ProblemShape::dense})
    for (std::uint64_t seed = 1; seed <= 40; ++seed) {
      const SelectionProblem p = random_problem(2 + seed % 7, 4, shape, seed);
      INFO("shape " << static_cast<int>(shape) << " seed " << seed << " nodes " << p.size());
      const SearchResult r = Exact<>::search(p);
      CHECK(r.optimal);
      CHECK(r.note.empty());
      CHECK(r.cost == Approx(brute_force(p)).epsilon(1e-12));
    }
}

TEST_CASE("Exact says when its branching budget forced the heuristic") {
  const SelectionProblem p = random_problem(12, 4, ProblemShape::dense, 5);
  const SearchResult r = Exact<ExactConfig{.branch_budget = 2}>::search(p);
  CHECK_FALSE(r.optimal);
  CHECK(r.note.find("not be optimal") != std::string::npos);
  CHECK(r.cost >= brute_force(p) - 1e-9);
  check_contract<Exact<ExactConfig{.branch_budget = 2}>>(p);
}

TEST_CASE("every searcher returns a valid, reproducible binding with a monotone trace") {
  for (ProblemShape shape : {ProblemShape::chain, ProblemShape::residual, ProblemShape::dense})
    for (std::uint64_t seed : {3u, 4u}) {
      const SelectionProblem p = random_problem(9, 4, shape, seed);
      check_contract<Greedy>(p);
      check_contract<Fixed<P1>>(p);
      check_contract<RandomSearch<RandomConfig{.samples = 50}>>(p);
      check_contract<Exact<>>(p);
      check_contract<QLearning<>>(p);
      check_contract<QLearning<QConfig{.episodes = 20, .replay = 0}>>(p);
    }
}

TEST_CASE("greedy takes each node's cheapest candidate; fixed takes its primitive wherever offered") {
  const SelectionProblem p = random_problem(10, 4, ProblemShape::residual, 9);
  const SearchResult g = Greedy::search(p);
  const SearchResult f = Fixed<P2>::search(p);
  for (std::size_t i = 0; i < p.size(); ++i) {
    const auto& c = p.nodes[i].cost;
    CHECK(g.binding[i] == std::min_element(c.begin(), c.end()) - c.begin());
    if (p.choices(i) > 2)
      CHECK(f.binding[i] == 2);
    else
      CHECK(f.binding[i] == g.binding[i]);
  }
  CHECK(f.note.find("p2 on") == 0);
  CHECK_FALSE(g.optimal);  // there are conversions, so the per-node minimum proves nothing
}

TEST_CASE("searchers never beat the optimum; learning and sampling approach it") {
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    const SelectionProblem p = random_problem(16, 4, ProblemShape::residual, 100 + seed);
    const double optimum = Exact<>::search(p).cost;
    const double q = QLearning<>::search(p, {.seed = seed}).cost;
    const double rnd = RandomSearch<>::search(p, {.seed = seed}).cost;
    const double greedy = Greedy::search(p).cost;
    INFO("seed " << seed << " optimum " << optimum << " qlearning " << q << " random " << rnd << " greedy " << greedy);
    CHECK(q >= optimum - 1e-9);
    CHECK(rnd >= optimum - 1e-9);
    CHECK(greedy >= optimum - 1e-9);
    CHECK(q <= greedy + 1e-9);  // 300 episodes end near-greedy on the learned values, which include conversions
  }
}

TEST_CASE("an empty problem and single-choice nodes are handled") {
  SelectionProblem empty;
  CHECK(Exact<>::search(empty).binding.empty());
  CHECK(QLearning<>::search(empty).binding.empty());
  SelectionProblem one{{{"only", {"a"}, {2.5}}}, {}};
  CHECK(Exact<>::search(one).cost == 2.5);
  CHECK(QLearning<>::search(one).cost == 2.5);
  CHECK(RandomSearch<>::search(one).cost == 2.5);
}

TEST_CASE("fixed falls back to im2col_gemm where its primitive does not apply, else to the fastest") {
  SelectionProblem p{{{"conv_a", {"im2col_gemm", "winograd_f43"}, {5, 1}},
                      {"conv_b", {"winograd_f43", "im2col_gemm", "direct_nchwc"}, {9, 4, 1}},
                      {"pool", {"reference", "pool_nchw16c"}, {2, 1}}},
                     {}};
  const SearchResult r = Fixed<P1>::by_name(p, "direct_nchwc");
  CHECK(r.binding == std::vector<int>{0, 2, 1});
  CHECK(r.note == "direct_nchwc on 1 of 3 nodes; im2col_gemm or the fastest candidate elsewhere");
}
