// f32 GEMM micro-kernel, MR x (NV vectors): C[MR x NR] (+)= A_panel * B_panel over kc, BLIS-style. A is packed as
// kc columns of MR values, B as kc rows of NR = NV * simd::width values (both aligned). MR * NV accumulators stay
// in registers: 6 x 2 on AVX2 (12 of 16 ymm), 6 x 4 on AVX-512 and NEON (24 of 32). The epilogue adds beta * C,
// a bias per row or column, and clamps (fused Relu/Relu6).
#pragma once

#include <cstdint>

#include "primsel/core/simd.hpp"
#include "primsel/graph/op.hpp"

namespace primsel::kernels {

enum class BiasAxis : std::uint8_t { none, rows, columns };

/// What the GEMM does after accumulating: C = acc + beta * C_old (+ bias) then clamp. Applied by the kernel
/// that finishes the K loop; earlier K blocks accumulate into C.
struct GemmEpilogue {
  float beta = 0.0f;
  const float* bias = nullptr;  ///< indexed by global row or column, see axis
  BiasAxis axis = BiasAxis::none;
  Activation activation;
};

/// Where a tile sits in C, and which part of the K loop this call covers.
struct TileStep {
  std::int64_t row = 0, col = 0;  ///< global position of the tile (for bias)
  bool first = true;              ///< first K block: C_old counts with beta, not 1
  bool last = true;               ///< last K block: apply bias and clamp
};

/// PF > 0: each k step also prefetches PF cache lines from `prefetch` on into L2 (the next panel of a B that is
/// streamed from memory, see gemm::sgemm_prepacked_streamed); PF = 0 is the plain kernel.
template <int MR, int NV, int PF = 0>
inline void f32_gemm_ukernel(std::int64_t kc, const float* __restrict a, const float* __restrict b, float* c,
                             std::int64_t ldc, const GemmEpilogue& e, const TileStep& step,
                             const float* prefetch = nullptr) noexcept {
  using simd::FloatVec;
  constexpr std::int64_t W = static_cast<std::int64_t>(simd::width);
  constexpr std::int64_t NR = NV * W;
  FloatVec acc[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 16
    for (int v = 0; v < NV; ++v) acc[i][v] = simd::broadcast(0.0f);
  for (std::int64_t k = 0; k < kc; ++k) {
    if constexpr (PF > 0)
      for (int l = 0; l < PF; ++l) __builtin_prefetch(prefetch + (k * PF + l) * 16, 0, 2);  // 16 floats: one line
    FloatVec bv[NV];
#pragma GCC unroll 16
    for (int v = 0; v < NV; ++v) bv[v] = simd::load_aligned(b + k * NR + v * W);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const FloatVec av = simd::broadcast(a[k * MR + i]);
#pragma GCC unroll 16
      for (int v = 0; v < NV; ++v) acc[i][v] = simd::fma(av, bv[v], acc[i][v]);
    }
  }
  const FloatVec lo = simd::broadcast(e.activation.lo), hi = simd::broadcast(e.activation.hi);
  const bool apply_clamp = step.last && !e.activation.is_none();
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
    float* crow = c + i * ldc;
#pragma GCC unroll 16
    for (int v = 0; v < NV; ++v) {
      FloatVec r = acc[i][v];
      if (!step.first)
        r = r + simd::load(crow + v * W);
      else if (e.beta != 0.0f)
        r = simd::fma(simd::broadcast(e.beta), simd::load(crow + v * W), r);
      if (step.last && e.axis == BiasAxis::rows) r = r + simd::broadcast(e.bias[step.row + i]);
      if (step.last && e.axis == BiasAxis::columns) r = r + simd::load(e.bias + step.col + v * W);
      if (apply_clamp) r = simd::clamp(r, lo, hi);
      simd::store(crow + v * W, r);
    }
  }
}

}  // namespace primsel::kernels
