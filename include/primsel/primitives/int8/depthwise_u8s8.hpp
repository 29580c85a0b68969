// DepthwiseU8S8: quantised depthwise convolution (groups = IC = OC), 3x3 and 5x5, stride 1 or 2, on NHWC u8 where
// a pixel's channels are contiguous. With AVX-512 VNNI one vpdpbusd takes four vertical taps at once: the bytes of
// four input rows at one column are interleaved per channel (two unpack stages, 64 channels in four vectors), and
// that column vector serves every output of the tile that reads it; for 3x3 with vertical stride 1 it serves two
// output rows (the fourth row of the dot product, empty for one row, is the next row's). Accumulators start at the zero-point and bias
// correction, are requantised in registers (kernels::u8s8_requantize64, or its _folded form for Relu layers, which
// leaves out the byte clamp when the output range is the whole byte, as a calibrated Relu6's is) and the unpack order is undone by the saturating packs; a last block of <= 32 channels is transposed into 1 or 2
// vectors, so its empty lanes cost nothing. Elsewhere every tap is a vector multiply-add over the widened input into an s32 row, requantised
// per channel by the GEMM's output stage. Padding taps read the input zero point. A scalar path always compiles.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "primsel/primitives/int8/quant_concept.hpp"
#include "primsel/primitives/kernel_table.hpp"
#include "primsel/primitives/kernels/u8s8_gemm_ukernel.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace primsel {

namespace detail {

// One vector of int32 lanes over consecutive channels, per ISA. `masked` lane sets handle a channel tail
// themselves; the others leave it to the scalar lanes.
struct DwLanesScalar {
  static constexpr int lanes = 1, tile = 4;
  static constexpr bool masked = true;
  using Acc = std::int32_t;
  using Mask = int;
  static Mask mask(std::int64_t) noexcept { return 1; }
  static Acc zero() noexcept { return 0; }
  static Acc broadcast(std::int32_t v) noexcept { return v; }
  static Acc load_x(const std::uint8_t* p, Mask) noexcept { return *p; }
  static Acc load_w(const std::int32_t* p, Mask) noexcept { return *p; }
  static Acc mac(Acc a, Acc x, Acc w) noexcept { return a + x * w; }
  static void store(std::int32_t* p, Acc a, Mask) noexcept { *p = a; }
};

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && !defined(PRIMSEL_FORCE_SCALAR)
#define PRIMSEL_DW_U8S8_LANES DwLanesAvx512
struct DwLanesAvx512 {
  // 16 accumulators + weight + input + zero point of 32 zmm.
  static constexpr int lanes = 16, tile = 16;
  static constexpr bool masked = true;
  using Acc = __m512i;
  using Mask = __mmask16;
  static Mask mask(std::int64_t n) noexcept { return n >= 16 ? Mask(0xFFFF) : Mask((1u << n) - 1); }
  static Acc zero() noexcept { return _mm512_setzero_si512(); }
  static Acc broadcast(std::int32_t v) noexcept { return _mm512_set1_epi32(v); }
  // Zero-masked forms: GCC 12's unmasked ones pass an undefined operand that -Wall reports (PR 105593).
  static Acc load_x(const std::uint8_t* p, Mask m) noexcept {
    return _mm512_maskz_cvtepu8_epi32(Mask(0xFFFF), _mm_maskz_loadu_epi8(m, p));
  }
  static Acc load_w(const std::int32_t* p, Mask m) noexcept { return _mm512_maskz_loadu_epi32(m, p); }
  static Acc mac(Acc a, Acc x, Acc w) noexcept {
#if defined(__AVX512VNNI__)
    return _mm512_dpbusd_epi32(a, x, w);
#else
    return _mm512_add_epi32(a, _mm512_mullo_epi32(x, w));
#endif
  }
  static void store(std::int32_t* p, Acc a, Mask m) noexcept { _mm512_mask_storeu_epi32(p, m, a); }
};
#elif defined(__AVX2__) && !defined(PRIMSEL_FORCE_SCALAR)
#define PRIMSEL_DW_U8S8_LANES DwLanesAvx2
struct DwLanesAvx2 {
  // 8 accumulators + weight + input + zero point of 16 ymm.
  static constexpr int lanes = 8, tile = 8;
  static constexpr bool masked = false;
  using Acc = __m256i;
  using Mask = int;
  static Mask mask(std::int64_t) noexcept { return 1; }
  static Acc zero() noexcept { return _mm256_setzero_si256(); }
  static Acc broadcast(std::int32_t v) noexcept { return _mm256_set1_epi32(v); }
  static Acc load_x(const std::uint8_t* p, Mask) noexcept {
    return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
  }
  static Acc load_w(const std::int32_t* p, Mask) noexcept {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  }
  static Acc mac(Acc a, Acc x, Acc w) noexcept {
#if defined(__AVXVNNI__)
    return _mm256_dpbusd_avx_epi32(a, x, w);
#else
    return _mm256_add_epi32(a, _mm256_mullo_epi32(x, w));
#endif
  }
  static void store(std::int32_t* p, Acc a, Mask) noexcept { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), a); }
};
#else
#define PRIMSEL_DW_U8S8_LANES DwLanesScalar
#endif

// The four-tap kernel: byte unpacks and masked byte loads (BW), vpdpbusd (VNNI).
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__) && !defined(PRIMSEL_FORCE_SCALAR)
#define PRIMSEL_DW_U8S8_VNNI 1
#else
#define PRIMSEL_DW_U8S8_VNNI 0
#endif

}  // namespace detail

struct DepthwiseU8S8 {
  static constexpr std::string_view name = "depthwise_u8s8";
  using Lanes = detail::PRIMSEL_DW_U8S8_LANES;

  struct Plan {
    ConvDesc desc;
    std::vector<std::int32_t> weights;  // [KH * KW][C], s8 values widened to s32
    std::vector<std::int32_t> colsum;   // [C] sum over taps: the zero-point correction, as in the GEMM
    gemm::U8S8OutputStage stage;
    std::int32_t input_zero_point = 0;
    // The VNNI kernel's operands (empty without it), 64 channels a block, lanes in unpack order (see vnni_lane):
    std::vector<std::int8_t> vnni_weights;  // [block][vnni_sets][K columns][groups of 4 rows][64 channels][4 rows]
    std::vector<std::int32_t> vnni_consts;  // [block][vnni_const][vnni_stride]
    kernels::U8S8Requant requant = kernels::U8S8Requant::general;  // the form they allow (tests may force general)
    bool fold_zero_point = false;  // high_nonneg with the zero point in the rounding (u8s8_requantize64_folded)
    bool clamp_bytes = true;       // folded: [lo, hi] is narrower than the packs' [0, 255] (u8s8_clamp_needed)
  };

  static Support supports(const ConvDesc& d) {
    if (!d.is_depthwise()) return Support::no("not depthwise (groups = input = output channels)");
    if (d.kh != d.kw || (d.kh != 3 && d.kh != 5)) return Support::no("kernel is not 3x3 or 5x5");
    if (d.sh < 1 || d.sh > 2 || d.sw < 1 || d.sw > 2) return Support::no("stride is not 1 or 2");
    if (d.dh != 1 || d.dw != 1) return Support::no("dilated");
    return Support::yes();
  }
  static Format input_format(const ConvDesc&) { return u8_nhwc; }
  static Format output_format(const ConvDesc&) { return u8_nhwc; }

  static Expected<Plan> plan(const ConvDesc& d, const ConvWeights& w, const ConvQuant& q) {
    PRIMSEL_CHECK(supports(d).ok, ErrorCode::unsupported, std::string(supports(d).why) + ": " + to_string(d));
    PRIMSEL_ASSIGN_OR_RETURN(QuantizedConv qc, QuantizedConv::make(d, w, q));
    const std::int64_t taps = d.kh * d.kw;
    Plan p{d, std::vector<std::int32_t>(static_cast<std::size_t>(taps * d.oc)),
           std::vector<std::int32_t>(static_cast<std::size_t>(d.oc)), std::move(qc.stage), qc.input_zero_point};
    for (std::int64_t c = 0; c < d.oc; ++c)
      for (std::int64_t t = 0; t < taps; ++t) {
        const std::int32_t v = qc.weight[static_cast<std::size_t>(c * taps + t)];
        p.weights[static_cast<std::size_t>(t * d.oc + c)] = v;
        p.colsum[static_cast<std::size_t>(c)] += v;
      }
    if (vnni && kernels::u8s8_fusable(p.stage.zero_point, p.stage.range.lo, p.stage.range.hi)) pack_vnni(p, qc);
    return p;
  }

  /// An input row of zero points (what the VNNI kernel reads above and below the image), then one output row of
  /// s32 accumulators per thread (the other kernels').
  /// The plan's taps widened to s32, their packed s8 copy for the VNNI kernel (64-channel blocks, rows in groups of
  /// 4) and the per-channel output stage: what the network's memory budget counts.
  static std::size_t weight_bytes(const ConvDesc& d) {
    const std::int64_t vnni = (d.oc + 63) / 64 * 64 * d.kw * ((d.kh + 3) / 4) * 4 * vnni_sets(d);
    return static_cast<std::size_t>(d.kh * d.kw * d.oc * 4 + vnni + 16 * d.oc);
  }

  static std::size_t workspace_bytes(const ConvDesc& d, int threads) {
    return zero_row_bytes(d) + static_cast<std::size_t>(threads) * row_bytes(d);
  }

  static void run(const Plan& p, ConstTensorView in, TensorView out, const Context& ctx) noexcept {
#if PRIMSEL_DW_U8S8_VNNI
    if (!p.vnni_weights.empty()) return run_vnni(p, in, out, ctx);
#endif
    run_with(KernelTable<DepthwiseU8S8>::get().lanes, p, in, out, ctx);
  }
  /// The portable path, whatever the target (tests check it on every machine).
  static void run_scalar(const Plan& p, ConstTensorView in, TensorView out, const Context& ctx) noexcept {
    run_with(KernelTable<DepthwiseU8S8>::get().scalar, p, in, out, ctx);
  }

  /// A thread's part must outweigh waking it (a parallel_for round trip is 5-20 us), as in the f32 Depthwise.
  static constexpr std::int64_t min_macs_per_thread = std::int64_t{1} << 20;

 private:
  static std::size_t zero_row_bytes(const ConvDesc& d) noexcept {
    return static_cast<std::size_t>(gemm::detail::up(d.iw * d.ic, static_cast<std::int64_t>(tensor_alignment)));
  }
  static std::size_t row_bytes(const ConvDesc& d) noexcept {
    return static_cast<std::size_t>(
        gemm::detail::up(d.ow * d.oc * 4, static_cast<std::int64_t>(tensor_alignment)));
  }

  /// One output row as its tiles see it.
  struct Row {
    const std::uint8_t* x = nullptr;  // the image
    const std::int32_t* w = nullptr;  // the weights, [taps][C]
    std::int32_t* acc = nullptr;      // the row's accumulators, [OW][C]
    std::int64_t iy0 = 0;             // input row under kernel row 0
  };

  /// How every output row is cut into tiles: the columns whose taps all lie inside the input, [safe_lo, safe_hi),
  /// in tiles of nearly equal width (count tiles of `width`, the first `wider` one column wider), so that no
  /// narrow tile reloads every weight for one or two pixels. The columns either side, which reach into the
  /// padding, get their own edge tiles: their per-tap bounds checks stay off the interior.
  struct Columns {
    std::int64_t safe_lo, safe_hi, count, width, wider;
  };
  static Columns columns(const ConvDesc& d, std::int64_t tile) noexcept {
    const std::int64_t safe_lo = std::min(d.ow, (d.pads.left + d.sw - 1) / d.sw);
    const std::int64_t last_ok = d.iw - d.kw + d.pads.left;  // ox * sw must be <= this
    const std::int64_t safe_hi = std::max(safe_lo, std::min(d.ow, last_ok < 0 ? 0 : last_ok / d.sw + 1));
    const std::int64_t inner = safe_hi - safe_lo, count = (inner + tile - 1) / tile;
    return {safe_lo, safe_hi, count, count ? inner / count : 0, count ? inner % count : 0};
  }

  /// NW output pixels from column ox0, channels [c0, c0 + lanes) under `mask`. Edge tiles, reaching into the left
  /// or right padding, read the zero point for taps outside the input; rows outside it read it for every tap.
  template <class V, int K, int S, int NW, bool Edge>
  static void tile(const ConvDesc& d, const Row& row, std::int64_t ox0, std::int64_t c0, typename V::Mask mask,
                   std::int32_t zero_point) noexcept {
    const std::int64_t C = d.oc, ix0 = ox0 * S - d.pads.left;
    const typename V::Acc zp = V::broadcast(zero_point);
    typename V::Acc acc[NW];
#pragma GCC unroll 16
    for (int j = 0; j < NW; ++j) acc[j] = V::zero();
#pragma GCC unroll 5
    for (int r = 0; r < K; ++r) {
      const std::int64_t iy = row.iy0 + r;
      const bool row_inside = static_cast<std::uint64_t>(iy) < static_cast<std::uint64_t>(d.ih);
      const std::uint8_t* xrow = row_inside ? row.x + iy * d.iw * C + c0 : nullptr;
#pragma GCC unroll 5
      for (int s = 0; s < K; ++s) {
        const typename V::Acc w = V::load_w(row.w + (r * K + s) * C + c0, mask);
        if (!row_inside) {
#pragma GCC unroll 16
          for (int j = 0; j < NW; ++j) acc[j] = V::mac(acc[j], zp, w);
          continue;
        }
#pragma GCC unroll 16
        for (int j = 0; j < NW; ++j) {
          const std::int64_t col = j * S + s;
          const bool inside = !Edge || static_cast<std::uint64_t>(ix0 + col) < static_cast<std::uint64_t>(d.iw);
          acc[j] = V::mac(acc[j], inside ? V::load_x(xrow + (ix0 + col) * C, mask) : zp, w);
        }
      }
    }
#pragma GCC unroll 16
    for (int j = 0; j < NW; ++j) V::store(row.acc + (ox0 + j) * C + c0, acc[j], mask);
  }

  /// Every tile of one output row for the channel vector at c0. The edges (a column or two each side, for a
  /// padding of one or two) take tiles of at most edge_tile columns: wider edge tiles would only add code.
  static constexpr int edge_tile = 4;
  template <class V, int K, int S>
  static void channels(const ConvDesc& d, const Columns& cols, const Row& row, std::int64_t c0,
                       std::int32_t zero_point) noexcept {
    using TileFn = void (*)(const ConvDesc&, const Row&, std::int64_t, std::int64_t, typename V::Mask,
                            std::int32_t) noexcept;
    static constexpr auto tiles = []<int... I>(std::integer_sequence<int, I...>) {
      return std::array<TileFn, sizeof...(I)>{{&tile<V, K, S, I + 1, false>...}};
    }(std::make_integer_sequence<int, V::tile>{});
    constexpr int edge_w = std::min(edge_tile, V::tile);
    static constexpr auto edge_tiles = []<int... I>(std::integer_sequence<int, I...>) {
      return std::array<TileFn, sizeof...(I)>{{&tile<V, K, S, I + 1, true>...}};
    }(std::make_integer_sequence<int, edge_w>{});
    const typename V::Mask mask = V::mask(d.oc - c0);
    auto edges = [&](std::int64_t from, std::int64_t to) {
      for (std::int64_t ox = from; ox < to; ox += edge_w)
        edge_tiles[static_cast<std::size_t>(std::min<std::int64_t>(edge_w, to - ox) - 1)](d, row, ox, c0, mask,
                                                                                         zero_point);
    };
    edges(0, cols.safe_lo);
    for (std::int64_t t = 0, ox = cols.safe_lo; t < cols.count; ++t) {
      const std::int64_t n = cols.width + (t < cols.wider);
      tiles[static_cast<std::size_t>(n - 1)](d, row, ox, c0, mask, zero_point);
      ox += n;
    }
    edges(cols.safe_hi, d.ow);
  }

  /// Output rows [begin, end) of all images (item = n * OH + oy), `acc` this thread's row buffer.
  template <class V, int K, int S>
  static void rows(const Plan& p, const std::uint8_t* x, std::uint8_t* y, std::int32_t* acc, std::int64_t begin,
                   std::int64_t end) noexcept {
    const ConvDesc& d = p.desc;
    const std::int64_t C = d.oc;
    const Columns cols = columns(d, V::tile), scalar_cols = columns(d, detail::DwLanesScalar::tile);
    const kernels::U8S8Epilogue e{p.colsum.data(),
                                  p.input_zero_point,
                                  p.stage.bias.empty() ? nullptr : p.stage.bias.data(),
                                  p.stage.multiplier.data(),
                                  p.stage.shift.data(),
                                  p.stage.zero_point,
                                  p.stage.range.lo,
                                  p.stage.range.hi};
    for (std::int64_t item = begin; item < end; ++item) {
      const std::int64_t n = item / d.oh, oy = item % d.oh;
      const Row row{x + n * d.ih * d.iw * C, p.weights.data(), acc, oy * d.sh - d.pads.top};
      std::int64_t c0 = 0;
      for (; c0 + V::lanes <= C || (V::masked && c0 < C); c0 += V::lanes)
        channels<V, K, S>(d, cols, row, c0, p.input_zero_point);
      for (; c0 < C; ++c0)  // lanes without masks leave the tail to the scalar tiles
        channels<detail::DwLanesScalar, K, S>(d, scalar_cols, row, c0, p.input_zero_point);
      std::uint8_t* out = y + item * d.ow * C;
      for (std::int64_t ox = 0; ox < d.ow; ++ox) kernels::u8s8_output_u8(acc + ox * C, 0, C, e, out + ox * C);
    }
  }


#if PRIMSEL_DW_U8S8_VNNI
  static constexpr bool vnni = true;
#else
  static constexpr bool vnni = false;
#endif
  /// Output columns per VNNI tile: 4 x 4 accumulators, the column vectors and their unpack temporaries in 32 zmm.
  static constexpr int vnni_tile = 4;
  /// A 3x3 kernel with vertical stride 1 fills only three of a dot product's four rows, and two output rows read
  /// four input rows: a two-row tile feeds each interleaved column (8 shuffles per 64 channels) to both rows, the
  /// lower one through a second weight set with the taps one byte on. Its width by column vectors per block keeps
  /// 2 rows x 2 columns x 4 vectors of accumulators (2 x 3 x 2, 2 x 4 x 1) and a column's temporaries in 32 zmm:
  /// 3 columns of 4 vectors spill (measured 76 instructions an output against 72).
  static constexpr bool vnni_two_rows(const ConvDesc& d) noexcept { return d.kh == 3 && d.sh == 1; }
  static constexpr std::int64_t vnni_sets(const ConvDesc& d) noexcept { return vnni_two_rows(d) ? 2 : 1; }
  static constexpr int vnni_tile2(int nv) noexcept { return nv == 4 ? 2 : nv == 2 ? 3 : 4; }
  /// vnni_consts per block: corr, mult, general shift, high shift, round, round with the folded zero point; each
  /// padded for mult's read one lane on.
  enum : std::int64_t {
    vnni_corr, vnni_mult, vnni_shift, vnni_high_shift, vnni_round, vnni_round_zp, vnni_const_count
  };
  static constexpr std::int64_t vnni_stride = 64 + 16;

  /// The channel (within its block of 64) at lane p = 16 q + 4 l + i of the unpacked column vectors: vector q,
  /// 128-bit lane l, dword i hold channel 16 l + 4 q + i. Swapping q and l is its own inverse.
  static constexpr std::int64_t vnni_lane(std::int64_t p) noexcept { return (p % 16) / 4 * 16 + p / 16 * 4 + p % 4; }
  /// Column vectors of the last block: 1 or 2 when its channels fit (it is then transposed: lane p holds channel p,
  /// see tile_vnni), else 4. Kernels take NV = 1, 2 and 4 (indices 0-2 of vnni_nv_index).
  static constexpr int vnni_tail_vectors(std::int64_t channels) noexcept {
    const std::int64_t rem = channels % 64;
    return rem == 0 ? 4 : rem <= 16 ? 1 : rem <= 32 ? 2 : 4;
  }
  static constexpr std::size_t vnni_nv_index(int nv) noexcept { return nv == 1 ? 0 : nv == 2 ? 1 : 2; }

  static void pack_vnni(Plan& p, const QuantizedConv& qc) {
    const ConvDesc& d = p.desc;
    const std::int64_t K = d.kh, G = (K + 3) / 4, blocks = (d.oc + 63) / 64, sets = vnni_sets(d);
    p.vnni_weights.assign(static_cast<std::size_t>(blocks * sets * K * G * 256), 0);
    p.vnni_consts.assign(static_cast<std::size_t>(blocks * vnni_const_count * vnni_stride), 0);
    bool high = true, foldable = p.stage.zero_point >= 0;
    const bool tail_transposed = vnni_tail_vectors(d.oc) < 4;
    for (std::int64_t b = 0; b < blocks; ++b)
      for (std::int64_t lane = 0; lane < vnni_stride; ++lane) {
        const bool transposed = tail_transposed && b == blocks - 1;
        const std::int64_t c = b * 64 + (transposed ? lane % 64 : vnni_lane(lane % 64));
        const bool in = lane < 64 && c < d.oc;
        auto at = [&](std::int64_t k) -> std::int32_t& {
          return p.vnni_consts[static_cast<std::size_t>((b * vnni_const_count + k) * vnni_stride + lane)];
        };
        const auto cu = static_cast<std::size_t>(c);
        at(vnni_corr) = in ? static_cast<std::int32_t>(
                                 (p.stage.bias.empty() ? 0u : static_cast<std::uint32_t>(p.stage.bias[cu])) -
                                 static_cast<std::uint32_t>(p.input_zero_point) *
                                     static_cast<std::uint32_t>(p.colsum[cu]))
                           : 0;
        at(vnni_mult) = in ? p.stage.multiplier[cu] : 0;
        at(vnni_shift) = in ? p.stage.shift[cu] : 1;
        high = kernels::u8s8_high_form(at(vnni_mult), at(vnni_shift), at(vnni_high_shift), at(vnni_round)) && high;
        foldable = foldable && kernels::u8s8_foldable(at(vnni_high_shift), p.stage.zero_point);
        if (high && foldable) at(vnni_round_zp) = at(vnni_round) + (p.stage.zero_point << at(vnni_high_shift));
        if (!in) continue;
        for (std::int64_t set = 0; set < sets; ++set)  // set 1 (the lower output row) reads rows one further down
          for (std::int64_t s = 0; s < K; ++s)
            for (std::int64_t r = 0; r < K; ++r)
              p.vnni_weights[static_cast<std::size_t>(
                  ((((b * sets + set) * K + s) * G + (r + set) / 4) * 64 + lane) * 4 + (r + set) % 4)] =
                  qc.weight[static_cast<std::size_t>((c * K + r) * K + s)];
      }
    using kernels::U8S8Requant;
    p.requant = !high ? U8S8Requant::general
                : p.stage.range.lo >= p.stage.zero_point ? U8S8Requant::high_nonneg
                                                         : U8S8Requant::high;
    p.fold_zero_point = p.requant == U8S8Requant::high_nonneg && foldable;
    p.clamp_bytes = !p.fold_zero_point || kernels::u8s8_clamp_needed(p.stage.range.lo, p.stage.range.hi);
  }

#if PRIMSEL_DW_U8S8_VNNI
  /// One or two output rows' 64-channel block as the VNNI tiles see it.
  struct VnniRow {
    const std::uint8_t* rows[8];  // input rows under kernel rows 0-7 of the first output row, at the block's
                                  // first channel (zero points outside the image), or null past what is read
    const std::int8_t* w;         // the block's weights (the second output row's set follows the first's)
    kernels::U8S8FusedStage stage;
    std::uint8_t* out;            // the output row at the block's first channel
    std::int64_t C, iw, pad_left, out_row;  // out_row: from one output row to the next
    __mmask64 mask;               // the block's channels
    __m512i zero_points;          // the input zero point in every byte
  };

  /// Output columns [ox0, ox0 + NW) of R output rows (1, or 2 for vnni_two_rows) of one block. Input columns are
  /// visited once each: a column's four-row vectors (G of them) meet the weights of every output in the tile whose
  /// window covers it. A block of at most 16 NV < 64 channels (the last one of e.g. 32, 96 or 144) transposes each
  /// row's dwords (see vnni_lane) so that its channels fill the first NV column vectors: the others are neither
  /// multiplied nor requantised.
  template <int K, int S, int R, int NW, bool Edge, kernels::U8S8Requant Mode, bool Fold, bool Clamp, int NV>
  static void tile_vnni(const VnniRow& r, std::int64_t ox0) noexcept {
    constexpr int G = (K + 3) / 4, span = (NW - 1) * S + K, rows_read = K + R - 1;
    static_assert(R == 1 || rows_read <= 4 * G, "a second output row must fit the dot products' spare rows");
    // The stores are bytes, which may alias r: its fields are read once, not after every store.
    const std::int64_t C = r.C, iw = r.iw, ix0 = ox0 * S - r.pad_left, out_row = r.out_row;
    const __mmask64 mask = r.mask;
    const __m512i zero_points = r.zero_points;
    const kernels::U8S8FusedStage st = r.stage;
    const __m512i transpose = _mm512_set_epi32(15, 11, 7, 3, 14, 10, 6, 2, 13, 9, 5, 1, 12, 8, 4, 0);
    __m512i acc[R][NW][4];
#pragma GCC unroll 4
    for (int q = 0; q < 4; ++q) {
      const __m512i corr = q < NV ? _mm512_loadu_si512(st.corr + 16 * q) : _mm512_setzero_si512();
#pragma GCC unroll 2
      for (int y = 0; y < R; ++y)
#pragma GCC unroll 8
        for (int j = 0; j < NW; ++j) acc[y][j][q] = corr;
    }
#pragma GCC unroll 16
    for (int c = 0; c < span; ++c) {
      const std::int64_t ix = ix0 + c;
      const bool inside = !Edge || static_cast<std::uint64_t>(ix) < static_cast<std::uint64_t>(iw);
      // Each weight vector is read once per column: as a memory operand of its dot product, not held in one of the
      // registers the accumulators need (the compiler would hoist them all and spill).
      const std::int8_t* w_col = r.w;
      asm("" : "+r"(w_col));
#pragma GCC unroll 2
      for (int g = 0; g < G; ++g) {
        __m512i x[4];
#pragma GCC unroll 4
        for (int t = 0; t < 4; ++t) {
          x[t] = 4 * g + t >= rows_read ? _mm512_setzero_si512()
                 : inside               ? _mm512_maskz_loadu_epi8(mask, r.rows[4 * g + t] + ix * C)
                                        : zero_points;
          if (NV < 4 && inside && 4 * g + t < rows_read)
            x[t] = _mm512_maskz_permutexvar_epi32(kernels::detail::all16, transpose, x[t]);
        }
        const __m512i x01l = _mm512_unpacklo_epi8(x[0], x[1]), x01h = _mm512_unpackhi_epi8(x[0], x[1]);
        const __m512i x23l = _mm512_unpacklo_epi8(x[2], x[3]), x23h = _mm512_unpackhi_epi8(x[2], x[3]);
        const __m512i v[4] = {_mm512_unpacklo_epi16(x01l, x23l), _mm512_unpackhi_epi16(x01l, x23l),
                              _mm512_unpacklo_epi16(x01h, x23h), _mm512_unpackhi_epi16(x01h, x23h)};
#pragma GCC unroll 2
        for (int y = 0; y < R; ++y)
#pragma GCC unroll 8
          for (int j = 0; j < NW; ++j) {
            const int s = c - j * S;
            if (s < 0 || s >= K) continue;
            const std::int8_t* w = w_col + ((y * K + s) * G + g) * 256;
#pragma GCC unroll 4
            for (int q = 0; q < NV; ++q)
              acc[y][j][q] = _mm512_dpbusd_epi32(acc[y][j][q], v[q], _mm512_loadu_si512(w + 64 * q));
          }
      }
    }
#pragma GCC unroll 2
    for (int y = 0; y < R; ++y)
#pragma GCC unroll 8
      for (int j = 0; j < NW; ++j) {
        const __m512i bytes = Fold ? kernels::u8s8_requantize64_folded<NV, Clamp>(acc[y][j], st.mult, st.shift,
                                                                                  st.round, st.lo, st.hi)
                                   : kernels::u8s8_requantize64<Mode, NV>(acc[y][j], st, 0);
        // The packs put vector q's dword 4 l + i at byte 16 l + 4 q + i: in a transposed block, undo the transpose.
        _mm512_mask_storeu_epi8(
            r.out + y * out_row + (ox0 + j) * C, mask,
            NV < 4 ? _mm512_maskz_permutexvar_epi32(kernels::detail::all16, transpose, bytes) : bytes);
      }
  }

  /// Output rows [begin, end) of all images (item = n * OH + oy); `zero_row` is an input row of zero points. Where
  /// the plan has a second weight set (vnni_two_rows), rows go in pairs within an image.
  template <int K, int S, kernels::U8S8Requant Mode, bool Fold, bool Clamp>
  static void rows_vnni(const Plan& p, const std::uint8_t* x, std::uint8_t* y, const std::uint8_t* zero_row,
                        std::int64_t begin, std::int64_t end) noexcept {
    using TileFn = void (*)(const VnniRow&, std::int64_t) noexcept;
    using Tiles = std::array<std::array<TileFn, 2>, vnni_tile>;  // [width - 1][edge], widths beyond the max unused
    static constexpr auto tiles_of = []<int R, int NV, int... I>(std::integer_sequence<int, I...>) {
      constexpr int max = R == 1 ? vnni_tile : vnni_tile2(NV);
      return Tiles{{{&tile_vnni<K, S, R, std::min(I + 1, max), false, Mode, Fold, Clamp, NV>,
                     &tile_vnni<K, S, R, std::min(I + 1, max), true, Mode, Fold, Clamp, NV>}...}};
    };
    // [rows - 1][vnni_nv_index]; two-row tiles only where K leaves the dot products a spare row.
    constexpr int R2 = K == 3 ? 2 : 1;
    static constexpr std::array<std::array<Tiles, 3>, 2> tiles_by_rows_nv{{
        {{tiles_of.template operator()<1, 1>(std::make_integer_sequence<int, vnni_tile>{}),
          tiles_of.template operator()<1, 2>(std::make_integer_sequence<int, vnni_tile>{}),
          tiles_of.template operator()<1, 4>(std::make_integer_sequence<int, vnni_tile>{})}},
        {{tiles_of.template operator()<R2, 1>(std::make_integer_sequence<int, vnni_tile>{}),
          tiles_of.template operator()<R2, 2>(std::make_integer_sequence<int, vnni_tile>{}),
          tiles_of.template operator()<R2, 4>(std::make_integer_sequence<int, vnni_tile>{})}}}};
    const ConvDesc& d = p.desc;
    const std::int64_t C = d.oc, G = (K + 3) / 4, sets = vnni_sets(d);
    const bool two_rows = K == 3 && vnni_two_rows(d);
    const bool high = Mode != kernels::U8S8Requant::general;
    // The whole row in tiles of nearly equal width (count of them, the first `wider` one column wider), by rows
    // and column vectors; those reaching into the padding check their columns. (A padding column alone in its
    // own tile would miss the sharing of the columns next to it.)
    struct Cut {
      std::int64_t count, width, wider;
    };
    auto cut = [&](std::int64_t width) {
      const std::int64_t count = (d.ow + width - 1) / width;
      return Cut{count, d.ow / count, d.ow % count};
    };
    const std::array<std::array<Cut, 3>, 2> cuts{{{cut(vnni_tile), cut(vnni_tile), cut(vnni_tile)},
                                                  {cut(vnni_tile2(1)), cut(vnni_tile2(2)), cut(vnni_tile2(4))}}};
    const Columns safe = columns(d, 1);  // only its bounds
    VnniRow r{};
    r.C = C, r.iw = d.iw, r.pad_left = d.pads.left, r.out_row = d.ow * C;
    r.zero_points = _mm512_set1_epi8(static_cast<char>(p.input_zero_point));
    for (std::int64_t item = begin; item < end;) {
      const std::int64_t n = item / d.oh, oy = item % d.oh;
      const int R = two_rows && item + 1 < end && oy + 1 < d.oh ? 2 : 1;
      for (std::int64_t c0 = 0; c0 < C; c0 += 64) {
        const std::int64_t b = c0 / 64;
        const int nv = c0 + 64 > C ? vnni_tail_vectors(C) : 4;
        const Tiles& tiles = tiles_by_rows_nv[static_cast<std::size_t>(R - 1)][vnni_nv_index(nv)];
        const Cut& row_cut = cuts[static_cast<std::size_t>(R - 1)][vnni_nv_index(nv)];
        for (std::int64_t k = 0; k < K + R - 1; ++k) {
          const std::int64_t iy = oy * d.sh - d.pads.top + k;
          r.rows[k] = (static_cast<std::uint64_t>(iy) < static_cast<std::uint64_t>(d.ih)
                           ? x + (n * d.ih + iy) * d.iw * C
                           : zero_row) +
                      c0;
        }
        r.w = p.vnni_weights.data() + b * sets * K * G * 256;
        const std::int32_t* consts = p.vnni_consts.data() + b * vnni_const_count * vnni_stride;
        r.stage = {consts + vnni_corr * vnni_stride,
                   consts + vnni_mult * vnni_stride,
                   consts + (high ? vnni_high_shift : vnni_shift) * vnni_stride,
                   consts + (Fold ? vnni_round_zp : vnni_round) * vnni_stride,
                   p.stage.zero_point,
                   p.stage.range.lo,
                   p.stage.range.hi,
                   Mode};
        r.out = y + item * d.ow * C + c0;
        r.mask = C - c0 >= 64 ? ~__mmask64{0} : (__mmask64{1} << (C - c0)) - 1;
        for (std::int64_t t = 0, ox = 0; t < row_cut.count; ++t) {
          const std::int64_t w = row_cut.width + (t < row_cut.wider);
          tiles[static_cast<std::size_t>(w - 1)][ox < safe.safe_lo || ox + w > safe.safe_hi](r, ox);
          ox += w;
        }
      }
      item += R;
    }
  }

  using VnniRowsFn = void (*)(const Plan&, const std::uint8_t*, std::uint8_t*, const std::uint8_t*, std::int64_t,
                              std::int64_t) noexcept;
  /// By the plan's form: kernels::U8S8Requant, then high_nonneg folded, then folded without the byte clamp.
  template <int K, int S>
  static constexpr std::array<VnniRowsFn, 5> vnni_by_mode{
      {&rows_vnni<K, S, kernels::U8S8Requant::general, false, true>,
       &rows_vnni<K, S, kernels::U8S8Requant::high, false, true>,
       &rows_vnni<K, S, kernels::U8S8Requant::high_nonneg, false, true>,
       &rows_vnni<K, S, kernels::U8S8Requant::high_nonneg, true, true>,
       &rows_vnni<K, S, kernels::U8S8Requant::high_nonneg, true, false>}};
  static std::size_t vnni_form(const Plan& p) noexcept {
    return static_cast<std::size_t>(p.requant) + p.fold_zero_point + !p.clamp_bytes;
  }

  static void run_vnni(const Plan& p, ConstTensorView in, TensorView out, const Context& ctx) noexcept {
    const ConvDesc& d = p.desc;
    const VnniRowsFn kernel =
        KernelTable<DepthwiseU8S8>::get().vnni[shape_index(d)][vnni_form(p)];
    auto* zero_row = reinterpret_cast<std::uint8_t*>(ctx.workspace.data());
    std::fill(zero_row, zero_row + d.iw * d.ic, static_cast<std::uint8_t>(p.input_zero_point));
    const std::int64_t items = d.n * d.oh;
    const std::int64_t parts = std::clamp<std::int64_t>(d.macs() / min_macs_per_thread, 1, ctx.threads());
    auto work = [&](std::int64_t b, std::int64_t e, int) {
      kernel(p, in.data<std::uint8_t>(), out.data<std::uint8_t>(), zero_row, items * b / parts, items * e / parts);
    };
    if (parts > 1 && ctx.pool)
      ctx.pool->parallel_for(parts, work);
    else
      work(0, 1, 0);
  }
#endif

  using RowsFn = void (*)(const Plan&, const std::uint8_t*, std::uint8_t*, std::int32_t*, std::int64_t,
                          std::int64_t) noexcept;
  static void run_with(const std::array<RowsFn, 4>& by_shape, const Plan& p, ConstTensorView in, TensorView out,
                       const Context& ctx) noexcept {
    const ConvDesc& d = p.desc;
    const RowsFn kernel = by_shape[shape_index(d)];
    const std::int64_t items = d.n * d.oh;
    const std::int64_t parts = std::clamp<std::int64_t>(d.macs() / min_macs_per_thread, 1, ctx.threads());
    auto work = [&](std::int64_t b, std::int64_t e, int t) {
      auto* acc = reinterpret_cast<std::int32_t*>(ctx.workspace.data() + zero_row_bytes(d) +
                                                  row_bytes(d) * static_cast<std::size_t>(t));
      kernel(p, in.data<std::uint8_t>(), out.data<std::uint8_t>(), acc, items * b / parts, items * e / parts);
    };
    if (parts > 1 && ctx.pool)
      ctx.pool->parallel_for(parts, work);
    else
      work(0, 1, 0);
  }

  /// Every kernel by shape (3x3 / 1, 3x3 / 2, 5x5 / 1, 5x5 / 2): the vector lanes', the portable ones and, with
  /// VNNI, one per requantisation mode.
  static std::size_t shape_index(const ConvDesc& d) noexcept {
    return static_cast<std::size_t>((d.kw == 5) * 2 + (d.sw == 2));
  }
  template <class V>
  static constexpr std::array<RowsFn, 4> rows_by_shape{{&rows<V, 3, 1>, &rows<V, 3, 2>, &rows<V, 5, 1>, &rows<V, 5, 2>}};
  friend struct KernelTable<DepthwiseU8S8>;
  struct Kernels {
    std::array<RowsFn, 4> lanes, scalar;
#if PRIMSEL_DW_U8S8_VNNI
    std::array<std::array<VnniRowsFn, 5>, 4> vnni;  // by shape, then vnni_form
#endif
  };
  template <int = 0>  // a template: its kernels are instantiated only where KernelTable<P>::get() is
  static constexpr Kernels make_kernels() noexcept {
    return {rows_by_shape<Lanes>, rows_by_shape<detail::DwLanesScalar>
#if PRIMSEL_DW_U8S8_VNNI
            ,
            {{vnni_by_mode<3, 1>, vnni_by_mode<3, 2>, vnni_by_mode<5, 1>, vnni_by_mode<5, 2>}}
#endif
    };
  }
};
static_assert(QuantConvPrimitive<DepthwiseU8S8>);
#ifdef PRIMSEL_EXTERN_DEFAULT_CANDIDATES
extern template struct KernelTable<DepthwiseU8S8>;  // compiled once: runtime/default_candidates.hpp
#endif

}  // namespace primsel
