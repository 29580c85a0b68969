// SGEMM: primsel's packed GEMM vs Eigen at 1024^3 and at conv-shaped problems, 1 and 2 threads, in GFLOP/s and
// as a fraction of the measured single-core FMA peak (counters "GFLOPS" and "peak_frac"; with T threads the
// fraction is of T x the single-core peak). Run:
//   ./build/benchmarks/gemm_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
// On a shared machine prefer the paired counters: BM_sgemm_paired_peak's "paired_peak_frac" and
// BM_sgemm_vs_eigen's "eigen_over_ours" (each iteration times both sides back to back).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "primsel/core/cpu.hpp"
#include "primsel/core/random.hpp"
#include "primsel/primitives/gemm/eigen_gemm.hpp"
#include "primsel/primitives/gemm/sgemm.hpp"
#include "bench_stats.hpp"

namespace {
using namespace primsel;

double peak() {
  static const double p = measure_peak_gflops(0.5);
  return p;
}

struct Problem {
  std::int64_t m, n, k;
  std::vector<float> a, b, c;
  explicit Problem(std::int64_t m_, std::int64_t n_, std::int64_t k_) : m(m_), n(n_), k(k_) {
    Rng rng(1);
    a.resize(static_cast<std::size_t>(m * k));
    b.resize(static_cast<std::size_t>(k * n));
    c.resize(static_cast<std::size_t>(m * n));
    for (float& x : a) x = static_cast<float>(rng.uniform(-1, 1));
    for (float& x : b) x = static_cast<float>(rng.uniform(-1, 1));
  }
};

void report(benchmark::State& state, const Problem& p, int threads) {
  const double flops = 2.0 * static_cast<double>(p.m * p.n * p.k);
  state.counters["GFLOPS"] = benchmark::Counter(flops * static_cast<double>(state.iterations()) / 1e9,
                                                benchmark::Counter::kIsRate);
  state.counters["peak_frac"] = benchmark::Counter(
      flops * static_cast<double>(state.iterations()) / 1e9 / (peak() * threads), benchmark::Counter::kIsRate);
}

void BM_sgemm(benchmark::State& state) {
  Problem p(state.range(0), state.range(1), state.range(2));
  const int threads = static_cast<int>(state.range(3));
  ThreadPool pool(threads);
  auto packed = gemm::PackedA::pack({p.a.data(), p.k}, p.m, p.k).value();  // weights: packed once, as conv plans do
  Tensor ws({static_cast<std::int64_t>(gemm::packed_workspace_bytes(threads) / 4)});
  for (auto _ : state) {
    gemm::sgemm_packed(packed.data(), p.m, p.k, {p.b.data(), p.n}, p.n, p.c.data(), p.n, {}, &pool,
                       {ws.bytes(), ws.size_bytes()});
    benchmark::ClobberMemory();
  }
  report(state, p, threads);
}

void BM_sgemm_unpacked(benchmark::State& state) {
  Problem p(state.range(0), state.range(1), state.range(2));
  Tensor ws({static_cast<std::int64_t>(gemm::workspace_bytes(p.m, p.k, 1) / 4 + 16)});
  for (auto _ : state) {
    gemm::sgemm(p.m, p.n, p.k, {p.a.data(), p.k}, {p.b.data(), p.n}, p.c.data(), p.n, {}, nullptr,
                {ws.bytes(), ws.size_bytes()});
    benchmark::ClobberMemory();
  }
  report(state, p, 1);
}

void BM_eigen(benchmark::State& state) {
  Problem p(state.range(0), state.range(1), state.range(2));
  for (auto _ : state) {
    gemm::eigen_sgemm(p.m, p.n, p.k, {p.a.data(), p.k}, {p.b.data(), p.n}, p.c.data(), p.n, {});
    benchmark::ClobberMemory();
  }
  report(state, p, 1);
}

void BM_peak_fma(benchmark::State& state) {
  double g = 0;
  for (auto _ : state) g = measure_peak_gflops(0.1);
  state.counters["GFLOPS"] = g;
  state.SetLabel(std::string(simd::isa));
}

/// primsel's GEMM on one thread with A packed once (as conv plans pack their weights), timed call by call.
struct TimedSgemm {
  ThreadPool pool{1};
  gemm::PackedA packed;
  Tensor ws{{static_cast<std::int64_t>(gemm::packed_workspace_bytes(1) / 4)}};
  explicit TimedSgemm(const Problem& p) : packed(gemm::PackedA::pack({p.a.data(), p.k}, p.m, p.k).value()) {}
  double seconds(Problem& p) {
    const auto t0 = std::chrono::steady_clock::now();
    gemm::sgemm_packed(packed.data(), p.m, p.k, {p.b.data(), p.n}, p.n, p.c.data(), p.n, {}, &pool,
                       {ws.bytes(), ws.size_bytes()});
    benchmark::ClobberMemory();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
};

using bench::median;

// The fraction of peak with the peak re-measured next to every GEMM call: on a shared machine the core's clock
// follows its neighbours' load (the peak itself reads 140-160 GFLOP/s minutes apart), so a GEMM rate divided by
// a peak measured once at start-up says more about the drift than about the kernel. Each iteration times one
// call and then ~20 ms of FMAs; "paired_peak_frac" is the median of the per-iteration ratios.
void BM_sgemm_paired_peak(benchmark::State& state) {
  Problem p(state.range(0), state.range(1), state.range(2));
  TimedSgemm ours(p);
  const double flops = 2.0 * static_cast<double>(p.m * p.n * p.k);
  std::vector<double> ratios;
  for (auto _ : state) {
    const double s = ours.seconds(p);
    state.SetIterationTime(s);
    ratios.push_back(flops / s / 1e9 / measure_peak_gflops(0.02));
  }
  state.counters["paired_peak_frac"] = median(std::move(ratios));
  state.counters["GFLOPS"] = benchmark::Counter(flops * static_cast<double>(state.iterations()) / 1e9,
                                                benchmark::Counter::kIsRate);
}

// primsel's packed GEMM and Eigen's, called alternately on the same operands: "eigen_over_ours" is the median of
// the per-iteration time ratios (> 1: ours is faster), which the load drift of a shared machine does not bias.
void BM_sgemm_vs_eigen(benchmark::State& state) {
  Problem p(state.range(0), state.range(1), state.range(2));
  TimedSgemm ours(p);
  std::vector<float> c2(p.c.size());
  std::vector<double> ratios;
  for (auto _ : state) {
    const double s = ours.seconds(p);
    const auto t0 = std::chrono::steady_clock::now();
    gemm::eigen_sgemm(p.m, p.n, p.k, {p.a.data(), p.k}, {p.b.data(), p.n}, c2.data(), p.n, {});
    benchmark::ClobberMemory();
    state.SetIterationTime(s);
    ratios.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / s);
  }
  state.counters["eigen_over_ours"] = median(std::move(ratios));
}

// {M, N, K}: square 1024; resnet18 layer1 3x3 as im2col GEMM (64 x 3136 x 576); layer4 3x3 (512 x 49 x 4608);
// a 1x1 conv (256 x 784 x 128).
const std::vector<std::vector<std::int64_t>> shapes = {{1024, 1024, 1024}, {64, 3136, 576}, {512, 49, 4608}, {256, 784, 128}};

void args(benchmark::internal::Benchmark* b, bool threads) {
  for (const auto& s : shapes)
    for (std::int64_t t : threads ? std::vector<std::int64_t>{1, 2} : std::vector<std::int64_t>{1}) {
      std::vector<std::int64_t> a = s;
      if (threads) a.push_back(t);
      b->Args(a);
    }
  b->Unit(benchmark::kMillisecond)->UseRealTime();
}
}  // namespace

BENCHMARK(BM_peak_fma)->Iterations(5);
BENCHMARK(BM_sgemm_paired_peak)->Args({1024, 1024, 1024})->ArgNames({"M", "N", "K"})->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_sgemm_vs_eigen)
    ->Apply([](auto* b) {
      for (const auto& s : shapes) b->Args(s);
    })
    ->ArgNames({"M", "N", "K"})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_sgemm)->Apply([](auto* b) { args(b, true); })->ArgNames({"M", "N", "K", "threads"});
BENCHMARK(BM_sgemm_unpacked)->Apply([](auto* b) { args(b, false); })->ArgNames({"M", "N", "K"});
BENCHMARK(BM_eigen)->Apply([](auto* b) { args(b, false); })->ArgNames({"M", "N", "K"});
BENCHMARK_MAIN();
