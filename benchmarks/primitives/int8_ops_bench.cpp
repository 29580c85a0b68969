// The u8 NHWC non-convolution ops (primitives/int8/ops_u8.hpp) against their f32 counterparts in ops/ on the
// same shapes, single-threaded: resnet18's residual Add (+Relu) and stem MaxPool 3x3s2, its GlobalAveragePool,
// mobilenet_v2's residual Add, a two-way Concat, and a standalone Relu6. f32 runs in nhwc (the u8 layout) and, for the
// pools, also nchw16c (the blocked layout convolutions hand it). u8 runs with equal in/out parameters (copy / clamp
// paths) and different ones (the requantisation paths). Counter: bytes/s of tensor data read and written — these
// ops are memory-bound, so u8 should win by moving a quarter of the bytes. Also the zoo classifiers at batch 1
// (mobilenet_v2 1280x1000, resnet18 512x1000, vgg16's 25088x4096 and 4096x4096): FullyConnected (f32) against
// FullyConnectedU8S8 (s8 weights, rows quantised per call), counting the weight bytes each streams. A table of the
// medians follows the runs.
//   ./build/benchmarks/int8_ops_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "primsel/core/layout_convert.hpp"
#include "primsel/core/random.hpp"
#include "primsel/primitives/int8/fully_connected_u8s8.hpp"
#include "primsel/primitives/int8/ops_u8.hpp"
#include "primsel/primitives/ops/concat.hpp"
#include "primsel/primitives/ops/eltwise.hpp"
#include "primsel/primitives/ops/pooling.hpp"

namespace {
using namespace primsel;

constexpr Format u8_format{Layout::nhwc, DType::u8};
constexpr QuantParams qx{0.031f, 9}, qb{0.047f, 131}, qy{0.052f, 3};  // typical, distinct parameter sets

Tensor random_u8(Shape s, QuantParams q, std::uint64_t seed) {
  Tensor t(s, u8_format, q);
  Rng rng(seed);
  for (std::size_t i = 0; i < t.size_bytes(); ++i)
    t.data<std::uint8_t>()[i] = static_cast<std::uint8_t>(rng.below(256));
  return t;
}

Tensor random_f32(Shape s, Layout l, std::uint64_t seed) {
  Tensor t(s);
  Rng rng(seed);
  for (float& v : t.floats()) v = static_cast<float>(rng.uniform(-4.0, 4.0));
  return to_layout(t, l).value();
}

/// Runs `body` and reports bytes/s for `bytes` of tensor traffic per iteration.
void loop(benchmark::State& state, std::size_t bytes, const std::function<void()>& body) {
  for (auto _ : state) {
    body();
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes));
}

void fail_unless(benchmark::State& state, const Status& s) {
  if (!s) state.SkipWithError(s.error().what());
}

// ---- the cases ----

void add_f32(benchmark::State& state, Shape s, Activation act) {
  Tensor a = random_f32(s, Layout::nhwc, 1), b = random_f32(s, Layout::nhwc, 2), y(s, {Layout::nhwc});
  fail_unless(state, ops::Add::check(a, b, y, act));
  loop(state, 3 * a.size_bytes(), [&] { ops::Add::run(a, b, y, act, nullptr); });
}

void add_u8(benchmark::State& state, Shape s, Activation act) {
  Tensor a = random_u8(s, qx, 1), b = random_u8(s, qb, 2), y(s, u8_format, qy);
  fail_unless(state, ops::AddU8::check(a, b, y, act));
  loop(state, 3 * a.size_bytes(), [&] { ops::AddU8::run(a, b, y, act, nullptr); });
}

const PoolParams stem_pool{.kernel = {3, 3}, .stride = {2, 2}, .pads = {1, 1, 1, 1}};

void max_pool_f32(benchmark::State& state, Shape s, Layout l) {
  Tensor x = random_f32(s, l, 3), y(ops::pool_output_shape(s, stem_pool).value(), {l});
  fail_unless(state, ops::MaxPool::check(x, stem_pool, y));
  loop(state, x.size_bytes() + y.size_bytes(), [&] { ops::MaxPool::run(x, stem_pool, y, nullptr); });
}

void max_pool_u8(benchmark::State& state, Shape s, bool same) {
  Tensor x = random_u8(s, qx, 3), y(ops::pool_output_shape(s, stem_pool).value(), u8_format, same ? qx : qy);
  fail_unless(state, ops::MaxPoolU8::check(x, stem_pool, y));
  loop(state, x.size_bytes() + y.size_bytes(), [&] { ops::MaxPoolU8::run(x, stem_pool, y, nullptr); });
}

void gap_f32(benchmark::State& state, Shape s, Layout l) {
  Tensor x = random_f32(s, l, 4), y({s.n(), s.c(), 1, 1}, {l});
  fail_unless(state, ops::GlobalAveragePool::check(x, y));
  loop(state, x.size_bytes() + y.size_bytes(), [&] { ops::GlobalAveragePool::run(x, y, nullptr); });
}

void gap_u8(benchmark::State& state, Shape s) {
  Tensor x = random_u8(s, qx, 4), y({s.n(), s.c(), 1, 1}, u8_format, qy);
  fail_unless(state, ops::GlobalAveragePoolU8::check(x, y));
  loop(state, x.size_bytes() + y.size_bytes(), [&] { ops::GlobalAveragePoolU8::run(x, y, nullptr); });
}

void concat_f32(benchmark::State& state, Shape part) {
  Tensor a = random_f32(part, Layout::nhwc, 5), b = random_f32(part, Layout::nhwc, 6);
  Tensor y({part.n(), 2 * part.c(), part.h(), part.w()}, {Layout::nhwc});
  const ConstTensorView xs[] = {a.view(), b.view()};
  fail_unless(state, ops::Concat::check(xs, y));
  loop(state, 2 * y.size_bytes(), [&] { ops::Concat::run(xs, y, nullptr); });
}

void concat_u8(benchmark::State& state, Shape part, bool same) {
  Tensor a = random_u8(part, qx, 5), b = random_u8(part, same ? qx : qb, 6);
  Tensor y({part.n(), 2 * part.c(), part.h(), part.w()}, u8_format, qx);
  const ConstTensorView xs[] = {a.view(), b.view()};
  fail_unless(state, ops::ConcatU8::check(xs, y));
  loop(state, 2 * y.size_bytes(), [&] { ops::ConcatU8::run(xs, y, nullptr); });
}

void relu6_f32(benchmark::State& state, Shape s) {
  Tensor x = random_f32(s, Layout::nhwc, 7), y(s, {Layout::nhwc});
  fail_unless(state, ops::Clamp::check(x, y, Activation::relu6()));
  loop(state, 2 * x.size_bytes(), [&] { ops::Clamp::run(x, y, Activation::relu6(), nullptr); });
}

void relu6_u8(benchmark::State& state, Shape s, bool same) {
  Tensor x = random_u8(s, qx, 7), y(s, u8_format, same ? qx : qy);
  fail_unless(state, ops::ClampU8::check(x, y, Activation::relu6()));
  loop(state, 2 * x.size_bytes(), [&] { ops::ClampU8::run(x, y, Activation::relu6(), nullptr); });
}

/// A classifier layer [1, in] -> [1, out] with bias: the f32 layer, or int8 weights (quantised from the same f32).
void fully_connected(benchmark::State& state, std::int64_t in, std::int64_t out, bool int8) {
  Tensor x({1, in}), w({out, in}), b({out}), y({1, out});
  Rng rng(8);
  for (Tensor* t : {&x, &w, &b})
    for (float& v : t->floats()) v = static_cast<float>(rng.uniform(-1.0, 1.0));
  auto run = [&](const auto& plan, auto op) {
    Tensor ws({static_cast<std::int64_t>(op.workspace_bytes(plan, 1, 1) / 4 + 1)});
    const Context ctx{nullptr, {reinterpret_cast<std::byte*>(ws.bytes()), ws.size_bytes()}};
    fail_unless(state, op.check(plan, x, y, ctx));
    loop(state, static_cast<std::size_t>(in * out) * (int8 ? 1 : 4), [&] { op.run(plan, x, y, ctx); });
  };
  if (int8) {
    auto plan = ops::FullyConnectedU8S8::plan(w, b);
    if (!plan) return state.SkipWithError(plan.error().what());
    run(*plan, ops::FullyConnectedU8S8{});
  } else {
    auto plan = ops::FullyConnected::plan(w, b);
    if (!plan) return state.SkipWithError(plan.error().what());
    run(*plan, ops::FullyConnected{});
  }
}

/// The integer product alone at batch 1, as the matrix-vector kernel and as the GEMM (whose MR-row tile multiplies
/// MR - 1 zero rows): why FullyConnectedU8S8 has its own kernel for small batches.
void u8s8_product(benchmark::State& state, std::int64_t in, std::int64_t out, bool gemv) {
  Tensor w({out, in});
  Rng rng(9);
  for (float& v : w.floats()) v = static_cast<float>(rng.uniform(-1.0, 1.0));
  auto plan = ops::FullyConnectedU8S8::plan(w);
  if (!plan) return state.SkipWithError(plan.error().what());
  const gemm::PackedU8S8B& b = plan->weights;
  if (gemv && !kernels::u8s8_gemv_available(b.kernel().nr)) return state.SkipWithError("no GEMV on this target");
  std::vector<std::uint8_t> x(static_cast<std::size_t>(b.k4() * 4), 77);
  std::vector<std::int32_t> acc(static_cast<std::size_t>(out));
  Tensor ws({static_cast<std::int64_t>(gemm::u8s8_workspace_bytes(1, in, b.kernel(), 1) / 4 + 1)});
  const std::int64_t panels = (out + b.kernel().nr - 1) / b.kernel().nr;
  loop(state, static_cast<std::size_t>(in * out), [&] {
    if (gemv)
      kernels::u8s8_gemv(1, b.kernel().nr, b.k4(), x.data(), b.k4() * 4, b.data(), out, 0, panels, acc.data(), out);
    else
      gemm::gemm_u8s8({x.data(), b.k4() * 4}, 1, 0, b, gemm::U8S8Output{acc.data(), nullptr, out}, nullptr,
                      {reinterpret_cast<std::byte*>(ws.bytes()), ws.size_bytes()});
  });
}

/// "case/variant" -> benchmark body; the case is the row of the summary table, the variant its column.
struct Entry {
  std::string name;
  std::function<void(benchmark::State&)> fn;
};

std::vector<Entry> entries() {
  const Shape res_add{1, 64, 56, 56}, mb_add{1, 24, 56, 56}, stem{1, 64, 112, 112}, gap{1, 512, 7, 7};
  const Activation relu = Activation::relu(), none = Activation::none();
  return {
      {"resnet18_add_relu_1x64x56x56/f32_nhwc", [=](auto& s) { add_f32(s, res_add, relu); }},
      {"resnet18_add_relu_1x64x56x56/u8", [=](auto& s) { add_u8(s, res_add, relu); }},
      {"mobilenet_v2_add_1x24x56x56/f32_nhwc", [=](auto& s) { add_f32(s, mb_add, none); }},
      {"mobilenet_v2_add_1x24x56x56/u8", [=](auto& s) { add_u8(s, mb_add, none); }},
      {"maxpool_3x3s2_1x64x112x112/f32_nhwc", [=](auto& s) { max_pool_f32(s, stem, Layout::nhwc); }},
      {"maxpool_3x3s2_1x64x112x112/f32_nchw16c", [=](auto& s) { max_pool_f32(s, stem, Layout::nchw16c); }},
      {"maxpool_3x3s2_1x64x112x112/u8_same", [=](auto& s) { max_pool_u8(s, stem, true); }},
      {"maxpool_3x3s2_1x64x112x112/u8_requant", [=](auto& s) { max_pool_u8(s, stem, false); }},
      {"gap_1x512x7x7/f32_nhwc", [=](auto& s) { gap_f32(s, gap, Layout::nhwc); }},
      {"gap_1x512x7x7/f32_nchw16c", [=](auto& s) { gap_f32(s, gap, Layout::nchw16c); }},
      {"gap_1x512x7x7/u8", [=](auto& s) { gap_u8(s, gap); }},
      {"concat_2x1x64x56x56/f32_nhwc", [=](auto& s) { concat_f32(s, res_add); }},
      {"concat_2x1x64x56x56/u8_same", [=](auto& s) { concat_u8(s, res_add, true); }},
      {"concat_2x1x64x56x56/u8_requant", [=](auto& s) { concat_u8(s, res_add, false); }},
      {"relu6_1x64x56x56/f32_nhwc", [=](auto& s) { relu6_f32(s, res_add); }},
      {"relu6_1x64x56x56/u8_same", [=](auto& s) { relu6_u8(s, res_add, true); }},
      {"relu6_1x64x56x56/u8_requant", [=](auto& s) { relu6_u8(s, res_add, false); }},
      {"fc_mobilenet_v2_1280x1000/f32", [=](auto& s) { fully_connected(s, 1280, 1000, false); }},
      {"fc_mobilenet_v2_1280x1000/s8_weights", [=](auto& s) { fully_connected(s, 1280, 1000, true); }},
      {"fc_mobilenet_v2_1280x1000/s8_product_gemv", [=](auto& s) { u8s8_product(s, 1280, 1000, true); }},
      {"fc_mobilenet_v2_1280x1000/s8_product_gemm", [=](auto& s) { u8s8_product(s, 1280, 1000, false); }},
      {"fc_resnet18_512x1000/f32", [=](auto& s) { fully_connected(s, 512, 1000, false); }},
      {"fc_resnet18_512x1000/s8_weights", [=](auto& s) { fully_connected(s, 512, 1000, true); }},
      {"fc_vgg16_4096x4096/f32", [=](auto& s) { fully_connected(s, 4096, 4096, false); }},
      {"fc_vgg16_4096x4096/s8_weights", [=](auto& s) { fully_connected(s, 4096, 4096, true); }},
      {"fc_vgg16_25088x4096/f32", [=](auto& s) { fully_connected(s, 25088, 4096, false); }},
      {"fc_vgg16_25088x4096/s8_weights", [=](auto& s) { fully_connected(s, 25088, 4096, true); }},
  };
}

/// Keeps each benchmark's time (the median when repeated) for the summary table.
class Collector : public benchmark::ConsoleReporter {
 public:
  std::map<std::string, double> us;  // "case/variant" -> microseconds
  std::vector<std::string> order;
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) {
      if (r.error_occurred) continue;
      const bool median = r.run_type == Run::RT_Aggregate && r.aggregate_name == "median";
      if (r.run_type != Run::RT_Iteration && !median) continue;
      const std::string& name = r.run_name.function_name;
      if (!us.count(name)) order.push_back(name);
      us[name] = r.GetAdjustedRealTime();
    }
    ConsoleReporter::ReportRuns(runs);
  }
};

/// Per case: the f32 time (nhwc for the layout-preserving ops), then each other variant's time and its speed-up.
void summarise(const Collector& c) {
  std::printf("\n%-32s %-14s %10s %9s\n", "case", "variant", "us", "vs f32");
  for (const std::string& name : c.order) {
    const std::string row = name.substr(0, name.find('/')), variant = name.substr(name.find('/') + 1);
    auto base = c.us.find(row + "/f32_nhwc");
    if (base == c.us.end()) base = c.us.find(row + "/f32");
    const double t = c.us.at(name);
    if (base == c.us.end())
      std::printf("%-32s %-14s %10.2f\n", row.c_str(), variant.c_str(), t);
    else
      std::printf("%-32s %-14s %10.2f %8.2fx\n", row.c_str(), variant.c_str(), t, base->second / t);
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  for (const Entry& e : entries())
    benchmark::RegisterBenchmark(e.name.c_str(), e.fn)->Unit(benchmark::kMicrosecond)->UseRealTime()->MinTime(0.2);
  Collector collector;
  benchmark::RunSpecifiedBenchmarks(&collector);
  summarise(collector);
  benchmark::Shutdown();
  return 0;
}
