// The main job for now: build a zoo model (default resnet18), run it on the dependency-free reference ops and
// print the top-5 classes and the time. Usage: zoo_reference [model] [runs]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <string>
#include <vector>

#include <primsel/primsel.hpp>

int main(int argc, char** argv) {
  using namespace primsel;
  const std::string name = argc > 1 ? argv[1] : "resnet18";
  const int runs = argc > 2 ? std::max(1, std::atoi(argv[2])) : 3;

  const auto t0 = std::chrono::steady_clock::now();
  Expected<Graph> graph = zoo::build(name);  // deterministic weights, calibrated so activations stay O(1)
  if (!graph) {
    std::fprintf(stderr, "error: %s\n", graph.error().what());
    return 1;
  }
  const double build_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const ModelStats s = stats(*graph);
  const Tensor input = zoo::random_input(graph->value(graph->inputs()[0]).shape, 2026);
  std::printf("%s: %zu nodes, %.2f M params, %.3f GMACs (built and calibrated in %.2f s)\n", name.c_str(),
              graph->nodes().size(), static_cast<double>(s.params) / 1e6, static_cast<double>(s.macs) / 1e9, build_s);

  std::vector<double> ms;
  std::vector<Tensor> out;
  for (int r = 0; r < runs; ++r) {
    const auto start = std::chrono::steady_clock::now();
    auto result = run_reference(*graph, input);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    if (!result) {
      std::fprintf(stderr, "error: %s\n", result.error().what());
      return 1;
    }
    out = std::move(*result);
  }
  std::sort(ms.begin(), ms.end());
  const std::span<const float> scores = out[0].floats();
  std::vector<int> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  const std::size_t k = std::min<std::size_t>(5, order.size());
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(),
                    [&](int a, int b) { return scores[static_cast<std::size_t>(a)] > scores[static_cast<std::size_t>(b)]; });
  std::printf("top-%zu (class: score):", k);
  for (std::size_t i = 0; i < k; ++i)
    std::printf(" %d: %.4f", order[i], static_cast<double>(scores[static_cast<std::size_t>(order[i])]));
  std::printf("\nreference latency: median %.1f ms, min %.1f ms over %d runs (%.2f GFLOP/s)\n", ms[ms.size() / 2],
              ms.front(), runs, 2.0 * static_cast<double>(s.macs) / (ms[ms.size() / 2] * 1e6));
  return 0;
}
