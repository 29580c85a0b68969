// u8 x s8 GEMM vs the fp32 SGEMM on the same problems: 1024^3 and resnet18's convolutions as GEMMs (3x3 via
// im2col: M = HW, N = OC, K = IC * 9; 1x1 downsamples: K = IC), 1 and 2 threads, in GOP/s (counter "GOPS",
// 2 * M * N * K per run). The int8 GEMM runs as a quantised conv would: weights packed once, activations packed
// per call (BM_u8s8) or already packed (BM_u8s8_prepacked: the cost a conv that writes its im2col buffer in
// packed order pays), requantised to u8. The fp32 GEMM runs as primsel's conv primitives call it: weights as the
// packed A (OC x K), activations as B (K x HW). Run:
//   ./build/benchmarks/gemm_u8s8_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <vector>

#include "primsel/core/random.hpp"
#include "primsel/primitives/gemm/gemm_u8s8.hpp"
#include "primsel/primitives/gemm/sgemm.hpp"

namespace {
using namespace primsel;

struct Problem {
  std::int64_t m, n, k;  // M = HW, N = OC
  std::vector<std::uint8_t> a;
  std::vector<std::int8_t> b;
  std::vector<std::uint8_t> c;
  gemm::PackedU8S8B packed;
  gemm::U8S8OutputStage stage;
  Problem(std::int64_t m_, std::int64_t n_, std::int64_t k_, const kernels::U8S8Ukernel& kernel)
      : m(m_),
        n(n_),
        k(k_),
        a(static_cast<std::size_t>(m * k)),
        b(static_cast<std::size_t>(k * n)),
        c(static_cast<std::size_t>(m * n)) {
    Rng rng(1);
    for (auto& x : a) x = static_cast<std::uint8_t>(rng.below(static_cast<std::uint32_t>(kernel.a_range.hi) + 1));
    for (auto& w : b) w = static_cast<std::int8_t>(static_cast<int>(rng.below(255)) - 127);
    packed = gemm::PackedU8S8B::pack({b.data(), n}, k, n, kernel).value();
    const std::vector<float> w_scales(static_cast<std::size_t>(n), 0.01f), bias(static_cast<std::size_t>(n), 0.1f);
    stage = gemm::U8S8OutputStage::create(0.02f, w_scales, {0.05f, 10}, bias, 0.0f).value();  // fused Relu
  }
};

void report(benchmark::State& state, std::int64_t m, std::int64_t n, std::int64_t k) {
  state.counters["GOPS"] =
      benchmark::Counter(2.0 * static_cast<double>(m * n * k) * static_cast<double>(state.iterations()) / 1e9,
                         benchmark::Counter::kIsRate);
}

const kernels::U8S8Ukernel& kernel_arg(std::int64_t i) { return kernels::u8s8_kernels[static_cast<std::size_t>(i)]; }

void BM_u8s8(benchmark::State& state) {
  const auto& kr = kernel_arg(state.range(4));
  Problem p(state.range(0), state.range(1), state.range(2), kr);
  const int threads = static_cast<int>(state.range(3));
  ThreadPool pool(threads);
  Tensor ws({static_cast<std::int64_t>(gemm::u8s8_workspace_bytes(p.m, p.k, kr, threads) / 4 + 1)});
  for (auto _ : state) {
    gemm::gemm_u8s8({p.a.data(), p.k}, p.m, 128, p.packed, p.stage.output(p.c.data(), p.n), &pool,
                    {ws.bytes(), ws.size_bytes()});
    benchmark::ClobberMemory();
  }
  report(state, p.m, p.n, p.k);
  state.SetLabel(std::string(kr.name));
}

void BM_u8s8_prepacked(benchmark::State& state) {
  const auto& kr = kernels::u8s8_default_ukernel;
  Problem p(state.range(0), state.range(1), state.range(2), kr);
  const int threads = static_cast<int>(state.range(3));
  ThreadPool pool(threads);
  std::vector<std::uint8_t> a_packed(gemm::u8s8_packed_a_bytes(p.m, p.k, kr));
  gemm::pack_a_u8({p.a.data(), p.k}, p.m, p.k, kr, a_packed.data());
  Tensor ws({static_cast<std::int64_t>(gemm::u8s8_packed_workspace_bytes(kr, threads) / 4 + 1)});
  for (auto _ : state) {
    gemm::gemm_u8s8_packed(a_packed.data(), p.m, p.packed, 128, p.stage.output(p.c.data(), p.n), &pool,
                           {ws.bytes(), ws.size_bytes()});
    benchmark::ClobberMemory();
  }
  report(state, p.m, p.n, p.k);
  state.SetLabel(std::string(kr.name));
}

void BM_sgemm(benchmark::State& state) {
  // Conv orientation: C [OC x HW] = W [OC x K] * im2col [K x HW], weights packed once.
  const std::int64_t hw = state.range(0), oc = state.range(1), k = state.range(2);
  const int threads = static_cast<int>(state.range(3));
  Rng rng(1);
  std::vector<float> w(static_cast<std::size_t>(oc * k)), x(static_cast<std::size_t>(k * hw)),
      c(static_cast<std::size_t>(oc * hw));
  for (float& v : w) v = static_cast<float>(rng.uniform(-1, 1));
  for (float& v : x) v = static_cast<float>(rng.uniform(-1, 1));
  ThreadPool pool(threads);
  auto packed = gemm::PackedA::pack({w.data(), k}, oc, k).value();
  Tensor ws({static_cast<std::int64_t>(gemm::packed_workspace_bytes(threads) / 4)});
  const gemm::GemmEpilogue e{0.0f, w.data(), gemm::BiasAxis::rows, Activation::relu()};
  for (auto _ : state) {
    gemm::sgemm_packed(packed.data(), oc, k, {x.data(), hw}, hw, c.data(), hw, e, &pool, {ws.bytes(), ws.size_bytes()});
    benchmark::ClobberMemory();
  }
  report(state, hw, oc, k);
}

// {M = HW, N = OC, K}: square; resnet18 3x3 convs of layers 1-4 (im2col); the 1x1 downsamples of layers 2-4;
// mobilenet_v2's small-K 1x1 layers (output-stage bound: the kernels that requantise in registers win there).
const std::vector<std::vector<std::int64_t>> shapes = {
    {1024, 1024, 1024}, {3136, 64, 576}, {784, 128, 1152}, {196, 256, 2304}, {49, 512, 4608},
    {784, 128, 64},     {196, 256, 128}, {49, 512, 256},   {12544, 16, 32},  {12544, 96, 16},
    {3136, 24, 96},     {3136, 144, 24}, {784, 192, 32},   {196, 384, 64},   {49, 960, 160}};

void args(benchmark::internal::Benchmark* b, bool all_kernels) {
  for (const auto& s : shapes)
    for (std::int64_t t : {1, 2}) {
      std::vector<std::int64_t> a = s;
      a.push_back(t);
      if (!all_kernels) {
        b->Args(a);
        continue;
      }
      // Every compiled kernel single-threaded; the default one with 2 threads too.
      for (std::size_t i = 0; i < kernels::u8s8_kernels.size(); ++i)
        if (t == 1 || i == 0) {
          std::vector<std::int64_t> ak = a;
          ak.push_back(static_cast<std::int64_t>(i));
          b->Args(ak);
        }
    }
  b->Unit(benchmark::kMillisecond)->UseRealTime();
}
}  // namespace

BENCHMARK(BM_sgemm)->Apply([](auto* b) { args(b, false); }) -> ArgNames({"M", "N", "K", "threads"});
BENCHMARK(BM_u8s8)->Apply([](auto* b) { args(b, true); }) -> ArgNames({"M", "N", "K", "threads", "kernel"});
BENCHMARK(BM_u8s8_prepacked)->Apply([](auto* b) { args(b, false); }) -> ArgNames({"M", "N", "K", "threads"});
BENCHMARK_MAIN();
