// The experiment behind QLearning's defaults: on measured cost tables (tuning cache files, e.g. written by
// `network_bench --cache-dir DIR model...`), each configuration runs with seeds 1..10 and reports its mean and worst
// predicted cost above Exact's optimum, and the median number of episodes (samples, for RandomSearch) after which
// the best binding found is within 5% of the optimum.
//
//   ./build/benchmarks/search_bench /tmp/caches/*.cache
// Results and the choice made are in docs/search.md.
#include <algorithm>
#include <cstdio>

#include "primsel/runtime/tuning_cache.hpp"
#include "primsel/search/searchers.hpp"

using namespace primsel;
std::size_t reach(const std::vector<double>& t, double target) { for (std::size_t i = 0; i < t.size(); ++i) if (t[i] <= target) return i + 1; return t.size() + 1; }
template <class S> void run(const char* label, const SelectionProblem& p, double opt) {
  double gap = 0, worst = 0; std::vector<double> r;
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    SearchResult res = S::search(p, {.seed = seed});
    double g = 100 * (res.cost / opt - 1); gap += g / 10; worst = std::max(worst, g);
    r.push_back(static_cast<double>(reach(res.trace, 1.05 * opt)));
  }
  std::sort(r.begin(), r.end());
  std::printf("  %-28s mean %.2f%% worst %.2f%% reach5%% median %.0f\n", label, gap, worst, r[5]);
}
int main(int argc, char** argv) {
  if (argc < 2) std::printf("usage: search_bench FILE.cache...\n");
  for (int i = 1; i < argc; ++i) {
    auto rec = load_tuning_cache(argv[i]);
    if (!rec) { std::printf("%s: %s\n", argv[i], rec.error().what()); continue; }
    const auto& p = rec->problem;
    double opt = Exact<>::search(p).cost;
    std::printf("%s: %zu nodes, optimum %.3f, greedy %.3f\n", argv[i], p.size(), opt, Greedy::search(p).cost);
    run<QLearning<>>("default", p, opt);
    run<QLearning<QConfig{.polish = false}>>("default without polish", p, opt);
    run<QLearning<QConfig{.epsilon = {1.0, 0.1}, .replay = 512}>>("eps 0.1, replay 512", p, opt);
    run<QLearning<QConfig{.alpha = 0.1, .epsilon = {1.0, 0.1}, .replay = 64, .polish = false}>>("QS-DNN-like", p, opt);
    run<QLearning<QConfig{.episodes = 100}>>("100 episodes", p, opt);
    run<RandomSearch<RandomConfig{.samples = 20000}>>("random, 20000 samples", p, opt);
  }
}
