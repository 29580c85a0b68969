// End-to-end: for each zoo model, measure the cost table once, then bind it with every searcher and every
// single-primitive baseline (Fixed<P>) and time the bound network; also the reference executor. Then the search
// experiment on the measured problem: QLearning's and RandomSearch's predicted cost against Exact's optimum, and
// over 10 seeds how many episodes / samples each needs to get within 5% of it.
//
//   ./build/benchmarks/network_bench [--threads N] [--runs R] [--cache-dir DIR] [model ...]   (default: resnet18)
// --cache-dir keeps each model's measurements in DIR/<model>.cache (input for search_bench).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "primsel/core/cpu.hpp"
#include "primsel/runtime/network.hpp"
#include "primsel/runtime/reference_executor.hpp"
#include "primsel/search/searchers.hpp"
#include "primsel/zoo/zoo.hpp"

namespace {
using namespace primsel;
using Net = Network<QLearning<>>;

double median(std::vector<double> v) {
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
  return v[v.size() / 2];
}

template <class F>
double time_runs(F&& f, int runs) {
  f();  // warm-up
  std::vector<double> ms;
  for (int i = 0; i < runs; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  return median(ms);
}

template <Searcher S>
void bind_and_time(Net& net, const Tensor& x, const BindOptions& o, int runs, const char* label) {
  if (Status s = net.bind_with<S>(o); !s) {
    std::printf("  %-24s bind failed: %s\n", label, s.error().what());
    return;
  }
  const double ms = time_runs([&] { (void)net.run(x); }, runs);
  std::printf("  %-24s predicted %8.3f ms  measured %8.3f ms  (%d conversions, arena %.1f MiB)\n", label,
              net.report().search.cost, ms, net.report().conversions,
              static_cast<double>(net.report().arena_bytes) / (1 << 20));
}

/// First index at which a best-so-far trace is within `factor` of the optimum (trace size if never).
std::size_t reach(const std::vector<double>& trace, double target) {
  for (std::size_t i = 0; i < trace.size(); ++i)
    if (trace[i] <= target) return i + 1;
  return trace.size() + 1;
}

void run_model(const std::string& model, int threads, int runs, const std::string& cache_dir) {
  Graph g = zoo::build(model).value();
  Graph reference_graph = g;
  auto net = Net::create(std::move(g)).value();
  const Tensor x = zoo::random_input(net.graph().value(net.graph().inputs()[0]).shape, 1);
  BindOptions o{.threads = threads};
  if (!cache_dir.empty()) o.cache_path = cache_dir + "/" + model + ".cache";
  const Status measured = net.measure(o);
  if (!measured) {
    std::printf("%s: measure failed: %s\n", model.c_str(), measured.error().what());
    return;
  }
  std::size_t pairs = 0;
  for (const SearchNode& n : net.problem().nodes) pairs += n.cost.size();
  std::printf("%s (%d thread(s)): %zu nodes, %zu candidate timings, measured in %.0f ms\n", model.c_str(), threads,
              net.problem().size(), pairs, net.report().measure_ms);
  bind_and_time<QLearning<>>(net, x, o, runs, "qlearning");
  bind_and_time<Exact<>>(net, x, o, runs, "exact");
  std::printf("  %-24s %s\n", "", net.report().search.note.empty() ? "(proven optimal)" : net.report().search.note.c_str());
  bind_and_time<Greedy>(net, x, o, runs, "greedy");
  bind_and_time<RandomSearch<>>(net, x, o, runs, "random (1000 samples)");
  DefaultConvPrimitives::for_each([&]<class P>() {
    const std::string label = "fixed:" + std::string(P::name);
    bind_and_time<Fixed<P>>(net, x, o, runs, label.c_str());
  });
  const double ref = time_runs([&] { (void)run_reference(reference_graph, x); }, std::max(1, runs / 10));
  std::printf("  %-24s measured %8.3f ms\n", "reference executor", ref);

  // Search quality on the measured problem.
  const SelectionProblem& p = net.problem();
  const double optimum = Exact<>::search(p).cost;
  std::vector<double> q_gap, q_reach, r_reach;
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    const SearchResult q = QLearning<>::search(p, {.seed = seed});
    const SearchResult r = RandomSearch<RandomConfig{.samples = 20000}>::search(p, {.seed = seed});
    q_gap.push_back(100.0 * (q.cost / optimum - 1.0));
    q_reach.push_back(static_cast<double>(reach(q.trace, 1.05 * optimum)));
    r_reach.push_back(static_cast<double>(reach(r.trace, 1.05 * optimum)));
  }
  std::printf("  search over 10 seeds: qlearning %.2f%% (worst %.2f%%) above the optimum %.3f ms; within 5%% after a "
              "median of %.0f episodes vs %.0f random samples (%.1fx; %zu = never in 20000)\n",
              median(q_gap), *std::max_element(q_gap.begin(), q_gap.end()), optimum, median(q_reach),
              median(r_reach), median(r_reach) / median(q_reach), std::size_t{20001});
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 1, runs = 20;
  std::string cache_dir;
  std::vector<std::string> models;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--threads" && i + 1 < argc)
      threads = std::atoi(argv[++i]);
    else if (a == "--runs" && i + 1 < argc)
      runs = std::atoi(argv[++i]);
    else if (a == "--cache-dir" && i + 1 < argc)
      cache_dir = argv[++i];
    else
      models.push_back(a);
  }
  if (models.empty()) models = {"resnet18"};
  std::printf("cpu: %s, isa %s, %d thread(s)\n", cpu_name().c_str(), std::string(simd::isa).c_str(), threads);
  for (const std::string& m : models) run_model(m, std::max(1, threads), std::max(1, runs), cache_dir);
  return 0;
}
