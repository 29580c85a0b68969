// f32 GEMM micro-kernel, MR x (NV vectors): C[MR x NR] (+)= A_panel * B_panel over kc, BLIS-style. A is packed as
// kc columns of MR values, or read in place as MR rows `lda` floats apart (XNNPACK's GEMMs do the same: a caller
// that produces A row by row, Winograd's V, saves the packing pass); B as kc rows of NR = NV * simd::width values
// (aligned). MR * NV accumulators stay in registers: 6 x 2 on AVX2 (12 of 16 ymm), 6 x 4 on AVX-512 and NEON (24 of
// 32). The epilogue adds beta * C, a bias per row or column, and clamps (fused Relu/Relu6).
#pragma once

#include <algorithm>
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
/// streamed from memory, see gemm::sgemm_prepacked_streamed); PF = 0 is the plain kernel. `a_at(k, i)` is A's
/// element in row i, column k of the panel.
template <int MR, int NV, int PF, class AAt>
__attribute__((always_inline)) inline void f32_gemm_ukernel_impl(std::int64_t kc, AAt&& a_at, const float* __restrict b,
                                                                 float* c, std::int64_t ldc, const GemmEpilogue& e,
                                                                 const TileStep& step, const float* prefetch) noexcept {
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
      const FloatVec av = simd::broadcast(a_at(k, i));
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

/// A packed: kc columns of MR values.
template <int MR, int NV, int PF = 0>
inline void f32_gemm_ukernel(std::int64_t kc, const float* __restrict a, const float* __restrict b, float* c,
                             std::int64_t ldc, const GemmEpilogue& e, const TileStep& step,
                             const float* prefetch = nullptr) noexcept {
  f32_gemm_ukernel_impl<MR, NV, PF>(
      kc, [a](std::int64_t k, int i) __attribute__((always_inline)) { return a[k * MR + i]; }, b, c, ldc, e, step,
      prefetch);
}

/// A in place: row i at a + i * lda, `rows` (1..MR) of them valid. The rows past them read the last valid row
/// again (their results land in rows the caller drops), so nothing outside the caller's matrix is read.
template <int MR, int NV, int PF = 0>
inline void f32_gemm_ukernel_rows(std::int64_t kc, const float* a, std::int64_t lda, std::int64_t rows,
                                  const float* __restrict b, float* c, std::int64_t ldc, const GemmEpilogue& e,
                                  const TileStep& step, const float* prefetch = nullptr) noexcept {
  const float* row[MR];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) row[i] = a + std::min<std::int64_t>(i, rows - 1) * lda;
  f32_gemm_ukernel_impl<MR, NV, PF>(
      kc, [&row](std::int64_t k, int i) __attribute__((always_inline)) { return row[i][k]; }, b, c, ldc, e, step,
      prefetch);
}

}  // namespace primsel::kernels
