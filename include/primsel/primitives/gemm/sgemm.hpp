// Packed, cache-blocked single-precision GEMM (Goto & van de Geijn's algorithm as BLIS structures it):
// C[M x N] = epilogue(A[M x K] * B[K x N]). A is packed once into MR-row panels (conv weights: at plan time),
// B into NR-column panels per KC x NC block; an MR x NR register-tiled micro-kernel does the work. KC keeps a B
// micro-panel in L1, MC an A block in L2, NC a B block in L3. Threads split N (or M when N is small).
// Written here rather than taken from a BLAS so the library stays header-only, packs weights once, fuses the
// bias/activation epilogue and uses primsel's own thread pool.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "primsel/core/error.hpp"
#include "primsel/core/simd.hpp"
#include "primsel/core/tensor.hpp"
#include "primsel/core/thread_pool.hpp"
#include "primsel/primitives/kernels/f32_gemm_ukernel.hpp"

namespace primsel::gemm {

using kernels::BiasAxis;
using kernels::GemmEpilogue;

/// Register tile: MR rows x NV vectors. 6 x 2 (12 accumulators) on 16-register ISAs (AVX2); 6 x 4 (24) on
/// 32-register ones (AVX-512, NEON), measured 10-25% faster than 6 x 2, 12 x 2 or 14 x 2 on Zen 5 with
/// gemm_bench; the scalar build uses 4 x 4. Overridable (-DPRIMSEL_GEMM_MR=.. -DPRIMSEL_GEMM_NV=..) for tuning.
#ifndef PRIMSEL_GEMM_MR
#define PRIMSEL_GEMM_MR (PRIMSEL_HAS_SIMD ? 6 : 4)
#define PRIMSEL_GEMM_NV (!PRIMSEL_HAS_SIMD ? 4 : simd::vector_registers >= 32 ? 4 : 2)
#endif
inline constexpr int MR = PRIMSEL_GEMM_MR;
inline constexpr int NV = PRIMSEL_GEMM_NV;
inline constexpr std::int64_t NR = NV * static_cast<std::int64_t>(simd::width);

#ifndef PRIMSEL_GEMM_KC
#define PRIMSEL_GEMM_KC 256
#define PRIMSEL_GEMM_MC 120
#endif
/// Cache blocking (in elements), for 32-48 KiB L1d / 0.5-1 MiB L2 per core: the B micro-panel (kc x NR) is
/// reused across the A panels of an mc block, the A block (mc x kc, ~120 KiB) across a kc x nc block of B.
struct Blocking {
  std::int64_t mc = PRIMSEL_GEMM_MC / MR * MR;
  std::int64_t kc = PRIMSEL_GEMM_KC;
  std::int64_t nc = 1024 / NR * NR;
};
inline constexpr Blocking blocking{};

constexpr std::int64_t round_up(std::int64_t x, std::int64_t m) noexcept { return (x + m - 1) / m * m; }

/// Matrix operand description: element (i, j) is data[trans ? j * ld + i : i * ld + j].
struct MatrixRef {
  const float* data = nullptr;
  std::int64_t ld = 0;
  bool trans = false;
  float at(std::int64_t i, std::int64_t j) const noexcept { return trans ? data[j * ld + i] : data[i * ld + j]; }
};

/// Floats needed to hold A packed: ceil(M / MR) * MR rows by K.
constexpr std::int64_t packed_a_floats(std::int64_t m, std::int64_t k) noexcept { return round_up(m, MR) * k; }

/// Packs A [m x k] into MR-row panels per KC block: block starting at k0 holds panels of kc x MR floats each, at
/// offset k0 * round_up(m, MR) + panel * kc * MR. Rows past m are zero.
inline void pack_a(MatrixRef a, std::int64_t m, std::int64_t k, float* dst) noexcept {
  const std::int64_t mp = round_up(m, MR);
  for (std::int64_t k0 = 0; k0 < k; k0 += blocking.kc) {
    const std::int64_t kc = std::min(blocking.kc, k - k0);
    float* block = dst + k0 * mp;
    for (std::int64_t i0 = 0; i0 < mp; i0 += MR) {
      float* panel = block + (i0 / MR) * kc * MR;
      if (!a.trans && i0 + MR <= m) {
        // Whole panel of plain rows: no per-element bounds or transpose test (Winograd packs every V plane per
        // block, where the general loop below took a third of F(4,3)'s time at 64 channels).
        const float* row = a.data + i0 * a.ld + k0;
        for (std::int64_t kk = 0; kk < kc; ++kk)
#pragma GCC unroll 8
          for (std::int64_t ii = 0; ii < MR; ++ii) panel[kk * MR + ii] = row[ii * a.ld + kk];
        continue;
      }
      for (std::int64_t kk = 0; kk < kc; ++kk)
        for (std::int64_t ii = 0; ii < MR; ++ii)
          panel[kk * MR + ii] = i0 + ii < m ? a.at(i0 + ii, k0 + kk) : 0.0f;
    }
  }
}

/// The left operand of the prepacked GEMMs: packed by pack_a, or plain rows read in place by the micro-kernel (row
/// i at data + i * ld, K contiguous): a caller that writes A itself, row by row, skips the packing pass.
struct AOperand {
  const float* data = nullptr;
  std::int64_t ld = 0;  ///< 0: packed

  static AOperand packed(const float* a_packed) noexcept { return {a_packed, 0}; }
  static AOperand rows(const float* a, std::int64_t ld) noexcept { return {a, ld}; }
  /// Rows [ir, ir + MR), columns [pc, pc + kc) of an A with mp (= round_up(m, MR)) rows.
  const float* panel(std::int64_t pc, std::int64_t kc, std::int64_t ir, std::int64_t mp) const noexcept {
    return ld == 0 ? data + pc * mp + (ir / MR) * kc * MR : data + ir * ld + pc;
  }
};

/// A packed once and reused across calls (conv weights): owns its aligned buffer.
class PackedA {
 public:
  PackedA() = default;
  static Expected<PackedA> pack(MatrixRef a, std::int64_t m, std::int64_t k) {
    PackedA p;
    p.m_ = m, p.k_ = k;
    PRIMSEL_ASSIGN_OR_RETURN(p.buffer_, Tensor::create(Shape{std::max<std::int64_t>(packed_a_floats(m, k), 1)}));
    pack_a(a, m, k, p.buffer_.data<float>());
    return p;
  }
  const float* data() const noexcept { return buffer_.data<float>(); }
  std::int64_t m() const noexcept { return m_; }
  std::int64_t k() const noexcept { return k_; }
  std::size_t size_bytes() const noexcept { return buffer_.size_bytes(); }

 private:
  Tensor buffer_;
  std::int64_t m_ = 0, k_ = 0;
};

/// Scratch bytes sgemm_packed needs for `threads` threads (one B block each), cache-line aligned.
constexpr std::size_t packed_workspace_bytes(int threads) noexcept {
  return static_cast<std::size_t>(threads) *
         static_cast<std::size_t>(round_up(blocking.kc * blocking.nc * 4, static_cast<std::int64_t>(tensor_alignment)));
}

namespace detail {

inline void pack_b(MatrixRef b, std::int64_t k0, std::int64_t kc, std::int64_t j0, std::int64_t nc, float* dst) noexcept {
  for (std::int64_t jr = 0; jr < nc; jr += NR) {
    float* panel = dst + jr * kc;
    const std::int64_t cols = std::min(NR, nc - jr);
    for (std::int64_t kk = 0; kk < kc; ++kk) {
      float* row = panel + kk * NR;
      if (!b.trans && cols == NR) {
        std::memcpy(row, b.data + (k0 + kk) * b.ld + j0 + jr, NR * sizeof(float));
      } else {
        for (std::int64_t jj = 0; jj < NR; ++jj) row[jj] = jj < cols ? b.at(k0 + kk, j0 + jr + jj) : 0.0f;
      }
    }
  }
}

/// One MR x NR tile, full or clipped to rows x cols; PF lines per k step prefetched from `prefetch` (see the kernel).
/// `ap` is the panel (AOperand::panel), in place when lda > 0.
template <int PF = 0>
inline void tile(std::int64_t kc, const float* ap, std::int64_t lda, const float* bp, float* c, std::int64_t ldc,
                 std::int64_t rows, std::int64_t cols, const GemmEpilogue& e, const kernels::TileStep& step,
                 const float* prefetch = nullptr) noexcept {
  auto kernel = [&](float* cc, std::int64_t ldcc, const GemmEpilogue& ee) {
    if (lda == 0)
      kernels::f32_gemm_ukernel<MR, NV, PF>(kc, ap, bp, cc, ldcc, ee, step, prefetch);
    else
      kernels::f32_gemm_ukernel_rows<MR, NV, PF>(kc, ap, lda, rows, bp, cc, ldcc, ee, step, prefetch);
  };
  if (rows == MR && cols == NR) {
    kernel(c, ldc, e);
    return;
  }
  // Edge: run the full kernel on a local tile without bias/clamp, then finish the valid part in scalar code.
  alignas(64) float local[MR * NR] = {};
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t j = 0; j < cols; ++j) local[i * NR + j] = c[i * ldc + j];
  GemmEpilogue plain = e;
  plain.axis = BiasAxis::none;
  plain.activation = Activation::none();
  kernel(local, NR, plain);
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t j = 0; j < cols; ++j) {
      float v = local[i * NR + j];
      if (step.last && e.axis == BiasAxis::rows) v += e.bias[step.row + i];
      if (step.last && e.axis == BiasAxis::columns) v += e.bias[step.col + j];
      if (step.last) v = e.activation.apply(v);
      c[i * ldc + j] = v;
    }
}

/// Where the packed B panels of one KC x NC block are: `data` is the panel of the block's first NR columns,
/// the next panel is `panel_stride` floats further (NR * kc when packed per call, NR * K when packed once).
struct BBlock {
  const float* data;
  std::int64_t panel_stride;
};

/// Rows [m0, m1) and columns [n0, n1) of C. `b_block(pc, kc, jc, nc)` returns the packed panels of that block
/// of B (packing it into this thread's buffer, or pointing into a PackedB).
template <class GetBBlock>
void macro(AOperand a, std::int64_t m, std::int64_t k, GetBBlock&& b_block, float* c, std::int64_t ldc,
           std::int64_t m0, std::int64_t m1, std::int64_t n0, std::int64_t n1, const GemmEpilogue& e) noexcept {
  const std::int64_t mp = round_up(m, MR);
  for (std::int64_t jc = n0; jc < n1; jc += blocking.nc) {
    const std::int64_t nc = std::min(blocking.nc, n1 - jc);
    for (std::int64_t pc = 0; pc < k; pc += blocking.kc) {
      const std::int64_t kc = std::min(blocking.kc, k - pc);
      const BBlock bb = b_block(pc, kc, jc, nc);
      const kernels::TileStep base{0, 0, pc == 0, pc + kc >= k};
      for (std::int64_t ic = m0; ic < m1; ic += blocking.mc) {
        const std::int64_t mc = std::min(blocking.mc, m1 - ic);
        for (std::int64_t jr = 0; jr < nc; jr += NR) {
          const float* bp = bb.data + (jr / NR) * bb.panel_stride;
          for (std::int64_t ir = ic; ir < ic + mc; ir += MR) {
            kernels::TileStep step = base;
            step.row = ir, step.col = jc + jr;
            tile(kc, a.panel(pc, kc, ir, mp), a.ld, bp, c + ir * ldc + jc + jr, ldc,
                 std::min<std::int64_t>(MR, m - ir), std::min(NR, nc - jr), e, step);
          }
        }
      }
    }
  }
  if (k == 0) {  // no K loop: C = beta * C + bias, clamped
    for (std::int64_t i = m0; i < m1; ++i)
      for (std::int64_t j = n0; j < n1; ++j) {
        float v = e.beta * c[i * ldc + j];
        if (e.axis == BiasAxis::rows) v += e.bias[i];
        if (e.axis == BiasAxis::columns) v += e.bias[j];
        c[i * ldc + j] = e.activation.apply(v);
      }
  }
}

/// macro() with B packed per KC x NC block into `b_buffer`.
inline void macro(const float* a_packed, std::int64_t m, std::int64_t k, MatrixRef b, float* c, std::int64_t ldc,
                  std::int64_t m0, std::int64_t m1, std::int64_t n0, std::int64_t n1, const GemmEpilogue& e,
                  float* b_buffer) noexcept {
  macro(AOperand::packed(a_packed), m, k,
        [&](std::int64_t pc, std::int64_t kc, std::int64_t jc, std::int64_t nc) {
          pack_b(b, pc, kc, jc, nc, b_buffer);
          return BBlock{b_buffer, NR * kc};
        },
        c, ldc, m0, m1, n0, n1, e);
}

}  // namespace detail

/// C = epilogue(A * B) with A already packed (see PackedA). `workspace` must hold packed_workspace_bytes(threads)
/// bytes, 64-byte aligned; pool may be null (one thread). Splits columns over threads when there are enough,
/// otherwise rows.
inline void sgemm_packed(const float* a_packed, std::int64_t m, std::int64_t k, MatrixRef b, std::int64_t n, float* c,
                         std::int64_t ldc, const GemmEpilogue& e, ThreadPool* pool,
                         std::span<std::byte> workspace) noexcept {
  if (m <= 0 || n <= 0) return;
  const int threads = pool ? pool->size() : 1;
  const std::size_t per_thread = packed_workspace_bytes(1);
  auto buffer = [&](int t) { return reinterpret_cast<float*>(workspace.data() + per_thread * static_cast<std::size_t>(t)); };
  const std::int64_t col_tiles = (n + NR - 1) / NR, row_panels = (m + MR - 1) / MR;
  if (pool == nullptr || threads == 1 || (col_tiles < 2 && row_panels < 2)) {
    detail::macro(a_packed, m, k, b, c, ldc, 0, m, 0, n, e, buffer(0));
    return;
  }
  if (col_tiles >= 4 * threads || col_tiles >= row_panels) {
    pool->parallel_for(col_tiles, [&](std::int64_t t0, std::int64_t t1, int t) {
      detail::macro(a_packed, m, k, b, c, ldc, 0, m, t0 * NR, std::min(n, t1 * NR), e, buffer(t));
    });
  } else {
    pool->parallel_for(row_panels, [&](std::int64_t p0, std::int64_t p1, int t) {
      detail::macro(a_packed, m, k, b, c, ldc, p0 * MR, std::min(m, p1 * MR), 0, n, e, buffer(t));
    });
  }
}

/// Scratch bytes sgemm needs: A packed plus the per-thread B blocks.
constexpr std::size_t workspace_bytes(std::int64_t m, std::int64_t k, int threads) noexcept {
  return static_cast<std::size_t>(round_up(packed_a_floats(m, k) * 4, static_cast<std::int64_t>(tensor_alignment))) +
         packed_workspace_bytes(threads);
}

/// General C[m x n] = epilogue(op(A) * op(B)); packs A into the workspace first (workspace_bytes(m, k, threads)).
inline void sgemm(std::int64_t m, std::int64_t n, std::int64_t k, MatrixRef a, MatrixRef b, float* c, std::int64_t ldc,
                  const GemmEpilogue& e, ThreadPool* pool, std::span<std::byte> workspace) noexcept {
  const std::size_t a_bytes =
      static_cast<std::size_t>(round_up(packed_a_floats(m, k) * 4, static_cast<std::int64_t>(tensor_alignment)));
  auto* a_packed = reinterpret_cast<float*>(workspace.data());
  pack_a(a, m, k, a_packed);
  sgemm_packed(a_packed, m, k, b, n, c, ldc, e, pool, workspace.subspan(a_bytes));
}

/// B packed once (weights used as the right operand, e.g. Winograd's transformed filters): NR-column panels
/// over the whole K, zero-padded to a multiple of NR columns. Panel p, row kk is at (p * K + kk) * NR.
class PackedB {
 public:
  PackedB() = default;
  /// Zeros, to be filled row by row through row() (producers that generate B, e.g. a filter transform).
  static Expected<PackedB> zeros(std::int64_t k, std::int64_t n) {
    PackedB p;
    p.k_ = k, p.n_ = n;
    PRIMSEL_ASSIGN_OR_RETURN(p.buffer_, Tensor::create(Shape{std::max<std::int64_t>(round_up(n, NR) * k, 1)}));
    return p;
  }
  /// Row kk of the panel holding columns [j0, j0 + NR), j0 a multiple of NR: NR contiguous floats.
  float* row(std::int64_t kk, std::int64_t j0) noexcept { return buffer_.data<float>() + (j0 / NR * k_ + kk) * NR; }

  static Expected<PackedB> pack(MatrixRef b, std::int64_t k, std::int64_t n) {
    PRIMSEL_ASSIGN_OR_RETURN(PackedB p, zeros(k, n));
    float* dst = p.buffer_.data<float>();
    for (std::int64_t j0 = 0; j0 < n; j0 += NR) {
      const std::int64_t cols = std::min(NR, n - j0);
      for (std::int64_t kk = 0; kk < k; ++kk) {
        float* row = dst + (j0 / NR * k + kk) * NR;
        if (!b.trans) {
          std::memcpy(row, b.data + kk * b.ld + j0, static_cast<std::size_t>(cols) * sizeof(float));
        } else {
          for (std::int64_t jj = 0; jj < cols; ++jj) row[jj] = b.at(kk, j0 + jj);
        }
        std::fill(row + cols, row + NR, 0.0f);
      }
    }
    return p;
  }
  const float* data() const noexcept { return buffer_.data<float>(); }
  std::int64_t k() const noexcept { return k_; }
  std::int64_t n() const noexcept { return n_; }
  std::size_t size_bytes() const noexcept { return buffer_.size_bytes(); }

 private:
  Tensor buffer_;
  std::int64_t k_ = 0, n_ = 0;
};

/// C[m x n] = epilogue(A * B) with B packed once and A packed by pack_a (per call, into caller scratch) or read in
/// place (AOperand::rows). Single-threaded: callers that use it (Winograd's batched GEMMs) parallelise over
/// independent GEMMs.
inline void sgemm_prepacked(AOperand a, std::int64_t m, const PackedB& b, float* c, std::int64_t ldc,
                            const GemmEpilogue& e) noexcept {
  if (m <= 0 || b.n() <= 0) return;
  const std::int64_t k = b.k();
  detail::macro(
      a, m, k,
      [&](std::int64_t pc, std::int64_t, std::int64_t jc, std::int64_t) {
        return detail::BBlock{b.data() + (jc / NR * k + pc) * NR, NR * k};
      },
      c, ldc, 0, m, 0, b.n(), e);
}

/// sgemm_prepacked for a B read from memory once per call (larger than the caches, few rows of A: Winograd's
/// transformed filters at batch 1). The row panels that use one kc x NR panel of B also prefetch the next panel
/// into L2, spread over their k steps, so the memory stream runs under the FMAs instead of between them: with the
/// hardware prefetcher alone, 36 products of 16 x 512 by 512 x 512 (37.7 MB of B) took stream time + FMA time
/// (5.9 ms = 2.5 ms streaming the panels + ~3 ms of FMAs, Xeon, 1 thread).
inline void sgemm_prepacked_streamed(AOperand a, std::int64_t m, const PackedB& b, float* c,
                                     std::int64_t ldc, const GemmEpilogue& e) noexcept {
  const std::int64_t k = b.k(), n = b.n();
  if (m <= 0 || n <= 0 || k <= 0) return sgemm_prepacked(a, m, b, c, ldc, e);
  const std::int64_t mp = round_up(m, MR), panels = mp / MR, kc_max = blocking.kc;
  // Cache lines of one B panel per k step (NR floats), shared out over the row panels.
  constexpr std::int64_t line_floats = 64 / sizeof(float);
  constexpr std::int64_t lines_per_row = (NR + line_floats - 1) / line_floats;
  const std::int64_t per_step = (lines_per_row + panels - 1) / panels;
  const int pf = per_step <= 1 ? 1 : per_step <= 2 ? 2 : 4;
  for (std::int64_t pc = 0; pc < k; pc += kc_max) {
    const std::int64_t kc = std::min(kc_max, k - pc);
    const kernels::TileStep base{0, 0, pc == 0, pc + kc >= k};
    for (std::int64_t jr = 0; jr < n; jr += NR) {
      const float* bp = b.data() + (jr / NR * k + pc) * NR;
      // The panel used next: the same rows of the next NR columns, else the first columns of the next k block.
      const float* next = jr + NR < n ? bp + NR * k : pc + kc < k ? b.data() + (pc + kc) * NR : nullptr;
      const std::int64_t next_floats = (jr + NR < n ? kc : std::min(kc_max, k - pc - kc)) * NR;
      for (std::int64_t p = 0; p < panels; ++p) {
        // This row panel prefetches lines [first_line, first_line + kc * pf) of the next panel, if all inside it.
        const std::int64_t ir = p * MR, first_line = p * kc * pf;
        const float* ap = a.panel(pc, kc, ir, mp);
        kernels::TileStep step = base;
        step.row = ir, step.col = jr;
        float* ct = c + ir * ldc + jr;
        const std::int64_t rows = std::min<std::int64_t>(MR, m - ir), cols = std::min(NR, n - jr);
        if (next == nullptr || (first_line + kc * pf) * line_floats > next_floats)
          detail::tile(kc, ap, a.ld, bp, ct, ldc, rows, cols, e, step);
        else if (pf == 1)
          detail::tile<1>(kc, ap, a.ld, bp, ct, ldc, rows, cols, e, step, next + first_line * line_floats);
        else if (pf == 2)
          detail::tile<2>(kc, ap, a.ld, bp, ct, ldc, rows, cols, e, step, next + first_line * line_floats);
        else
          detail::tile<4>(kc, ap, a.ld, bp, ct, ldc, rows, cols, e, step, next + first_line * line_floats);
      }
    }
  }
}

}  // namespace primsel::gemm
