// Quantised GEMM: C = A_u8 [M x K] * B_s8 [K x N] - zp_a * colsum(B) (+ bias), as s32 or requantised to u8 per
// column (= output channel). The int8 counterpart of sgemm.hpp, BLIS-structured the same way: B (the weights)
// is packed once into NR-column panels with K grouped by 4 for the byte dot products; A is read in place when it
// is row-major with K % 4 == 0 (as XNNPACK's GEMMs read it), else packed per call into MR-row panels. A
// register-tiled micro-kernel (kernels/u8s8_gemm_ukernel.hpp) accumulates s32 tiles into a per-thread
// block buffer, and the output stage corrects, requantises and stores each finished block; kernels with a fused
// variant requantise the last K block's tile in registers instead (at small K the s32 round trip dominated).
// Weights are symmetric (zero point 0), so only B's column sums are needed (Jacob et al. 2018, eq. 7 without the
// row-sum term).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "primsel/core/error.hpp"
#include "primsel/core/tensor.hpp"
#include "primsel/core/thread_pool.hpp"
#include "primsel/primitives/kernels/u8s8_gemm_ukernel.hpp"
#include "primsel/quant/quantize.hpp"

namespace primsel::gemm {

using kernels::U8S8Ukernel;

/// Cache blocking in bytes of A and B: a kc x NR micro-panel of B (32 KiB at 512 x 64) is reused across the A
/// panels of an mc x kc block (48 KiB); the s32 block buffer is mc x nc. Overridable for tuning; on Zen 5, kc
/// 256-1024, mc 48-192 and nc 128-512 measured within noise of each other, as did 8x48, 12x32 and 14x32 tiles.
#ifndef PRIMSEL_U8S8_KC
#define PRIMSEL_U8S8_KC 512
#define PRIMSEL_U8S8_MC 96
#define PRIMSEL_U8S8_NC 256
#endif
struct U8S8Blocking {
  std::int64_t mc = PRIMSEL_U8S8_MC, kc = PRIMSEL_U8S8_KC, nc = PRIMSEL_U8S8_NC;
};
inline constexpr U8S8Blocking u8s8_blocking{};
static_assert(PRIMSEL_U8S8_KC % 4 == 0, "K blocks are whole groups of 4");

namespace detail {
constexpr std::int64_t up(std::int64_t x, std::int64_t m) noexcept { return (x + m - 1) / m * m; }
// Blocks in units of the kernel's tile.
constexpr std::int64_t block_mc(const U8S8Ukernel& k) noexcept {
  return std::max<std::int64_t>(k.mr, u8s8_blocking.mc / k.mr * k.mr);
}
constexpr std::int64_t block_nc(const U8S8Ukernel& k) noexcept {
  return std::max<std::int64_t>(k.nr, u8s8_blocking.nc / k.nr * k.nr);
}
}  // namespace detail

/// K up to which u8s8_kernel_for prefers a kernel with the output stage in registers: one K block, so the GEMM never
/// touches its s32 block buffer (at K <= 160 that round trip and the 64-bit requantisation cost more than the dot
/// products: 2-4x faster fused). Beyond it, the 24-accumulator unfused tile: fused measured 0.9-1.2x there.
inline constexpr std::int64_t u8s8_fused_max_k = u8s8_blocking.kc;

/// The micro-kernel for a GEMM of K x N with u8 output (pack B with it). Small K: among the kernels that requantise
/// in registers (and read A like the default one), the one computing fewest padded columns, the widest on a tie
/// (N = 16: 16 columns, not 64; N = 96: 2 x 48, not 2 x 64). Otherwise, or with PRIMSEL_FORCE_SCALAR, the default.
inline const U8S8Ukernel& u8s8_kernel_for(std::int64_t k, std::int64_t n) noexcept {
  const U8S8Ukernel* best = &kernels::u8s8_default_ukernel;
#if !defined(PRIMSEL_FORCE_SCALAR)
  if (k > u8s8_fused_max_k) return *best;
  const auto& def = kernels::u8s8_default_ukernel;
  std::int64_t best_cols = std::numeric_limits<std::int64_t>::max();
  for (const U8S8Ukernel& kr : kernels::u8s8_kernels) {
    if (!kr.requant || kr.a_xor != def.a_xor || kr.a_range != def.a_range || kr.strided_a != def.strided_a) continue;
    const std::int64_t cols = (n + kr.nr - 1) / kr.nr * kr.nr;
    if (cols < best_cols || (cols == best_cols && kr.nr > best->nr)) best = &kr, best_cols = cols;
  }
#endif
  return *best;
}

/// Operand description: element (i, j) is data[trans ? j * ld + i : i * ld + j].
template <class T>
struct IntMatrixRef {
  const T* data = nullptr;
  std::int64_t ld = 0;
  bool trans = false;
  T at(std::int64_t i, std::int64_t j) const noexcept { return trans ? data[j * ld + i] : data[i * ld + j]; }
};
using U8MatrixRef = IntMatrixRef<std::uint8_t>;
using S8MatrixRef = IntMatrixRef<std::int8_t>;

/// Largest K accepted: |sum (a - zp) * w| <= K * 255 * 127 stays below 2^30, leaving int32 room for the bias.
inline constexpr std::int64_t u8s8_max_k = 32768;

/// B [K x N] packed once for one micro-kernel: NR-column panels over the whole K (padded with zeros to a multiple
/// of 4 and of NR columns); group g of panel p is NR * 4 bytes at (p * K4 + g) * NR * 4. Holds B's column sums.
class PackedU8S8B {
 public:
  PackedU8S8B() = default;
  /// Fails if K is beyond u8s8_max_k or a weight is -128 (weights are symmetric: [-127, 127], which also keeps
  /// vpmaddubsw's pair sums inside int16 for 7-bit activations).
  static Expected<PackedU8S8B> pack(S8MatrixRef b, std::int64_t k, std::int64_t n,
                                    const U8S8Ukernel& kernel = kernels::u8s8_default_ukernel) {
    PRIMSEL_CHECK(k >= 0 && n >= 0 && k <= u8s8_max_k, ErrorCode::invalid_argument,
                  "gemm_u8s8: K " + std::to_string(k) + " outside [0, " + std::to_string(u8s8_max_k) + "]");
    PackedU8S8B p;
    p.k_ = k, p.n_ = n, p.k4_ = (k + 3) / 4, p.kernel_ = kernel;
    const std::int64_t nr = kernel.nr, panels = (n + nr - 1) / nr;
    PRIMSEL_ASSIGN_OR_RETURN(p.buffer_, Tensor::create(Shape{std::max<std::int64_t>(panels * p.k4_ * nr * 4, 1)},
                                                       Format{Layout::nchw, DType::s8}));
    auto* dst = p.buffer_.data<std::int8_t>();
    std::fill(dst, dst + p.buffer_.size_bytes(), std::int8_t{0});
    p.colsum_.assign(static_cast<std::size_t>(n), 0);
    for (std::int64_t j = 0; j < n; ++j) {
      std::int8_t* col = dst + (j / nr) * p.k4_ * nr * 4 + (j % nr) * 4;
      for (std::int64_t kk = 0; kk < k; ++kk) {
        const std::int8_t w = b.at(kk, j);
        PRIMSEL_CHECK(w != -128, ErrorCode::invalid_argument,
                      "gemm_u8s8: weight (" + std::to_string(kk) + ", " + std::to_string(j) + ") is -128");
        col[(kk / 4) * nr * 4 + kk % 4] = w;
        p.colsum_[static_cast<std::size_t>(j)] += w;
      }
    }
    return p;
  }
  const std::int8_t* data() const noexcept { return buffer_.data<std::int8_t>(); }
  std::span<const std::int32_t> colsum() const noexcept { return colsum_; }
  std::int64_t k() const noexcept { return k_; }
  std::int64_t k4() const noexcept { return k4_; }
  std::int64_t n() const noexcept { return n_; }
  const U8S8Ukernel& kernel() const noexcept { return kernel_; }
  std::size_t size_bytes() const noexcept { return buffer_.size_bytes() + colsum_.size() * 4; }

 private:
  Tensor buffer_;
  std::vector<std::int32_t> colsum_;
  std::int64_t k_ = 0, n_ = 0, k4_ = 0;
  U8S8Ukernel kernel_ = kernels::u8s8_default_ukernel;
};

/// Bytes of A packed for `kernel`: ceil(M / MR) * MR rows by K rounded up to 4.
constexpr std::size_t u8s8_packed_a_bytes(std::int64_t m, std::int64_t k, const U8S8Ukernel& kernel) noexcept {
  return static_cast<std::size_t>(detail::up(m, kernel.mr) * detail::up(k, 4));
}

/// Packs rows [first_panel * MR, m) of A [m x k] into MR-row panels over the whole K: panel p (counted from
/// first_panel) is [k4][MR][4] bytes at p * round_up(k, 4) * MR, so any K block of it is contiguous too. Rows past
/// m and K past k are zero (B's padding is zero, so they add nothing). Each byte is stored as a ^ kernel.a_xor.
inline void pack_a_u8(U8MatrixRef a, std::int64_t m, std::int64_t k, const U8S8Ukernel& kernel, std::uint8_t* dst,
                      std::int64_t first_panel = 0) noexcept {
  const std::int64_t mr = kernel.mr, k4 = (k + 3) / 4;
  const std::uint32_t x4 = kernel.a_xor * 0x01010101u;
  const std::int64_t full = a.trans ? 0 : k / 4;  // groups copied 4 bytes at a time
  for (std::int64_t i0 = first_panel * mr; i0 < m; i0 += mr) {
    std::uint8_t* panel = dst + (i0 / mr - first_panel) * k4 * mr * 4;
    const std::int64_t rows = std::min(mr, m - i0);
    // Group-major with rows inner: the panel is written sequentially, the rows are read as mr streams.
    for (std::int64_t g = 0; g < k4; ++g) {
      std::uint8_t* q = panel + g * mr * 4;
      if (g < full) {
        for (std::int64_t ii = 0; ii < rows; ++ii) {
          std::uint32_t v;
          std::memcpy(&v, a.data + (i0 + ii) * a.ld + g * 4, 4);
          v ^= x4;
          std::memcpy(q + ii * 4, &v, 4);
        }
      } else {
        for (std::int64_t ii = 0; ii < rows; ++ii)
          for (std::int64_t t = 0; t < 4; ++t)
            q[ii * 4 + t] = g * 4 + t < k ? static_cast<std::uint8_t>(a.at(i0 + ii, g * 4 + t) ^ kernel.a_xor) : 0;
      }
      std::fill(q + rows * 4, q + mr * 4, std::uint8_t{0});
    }
  }
}

/// Whether A can be read in place (no packing): row-major, K a whole number of groups (the kernel reads 4 bytes
/// at a time and must not run past a row), and a kernel that reads strided u8 as it is.
inline bool u8s8_reads_a_in_place(U8MatrixRef a, std::int64_t k, const U8S8Ukernel& kernel) noexcept {
  return !a.trans && k % 4 == 0 && kernel.strided_a && kernel.a_xor == 0;
}

/// Where the result goes and how it is finished. Exactly one of s32 / u8 is set.
///   s32: C = A * B - zp_a * colsum(B) (+ bias)
///   u8:  C = quant::requantize(that, {multiplier[j], shift[j]}, zero_point, lo, hi), per column j
struct U8S8Output {
  std::int32_t* s32 = nullptr;
  std::uint8_t* u8 = nullptr;
  std::int64_t ldc = 0;
  const std::int32_t* bias = nullptr;        ///< optional, per column, in the accumulator's scale
  const std::int32_t* multiplier = nullptr;  ///< u8 only: per column Q31 multipliers (FixedPointMultiplier)
  const std::int32_t* shift = nullptr;       ///< u8 only: per column right shifts
  std::int32_t zero_point = 0, lo = 0, hi = 255;
};

/// Per-channel output stage of a quantised layer, built once at plan time: multipliers in_scale * w_scale[c] /
/// out_scale, int32 bias, clamp bounds from the fused activation (real [act_lo, act_hi]).
struct U8S8OutputStage {
  std::vector<std::int32_t> multiplier, shift, bias;
  std::int32_t zero_point = 0;
  quant::QRange range;

  static Expected<U8S8OutputStage> create(float in_scale, std::span<const float> w_scales, QuantParams out,
                                          std::span<const float> bias = {},
                                          float act_lo = -std::numeric_limits<float>::infinity(),
                                          float act_hi = std::numeric_limits<float>::infinity()) {
    PRIMSEL_CHECK(bias.empty() || bias.size() == w_scales.size(), ErrorCode::invalid_argument,
                  "U8S8OutputStage: " + std::to_string(bias.size()) + " biases for " + std::to_string(w_scales.size()) +
                      " channels");
    PRIMSEL_ASSIGN_OR_RETURN(auto ms, quant::channel_multipliers(in_scale, w_scales, out.scale));
    U8S8OutputStage s;
    for (const auto& m : ms) s.multiplier.push_back(m.multiplier), s.shift.push_back(m.shift);
    if (!bias.empty()) s.bias = quant::quantize_bias(bias, in_scale, w_scales);
    s.zero_point = out.zero_point;
    s.range = quant::activation_range(act_lo, act_hi, out);
    return s;
  }
  /// The output description writing u8 into c (row stride ldc).
  U8S8Output output(std::uint8_t* c, std::int64_t ldc) const noexcept {
    return {nullptr,    c,        ldc,     bias.empty() ? nullptr : bias.data(), multiplier.data(), shift.data(),
            zero_point, range.lo, range.hi};
  }
};

/// Scratch per thread: one s32 block of mc x nc accumulators, cache-line aligned.
constexpr std::size_t u8s8_block_bytes(const U8S8Ukernel& kernel) noexcept {
  return static_cast<std::size_t>(
      detail::up(detail::block_mc(kernel) * detail::block_nc(kernel) * 4, static_cast<std::int64_t>(tensor_alignment)));
}
/// Scratch gemm_u8s8_packed needs for `threads` threads.
constexpr std::size_t u8s8_packed_workspace_bytes(const U8S8Ukernel& kernel, int threads) noexcept {
  return static_cast<std::size_t>(threads) * u8s8_block_bytes(kernel);
}
/// Scratch gemm_u8s8 needs: A packed plus the per-thread blocks.
constexpr std::size_t u8s8_workspace_bytes(std::int64_t m, std::int64_t k, const U8S8Ukernel& kernel,
                                           int threads) noexcept {
  return static_cast<std::size_t>(detail::up(static_cast<std::int64_t>(u8s8_packed_a_bytes(m, k, kernel)),
                                             static_cast<std::int64_t>(tensor_alignment))) +
         u8s8_packed_workspace_bytes(kernel, threads);
}

namespace detail {

/// Where the MR-row panels of A are: panels before `packed_from` are read in place from row-major `direct`
/// (row stride lda), the others from `packed` (laid out by pack_a_u8 from that panel on).
struct APanels {
  const std::uint8_t* direct = nullptr;
  std::int64_t lda = 0;
  const std::uint8_t* packed = nullptr;
  std::int64_t packed_from = 0;
};

/// Column constants of the in-register output stage for columns [j0, j0 + n) of one column block, in `buf`
/// ([4][u8s8_fused_cols], on the caller's stack): `general` unless every column has the `high` form.
inline constexpr std::int64_t u8s8_fused_cols = std::max<std::int64_t>(u8s8_blocking.nc, 64) + 64 + 16;
inline kernels::U8S8FusedStage u8s8_fused_stage(const kernels::U8S8Epilogue& e, std::int64_t j0, std::int64_t n,
                                                std::int32_t (*buf)[u8s8_fused_cols]) noexcept {
  std::int32_t *corr = buf[0], *mult = buf[1], *shift = buf[2], *round = buf[3];
  bool high = true;
  for (std::int64_t j = 0; j < u8s8_fused_cols; ++j) {
    const bool in = j < n;
    corr[j] = in ? kernels::u8s8_corrected(0, j0 + j, e) : 0;
    mult[j] = in ? e.multiplier[j0 + j] : 0;
    shift[j] = in ? e.shift[j0 + j] : 1;
    round[j] = 0;
    if (high) high = kernels::u8s8_high_form(mult[j], shift[j], shift[j], round[j]);
  }
  // A general column was seen: undo the high shifts written before it.
  if (!high)
    for (std::int64_t j = 0; j < u8s8_fused_cols; ++j) shift[j] = j < n ? e.shift[j0 + j] : 1, round[j] = 0;
  using kernels::U8S8Requant;
  const U8S8Requant mode = !high                  ? U8S8Requant::general
                           : e.lo >= e.zero_point ? U8S8Requant::high_nonneg
                                                  : U8S8Requant::high;
  return {corr, mult, shift, round, e.zero_point, e.lo, e.hi, mode};
}

/// Rows [m0, m1) and columns [n0, n1) of C, m0 a multiple of MR and n0 of NR; `acc` is this thread's block. With
/// u8 output and a kernel that requantises in registers, the last K block's tiles go straight to C (the s32 block
/// then only carries earlier K blocks' sums); otherwise each finished block goes through the row output stage.
inline void u8s8_macro(const APanels& a, const PackedU8S8B& b, std::int32_t a_zero_point, const U8S8Output& out,
                       std::int64_t m0, std::int64_t m1, std::int64_t n0, std::int64_t n1, std::int32_t* acc) noexcept {
  const U8S8Ukernel& kr = b.kernel();
  const std::int64_t mr = kr.mr, nr = kr.nr, k4 = b.k4(), kc4 = u8s8_blocking.kc / 4;
  const std::int64_t mcb = block_mc(kr), ncb = block_nc(kr), ld = ncb;
  const kernels::U8S8Epilogue e{b.colsum().data(),
                                a_zero_point - (kr.a_xor ? 128 : 0),
                                out.bias,
                                out.multiplier,
                                out.shift,
                                out.zero_point,
                                out.lo,
                                out.hi};
  const bool fused =
      out.u8 && kr.requant && ncb + nr <= u8s8_fused_cols && kernels::u8s8_fusable(out.zero_point, out.lo, out.hi);
  alignas(64) std::int32_t consts[4][u8s8_fused_cols];
  for (std::int64_t jc = n0; jc < n1; jc += ncb) {
    const std::int64_t nc = std::min(ncb, n1 - jc);
    kernels::U8S8FusedStage stage;
    if (fused) stage = u8s8_fused_stage(e, jc, nc, consts);
    for (std::int64_t ic = m0; ic < m1; ic += mcb) {
      const std::int64_t mc = std::min(mcb, m1 - ic);
      if (k4 == 0 && !fused) std::fill(acc, acc + mcb * ncb, 0);
      // K == 0 still runs one (empty) block when fused: it stores the corrections' requantised values.
      for (std::int64_t g0 = 0; g0 < k4 || (fused && g0 == 0); g0 += kc4) {
        const std::int64_t gc = std::min(kc4, k4 - g0);
        const bool finish = fused && g0 + kc4 >= k4;
        for (std::int64_t jr = 0; jr < nc; jr += nr) {
          const std::int8_t* bp = b.data() + ((jc + jr) / nr * k4 + g0) * nr * 4;
          kernels::U8S8FusedStage tile = stage;
          tile.corr += jr, tile.mult += jr, tile.shift += jr, tile.round += jr;
          for (std::int64_t ir = 0; ir < mc; ir += mr) {
            const std::int64_t panel = (ic + ir) / mr;
            const bool direct = panel < a.packed_from;
            const std::uint8_t* ap = direct ? a.direct + (ic + ir) * a.lda + g0 * 4
                                            : a.packed + ((panel - a.packed_from) * k4 + g0) * mr * 4;
            const std::int64_t a_row = direct ? a.lda : 4, a_group = direct ? 4 : mr * 4;
            if (finish)
              kr.requant(gc, ap, a_row, a_group, bp, g0 > 0 ? acc + ir * ld + jr : nullptr, ld, tile,
                         std::min(mr, mc - ir), std::min(nr, nc - jr), out.u8 + (ic + ir) * out.ldc + jc + jr, out.ldc);
            else
              kr.fn(gc, ap, a_row, a_group, bp, acc + ir * ld + jr, ld, g0 > 0);
          }
        }
      }
      if (fused) continue;
      for (std::int64_t i = 0; i < mc; ++i) {
        if (out.u8)
          kernels::u8s8_output_u8(acc + i * ld, jc, nc, e, out.u8 + (ic + i) * out.ldc + jc);
        else
          kernels::u8s8_output_s32(acc + i * ld, jc, nc, e, out.s32 + (ic + i) * out.ldc + jc);
      }
    }
  }
}

inline void u8s8_run(const APanels& a, std::int64_t m, const PackedU8S8B& b, std::int32_t a_zero_point,
                     const U8S8Output& out, ThreadPool* pool, std::span<std::byte> workspace) noexcept {
  const std::int64_t n = b.n();
  if (m <= 0 || n <= 0) return;
  const U8S8Ukernel& kr = b.kernel();
  const int threads = pool ? pool->size() : 1;
  auto block = [&](int t) {
    return reinterpret_cast<std::int32_t*>(workspace.data() + u8s8_block_bytes(kr) * static_cast<std::size_t>(t));
  };
  const std::int64_t col_tiles = (n + kr.nr - 1) / kr.nr, row_panels = (m + kr.mr - 1) / kr.mr;
  if (pool == nullptr || threads == 1 || (col_tiles < 2 && row_panels < 2)) {
    u8s8_macro(a, b, a_zero_point, out, 0, m, 0, n, block(0));
  } else if (col_tiles >= 4 * threads || col_tiles >= row_panels) {
    pool->parallel_for(col_tiles, [&](std::int64_t t0, std::int64_t t1, int t) {
      u8s8_macro(a, b, a_zero_point, out, 0, m, t0 * kr.nr, std::min(n, t1 * kr.nr), block(t));
    });
  } else {
    pool->parallel_for(row_panels, [&](std::int64_t p0, std::int64_t p1, int t) {
      u8s8_macro(a, b, a_zero_point, out, p0 * kr.mr, std::min(m, p1 * kr.mr), 0, n, block(t));
    });
  }
}

}  // namespace detail

/// C[m x n] from A packed by pack_a_u8 (with b's kernel) and a packed B; `a_zero_point` is A's zero point.
/// `workspace`: u8s8_packed_workspace_bytes(b.kernel(), threads) bytes, 64-byte aligned; pool may be null.
/// Activations must lie in b.kernel().a_range (the AVX2 kernel is exact for [0, 127] only). Threads split
/// columns when there are enough NR tiles, rows otherwise, as sgemm does.
inline void gemm_u8s8_packed(const std::uint8_t* a_packed, std::int64_t m, const PackedU8S8B& b,
                             std::int32_t a_zero_point, const U8S8Output& out, ThreadPool* pool,
                             std::span<std::byte> workspace) noexcept {
  detail::u8s8_run({nullptr, 0, a_packed, 0}, m, b, a_zero_point, out, pool, workspace);
}

/// C[m x n] = A [m x b.k()] * B; `workspace`: u8s8_workspace_bytes(m, k, b.kernel(), threads). Row-major A with K
/// a multiple of 4 is read in place (only a last partial MR-row panel is packed, so no kernel reads past row m);
/// otherwise A is packed into the workspace first.
///
///   auto b = gemm::PackedU8S8B::pack({w.data(), n}, k, n).value();          // once, at plan time
///   auto stage = gemm::U8S8OutputStage::create(in.scale, w_scales, out_q, bias).value();
///   gemm::gemm_u8s8({x.data(), k}, m, in.zero_point, b, stage.output(y.data(), n), &pool, workspace);
inline void gemm_u8s8(U8MatrixRef a, std::int64_t m, std::int32_t a_zero_point, const PackedU8S8B& b,
                      const U8S8Output& out, ThreadPool* pool, std::span<std::byte> workspace) noexcept {
  const U8S8Ukernel& kr = b.kernel();
  const std::size_t a_bytes = static_cast<std::size_t>(detail::up(
      static_cast<std::int64_t>(u8s8_packed_a_bytes(m, b.k(), kr)), static_cast<std::int64_t>(tensor_alignment)));
  auto* a_packed = reinterpret_cast<std::uint8_t*>(workspace.data());
  detail::APanels panels{a.data, a.ld, a_packed, 0};
  if (u8s8_reads_a_in_place(a, b.k(), kr)) panels.packed_from = m / kr.mr;
  pack_a_u8(a, m, b.k(), kr, a_packed, panels.packed_from);
  detail::u8s8_run(panels, m, b, a_zero_point, out, pool, workspace.subspan(a_bytes));
}

/// C[m x n] = A * B with every MR-row panel of A read in place, none packed: for callers that write A themselves
/// (im2col) and can give its buffer round_up(m, MR) rows. Rows past m are read but only feed accumulators that
/// are never stored; keep them initialised. Needs u8s8_reads_a_in_place(a, b.k(), b.kernel());
/// `workspace`: u8s8_packed_workspace_bytes(b.kernel(), threads).
inline void gemm_u8s8_rows_padded(U8MatrixRef a, std::int64_t m, std::int32_t a_zero_point, const PackedU8S8B& b,
                                  const U8S8Output& out, ThreadPool* pool, std::span<std::byte> workspace) noexcept {
  const std::int64_t mr = b.kernel().mr;
  detail::u8s8_run({a.data, a.ld, nullptr, (m + mr - 1) / mr}, m, b, a_zero_point, out, pool, workspace);
}

}  // namespace primsel::gemm
