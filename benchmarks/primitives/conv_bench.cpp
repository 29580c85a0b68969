// Every convolution primitive of the default list on every distinct conv layer of resnet18, vgg16 and
// mobilenet_v2 (after BN folding and activation fusion, as the network runs them), single-threaded unless
// --threads is given via the "threads" argument. Counters: GFLOPS (direct-conv FLOPs / time, so transform-based
// primitives show their effective rate) and peak_frac (of the measured single-core FMA peak times threads).
//   ./build/benchmarks/conv_bench --benchmark_filter=resnet18 --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "primsel/core/cpu.hpp"
#include "primsel/core/layout_convert.hpp"
#include "primsel/graph/conv_desc.hpp"
#include "primsel/graph/passes.hpp"
#include "primsel/primitives/default_primitives.hpp"
#include "primsel/zoo/zoo.hpp"

namespace {
using namespace primsel;

double peak() {
  static const double p = measure_peak_gflops(0.5);
  return p;
}

struct Layer {
  ConvDesc desc;
  Tensor weight, bias;
};

/// Distinct conv layers of a zoo model, in network order.
std::vector<Layer> conv_layers(const char* model) {
  Graph g = zoo::build(model, {.calibrate = false}).value();
  optimize(g).value();
  std::vector<Layer> out;
  std::set<std::string> seen;
  for (const Node& n : g.nodes()) {
    if (n.op != OpKind::Conv) continue;
    const ConvDesc d = conv_desc(g, n);
    if (!seen.insert(to_string(d)).second) continue;
    Tensor bias = n.input(2) != no_value ? *g.value(n.inputs[2]).constant : Tensor();
    out.push_back({d, *g.value(n.inputs[1]).constant, std::move(bias)});
  }
  return out;
}

template <ConvPrimitive P>
void run_primitive(benchmark::State& state, const Layer& layer, int threads) {
  const ConvDesc& d = layer.desc;
  auto plan = P::plan(d, {layer.weight.view(), layer.desc.has_bias ? ConstTensorView(layer.bias.view()) : ConstTensorView{}});
  if (!plan) {
    state.SkipWithError(plan.error().what());
    return;
  }
  Tensor x = zoo::random_input({d.n, d.ic, d.ih, d.iw}, 1);
  Tensor in = to_layout(x, P::input_format(d).layout).value();
  Tensor out({d.n, d.oc, d.oh, d.ow}, P::output_format(d));
  Tensor ws({static_cast<std::int64_t>(P::workspace_bytes(d, threads) / 4 + 1)});
  ThreadPool pool(threads);
  const Context ctx{&pool, {ws.bytes(), ws.size_bytes()}};
  for (auto _ : state) {
    P::run(*plan, in.view(), out.view(), ctx);
    benchmark::ClobberMemory();
  }
  const double flops = 2.0 * static_cast<double>(d.macs()) * static_cast<double>(state.iterations());
  state.counters["GFLOPS"] = benchmark::Counter(flops / 1e9, benchmark::Counter::kIsRate);
  state.counters["peak_frac"] = benchmark::Counter(flops / 1e9 / (peak() * threads), benchmark::Counter::kIsRate);
}

void register_all() {
  for (const char* model : {"resnet18", "vgg16", "mobilenet_v2"}) {
    static std::map<std::string, std::vector<Layer>> layers;  // outlive registration
    layers[model] = conv_layers(model);
    for (const Layer& layer : layers[model])
      for (int threads : {1, 2})
        DefaultConvPrimitives::for_each([&]<class P>() {
          if (!P::supports(layer.desc)) return;
          const std::string name = std::string(model) + "/" + to_string(layer.desc) + "/" + std::string(P::name) +
                                   "/threads:" + std::to_string(threads);
          benchmark::RegisterBenchmark(name.c_str(), [&layer, threads](benchmark::State& s) {
            run_primitive<P>(s, layer, threads);
          })->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(0.2);
        });
  }
}
}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
