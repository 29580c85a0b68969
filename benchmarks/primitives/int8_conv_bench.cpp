// Every int8 convolution primitive against the f32 primitives (Im2colGemm, Conv1x1Gemm, DirectNchwc, WinogradF43,
// Depthwise) on the distinct 1x1 and 3x3 conv layers of resnet18 and mobilenet_v2 (after BN folding and
// activation fusion, as conv_bench takes them), single-threaded. Each primitive runs in its own formats (int8:
// u8 NHWC; conversions are the search's edge costs, not counted here). Counters: GFLOPS (direct-conv FLOPs /
// time; GOP/s for int8). After the runs a table per layer gives the best f32 primitive, the best int8 one, their
// ratio (int8 speed-up), and the speed-up of each int8 primitive over its own f32 counterpart.
//   ./build/benchmarks/int8_conv_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
// (--benchmark_filter=resnet18 etc. narrows it; the table uses the median when there are repetitions.)
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "primsel/core/layout_convert.hpp"
#include "primsel/core/random.hpp"
#include "primsel/graph/conv_desc.hpp"
#include "primsel/graph/passes.hpp"
#include "primsel/primitives/default_primitives.hpp"
#include "primsel/primitives/int8/default_int8_primitives.hpp"
#include "primsel/zoo/zoo.hpp"
#include "zoo_conv_layers.hpp"

namespace {
using namespace primsel;

using F32Primitives = PrimitiveList<Im2colGemm, Conv1x1Gemm, DirectNchwc, WinogradF43, Depthwise>;

using Layer = bench::ZooConvLayer;

/// Distinct 1x1 and 3x3 conv layers of a zoo model, in network order.
std::vector<Layer> conv_layers(const char* model) {
  return bench::zoo_conv_layers(model, [](const ConvDesc& d) {
    return (d.kh == 1 && d.kw == 1) || (d.kh == 3 && d.kw == 3);
  });
}

ConvWeights weights_of(const Layer& l) {
  return {l.weight.view(), l.desc.has_bias ? ConstTensorView(l.bias.view()) : ConstTensorView{}};
}

void count(benchmark::State& state, const ConvDesc& d) {
  const double flops = 2.0 * static_cast<double>(d.macs()) * static_cast<double>(state.iterations());
  state.counters["GFLOPS"] = benchmark::Counter(flops / 1e9, benchmark::Counter::kIsRate);
}

template <ConvPrimitive P>
void run_f32(benchmark::State& state, const Layer& layer) {
  const ConvDesc& d = layer.desc;
  auto plan = P::plan(d, weights_of(layer));
  if (!plan) return state.SkipWithError(plan.error().what());
  Tensor x = zoo::random_input({d.n, d.ic, d.ih, d.iw}, 1);
  Tensor in = to_layout(x, P::input_format(d).layout).value();
  Tensor out({d.n, d.oc, d.oh, d.ow}, P::output_format(d));
  Tensor ws({static_cast<std::int64_t>(P::workspace_bytes(d, 1) / 4 + 1)});
  ThreadPool pool(1);
  const Context ctx{&pool, {ws.bytes(), ws.size_bytes()}};
  for (auto _ : state) {
    P::run(*plan, in.view(), out.view(), ctx);
    benchmark::ClobberMemory();
  }
  count(state, d);
}

template <QuantConvPrimitive P>
void run_int8(benchmark::State& state, const Layer& layer) {
  const ConvDesc& d = layer.desc;
  // Typical post-Relu input, in the levels this target's kernels need (7-bit on AVX2 without VNNI), as a calibrated
  // network quantises them. A bounded activation's output (Relu6) spans the levels as calibration on its outputs
  // makes it (hi = qmax: depthwise_u8s8 then needs no byte clamp); others get scale 0.05.
  const std::int32_t qmax = u8_activation_levels.hi;
  const float out_scale = std::isfinite(d.activation.hi) ? d.activation.hi / static_cast<float>(qmax) : 0.05f;
  const ConvQuant q{{0.02f, 3, qmax}, {out_scale, d.activation.is_none() ? (qmax + 1) / 2 : 0, qmax}};
  auto plan = P::plan(d, weights_of(layer), q);
  if (!plan) return state.SkipWithError(plan.error().what());
  Tensor in({d.n, d.ic, d.ih, d.iw}, u8_nhwc, q.input), out({d.n, d.oc, d.oh, d.ow}, u8_nhwc, q.output);
  Rng rng(1);
  for (std::size_t i = 0; i < in.size_bytes(); ++i) in.data<std::uint8_t>()[i] = static_cast<std::uint8_t>(rng.below(qmax + 1));
  Tensor ws({static_cast<std::int64_t>(P::workspace_bytes(d, 1) / 4 + 1)});
  ThreadPool pool(1);
  const Context ctx{&pool, {ws.bytes(), ws.size_bytes()}};
  for (auto _ : state) {
    P::run(*plan, in.view(), out.view(), ctx);
    benchmark::ClobberMemory();
  }
  count(state, d);
}

std::string prefix(const Layer& l) { return l.model + "/" + to_string(l.desc) + "/"; }

void register_all(std::vector<Layer>& layers) {
  for (const Layer& layer : layers) {
    F32Primitives::for_each([&]<class P>() {
      if (!P::supports(layer.desc)) return;
      const std::string name = prefix(layer) + "f32/" + std::string(P::name);
      benchmark::RegisterBenchmark(name.c_str(), [&layer](benchmark::State& s) { run_f32<P>(s, layer); })
          ->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(0.2);
    });
    DefaultInt8ConvPrimitives::for_each([&]<class P>() {
      if (!P::supports(layer.desc)) return;
      const std::string name = prefix(layer) + "int8/" + std::string(P::name);
      benchmark::RegisterBenchmark(name.c_str(), [&layer](benchmark::State& s) { run_int8<P>(s, layer); })
          ->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(0.2);
    });
  }
}

/// Keeps each benchmark's time (the median when repeated) for the summary table.
class Collector : public benchmark::ConsoleReporter {
 public:
  std::map<std::string, double> ms;  // "model/layer/f32/name" -> milliseconds
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) {
      if (r.error_occurred) continue;
      const bool median = r.run_type == Run::RT_Aggregate && r.aggregate_name == "median";
      if (r.run_type == Run::RT_Iteration || median) ms[r.run_name.function_name] = r.GetAdjustedRealTime();
    }
    ConsoleReporter::ReportRuns(runs);
  }
};

/// The int8 primitive's f32 counterpart (the same algorithm), for the second ratio.
std::string counterpart(const std::string& int8_name) {
  if (int8_name == "im2col_u8s8") return "im2col_gemm";
  if (int8_name == "conv1x1_u8s8") return "conv1x1_gemm";
  if (int8_name == "depthwise_u8s8") return "depthwise_nchwc";
  return {};
}

void summarise(const std::vector<Layer>& layers, const std::map<std::string, double>& ms) {
  std::printf("\n%-14s %-44s %-16s %9s %-15s %9s %6s   %s\n", "model", "layer", "best f32", "ms", "best int8", "ms",
              "ratio", "int8 vs its f32 counterpart");
  for (const Layer& l : layers) {
    const std::string pre = prefix(l);
    std::string best[2];
    double best_ms[2] = {0, 0};
    std::string same;
    for (const auto& [name, t] : ms) {
      if (name.rfind(pre, 0) != 0) continue;
      const std::string rest = name.substr(pre.size());
      const int k = rest.rfind("int8/", 0) == 0 ? 1 : 0;
      const std::string prim = rest.substr(rest.find('/') + 1);
      if (best[k].empty() || t < best_ms[k]) best[k] = prim, best_ms[k] = t;
      if (k == 1) {
        const auto f = ms.find(pre + "f32/" + counterpart(prim));
        if (f != ms.end()) {
          char buf[96];
          std::snprintf(buf, sizeof buf, "%s%s %.2fx", same.empty() ? "" : ", ", prim.c_str(), f->second / t);
          same += buf;
        }
      }
    }
    if (best[0].empty() || best[1].empty()) continue;
    std::printf("%-14s %-44s %-16s %9.4f %-15s %9.4f %5.2fx   %s\n", l.model.c_str(), to_string(l.desc).c_str(),
                best[0].c_str(), best_ms[0], best[1].c_str(), best_ms[1], best_ms[0] / best_ms[1], same.c_str());
  }
}
}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  std::vector<Layer> layers;  // outlives registration and the runs
  for (const char* model : {"resnet18", "mobilenet_v2"})
    for (Layer& l : conv_layers(model)) layers.push_back(std::move(l));
  register_all(layers);
  Collector collector;
  benchmark::RunSpecifiedBenchmarks(&collector);
  summarise(layers, collector.ms);
  benchmark::Shutdown();
  return 0;
}
