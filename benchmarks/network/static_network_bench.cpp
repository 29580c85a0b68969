// The digits `small` network (data/digits/small.onnx) on one image, three ways: the StaticNetwork of
// examples/firmware (binding, shapes and arena fixed at compile time), the dynamic Network bound to the same
// primitives by name (the binding primsel-bench emitted, examples/firmware/digits_small_binding.hpp), and the
// reference executor. The first two run the same kernels, so their difference is the per-inference overhead the
// compile-time network removes (step dispatch, view checks); docs/embedded.md quotes the numbers.
//   ./build/benchmarks/static_network_bench
#include <benchmark/benchmark.h>

#include <string>

#include "digits_network.hpp"
#include "primsel/io/onnx.hpp"
#include "primsel/runtime/network.hpp"
#include "primsel/runtime/reference_executor.hpp"
#include "primsel/search/greedy.hpp"

namespace {

using namespace primsel;

Expected<Graph> small_model() {
  return io::onnx::load_model(std::string(PRIMSEL_SOURCE_DIR) + "/data/digits/small.onnx");
}

void static_network(benchmark::State& state) {
  static digits::SmallNet net;
  alignas(tensor_alignment) static std::byte arena[digits::SmallNet::arena_bytes];
  if (Status s = net.init(arena); !s) return state.SkipWithError(s.error().what());
  float logits[digits::SmallNet::output_size];
  for (auto _ : state) {
    benchmark::DoNotOptimize(net.run(digits::sample_image, logits).ok());
    benchmark::ClobberMemory();
  }
}
BENCHMARK(static_network);

void dynamic_network(benchmark::State& state) {
  auto g = small_model();
  if (!g) return state.SkipWithError(g.error().what());
  auto net = Network<Greedy>::create(std::move(*g));
  if (!net) return state.SkipWithError(net.error().what());
  if (Status s = net->bind_names(small_binding, {.threads = 1}); !s) return state.SkipWithError(s.error().what());
  const Tensor x = Tensor::from({1, 1, 8, 8}, digits::sample_image);
  Tensor y({1, 10});
  const ConstTensorView in = x.view();
  const TensorView out = y.view();
  for (auto _ : state) {
    benchmark::DoNotOptimize(net->run({&in, 1}, {&out, 1}).ok());
    benchmark::ClobberMemory();
  }
}
BENCHMARK(dynamic_network);

void reference_executor(benchmark::State& state) {
  auto g = small_model();
  if (!g) return state.SkipWithError(g.error().what());
  const Tensor x = Tensor::from({1, 1, 8, 8}, digits::sample_image);
  for (auto _ : state) benchmark::DoNotOptimize(run_reference(*g, x).ok());
}
BENCHMARK(reference_executor);

}  // namespace

BENCHMARK_MAIN();
