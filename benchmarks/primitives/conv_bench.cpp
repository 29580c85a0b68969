// Every convolution primitive of the default list on every distinct conv layer of resnet18, vgg16 and
// mobilenet_v2 (after BN folding and activation fusion, as the network runs them), single-threaded unless
// --threads is given via the "threads" argument. Counters: GFLOPS (direct-conv FLOPs / time, so transform-based
// primitives show their effective rate), peak_frac (of the single-core FMA peak measured at start-up, times threads)
// and, single-threaded, paired_peak_frac (against a peak re-measured beside each call: read this one on a shared
// machine).
// Built against oneDNN (Debian's libdnnl-dev, found by CMake when installed) it also runs oneDNN's convolution
// (algorithm auto, layouts of its choosing, same fused activation) on every layer as "onednn", for comparison.
// Run it with OMP_WAIT_POLICY=passive: oneDNN's OpenMP workers otherwise spin after each of its runs and steal the
// core the next benchmark uses (measured: primsel's kernels lost up to 35% in a full run).
//   ./build/benchmarks/conv_bench --benchmark_filter=resnet18 --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "primsel/core/cpu.hpp"
#include "primsel/core/layout_convert.hpp"
#include "primsel/graph/conv_desc.hpp"
#include "primsel/graph/passes.hpp"
#include "primsel/primitives/default_primitives.hpp"
#include "primsel/zoo/zoo.hpp"
#include "zoo_conv_layers.hpp"
#include "bench_stats.hpp"

#if PRIMSEL_HAVE_DNNL
#include <omp.h>

#include <oneapi/dnnl/dnnl.hpp>
#endif

namespace {
using namespace primsel;

double peak() {
  static const double p = measure_peak_gflops(0.5);
  return p;
}

using Layer = bench::ZooConvLayer;

/// The fraction of peak with the peak re-measured beside each call: a shared machine's clock follows the other
/// tenants' load (the peak reads 140-160 GFLOP/s minutes apart here), which a peak measured once at start-up
/// books to the kernel. After the timed loop, 15 pairs of (one call, FMAs for as long); the median of the ratios.
/// Counted for one thread only (the peak is a single core's).
template <class Call>
void paired_peak_frac(benchmark::State& state, double flops_per_call, int threads, Call&& call) {
  if (threads != 1) return;
  std::vector<double> ratios;
  for (int i = 0; i < 15; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    call();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ratios.push_back(flops_per_call / s / 1e9 / measure_peak_gflops(std::max(s, 0.005)));
  }
  state.counters["paired_peak_frac"] = bench::median(std::move(ratios));
}

/// Distinct conv layers of a zoo model, in network order.
std::vector<Layer> conv_layers(const char* model) { return bench::zoo_conv_layers(model); }

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
  paired_peak_frac(state, 2.0 * static_cast<double>(d.macs()), threads, [&] { P::run(*plan, in.view(), out.view(), ctx); });
  const double flops = 2.0 * static_cast<double>(d.macs()) * static_cast<double>(state.iterations());
  state.counters["GFLOPS"] = benchmark::Counter(flops / 1e9, benchmark::Counter::kIsRate);
  state.counters["peak_frac"] = benchmark::Counter(flops / 1e9 / (peak() * threads), benchmark::Counter::kIsRate);
}

#if PRIMSEL_HAVE_DNNL
/// oneDNN's forward-inference convolution on the same layer: src/weights/dst in the formats oneDNN prefers
/// (reordered once, outside the timing), bias and activation fused, `threads` OpenMP threads.
void run_onednn(benchmark::State& state, const Layer& layer, int threads) {
  using namespace dnnl;
  using dims = memory::dims;
  const ConvDesc& d = layer.desc;
  omp_set_num_threads(threads);
  engine eng(engine::kind::cpu, 0);
  stream strm(eng);
  const auto f32 = memory::data_type::f32;
  const dims src_dims{d.n, d.ic, d.ih, d.iw}, dst_dims{d.n, d.oc, d.oh, d.ow};
  const dims w_dims = d.groups == 1 ? dims{d.oc, d.ic, d.kh, d.kw}
                                    : dims{d.groups, d.oc / d.groups, d.ic / d.groups, d.kh, d.kw};
  const memory::desc src_any(src_dims, f32, memory::format_tag::any), w_any(w_dims, f32, memory::format_tag::any),
      dst_any(dst_dims, f32, memory::format_tag::any), bias_md({d.oc}, f32, memory::format_tag::x);
  convolution_forward::desc desc(prop_kind::forward_inference, algorithm::convolution_auto, src_any, w_any,
                                 d.has_bias ? bias_md : memory::desc(), dst_any, dims{d.sh, d.sw},
                                 dims{d.dh - 1, d.dw - 1}, dims{d.pads.top, d.pads.left},
                                 dims{d.pads.bottom, d.pads.right});
  primitive_attr attr;
  if (!d.activation.is_none()) {
    post_ops ops;
    ops.append_eltwise(1.0f, algorithm::eltwise_clip, d.activation.lo, d.activation.hi);
    attr.set_post_ops(ops);
  }
  convolution_forward::primitive_desc pd(desc, attr, eng);
  Tensor x = zoo::random_input({d.n, d.ic, d.ih, d.iw}, 1);
  memory user_src({src_dims, f32, memory::format_tag::nchw}, eng, x.data<float>());
  memory user_w({w_dims, f32, d.groups == 1 ? memory::format_tag::oihw : memory::format_tag::goihw}, eng,
                const_cast<float*>(layer.weight.data<float>()));
  memory src(pd.src_desc(), eng), weights(pd.weights_desc(), eng), dst(pd.dst_desc(), eng);
  reorder(user_src, src).execute(strm, user_src, src);
  reorder(user_w, weights).execute(strm, user_w, weights);
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DST, dst}};
  if (d.has_bias)
    args.emplace(DNNL_ARG_BIAS, memory(bias_md, eng, const_cast<float*>(layer.bias.data<float>())));
  convolution_forward conv(pd);
  for (auto _ : state) {
    conv.execute(strm, args);
    strm.wait();
  }
  paired_peak_frac(state, 2.0 * static_cast<double>(d.macs()), threads, [&] {
    conv.execute(strm, args);
    strm.wait();
  });
  const double flops = 2.0 * static_cast<double>(d.macs()) * static_cast<double>(state.iterations());
  state.counters["GFLOPS"] = benchmark::Counter(flops / 1e9, benchmark::Counter::kIsRate);
  state.counters["peak_frac"] = benchmark::Counter(flops / 1e9 / (peak() * threads), benchmark::Counter::kIsRate);
  state.SetLabel(pd.impl_info_str());
}
#endif

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
#if PRIMSEL_HAVE_DNNL
    for (const Layer& layer : layers[model])
      for (int threads : {1, 2}) {
        const std::string name = std::string(model) + "/" + to_string(layer.desc) + "/onednn/threads:" +
                                 std::to_string(threads);
        benchmark::RegisterBenchmark(name.c_str(), [&layer, threads](benchmark::State& s) {
          run_onednn(s, layer, threads);
        })->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(0.2);
      }
#endif
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
