// The non-convolution ops on u8 NHWC activations (real = scale * (q - zero_point), per tensor), so a quantised
// network stays in u8 through residual Adds, pooling and Concat instead of dequantising around each: these ops are
// memory-bound, and a byte moves a quarter of what a float does. What each computes, exactly:
//   AddU8              fixed point as TFLite/XNNPACK's qadd (two multipliers, one shift, round half up); within
//                      1 LSB of quantize(dequantize(a) + dequantize(b)), the error bound is derived at AddU8.
//   MaxPoolU8          the max of the bytes, then a requantisation table: exact, since quantize and dequantize are
//                      monotone, so the max commutes with them.
//   AveragePoolU8, GlobalAveragePoolU8   exact int32 window sums, then one float multiply and one round half to
//                      even (the formula is at AveragePoolU8).
//   ConcatU8, ClampU8  the 256-entry table t[v] = quantize(f(dequantize(v))): a u8 input has only 256 values, so the
//                      table *is* the f32 formula, exactly, at the price of a byte lookup (vpermi2b with VBMI).
// Every output stays within y's levels [0, y.qmax] (7-bit tensors where the int8 GEMM needs them).
// AVX-512BW or AVX2 intrinsics; the scalar path always compiles (PRIMSEL_FORCE_SCALAR, other targets).
//
//   PRIMSEL_RETURN_IF_ERROR(ops::AddU8::check(a, b, y, Activation::relu()));   // u8 NHWC, y.quant() its own
//   ops::AddU8::run(a, b, y, Activation::relu(), &pool);
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

#include "primsel/graph/op.hpp"
#include "primsel/primitives/concept.hpp"
#include "primsel/primitives/ops/eltwise.hpp"
#include "primsel/primitives/ops/op_support.hpp"
#include "primsel/primitives/ops/pooling.hpp"
#include "primsel/quant/quantize.hpp"

#if (defined(__x86_64__) || defined(__i386__)) && !defined(PRIMSEL_FORCE_SCALAR)
#include <immintrin.h>
#endif

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && !defined(PRIMSEL_FORCE_SCALAR)
#define PRIMSEL_OPS_U8_AVX512 1
#elif defined(__AVX2__) && !defined(PRIMSEL_FORCE_SCALAR)
#define PRIMSEL_OPS_U8_AVX2 1
#endif

namespace primsel::ops {

namespace detail {

// ---- lanes: int32 lanes over bytes (sums, fixed point) and byte lanes (max, clamp), per ISA -------------------
// `masked` lane sets handle a tail themselves; for the others for_lanes finishes it with the scalar lanes.

struct I32LanesScalar {
  static constexpr std::int64_t lanes = 1;
  static constexpr bool masked = true;
  using V = std::int32_t;
  using Mask = int;
  static Mask mask(std::int64_t n) noexcept { return n > 0; }
  static V set1(std::int32_t v) noexcept { return v; }
  static V load(const std::uint8_t* p, Mask m) noexcept { return m ? *p : 0; }
  static void store(std::uint8_t* p, V v, Mask m) noexcept {
    if (m) *p = static_cast<std::uint8_t>(v);
  }
  // Wrapping, as the vector instructions wrap (AddU8 folds a bias that only the final sum keeps in range).
  static V add(V a, V b) noexcept {
    return static_cast<V>(static_cast<std::uint32_t>(a) + static_cast<std::uint32_t>(b));
  }
  static V mul(V a, V b) noexcept {
    return static_cast<V>(static_cast<std::uint32_t>(a) * static_cast<std::uint32_t>(b));
  }
  static V sra(V a, int s) noexcept { return a >> s; }
  static V max(V a, V b) noexcept { return a > b ? a : b; }
  static V min(V a, V b) noexcept { return a < b ? a : b; }
  /// nearbyint(float(v) * m) (round half to even in the default mode), the product first clamped to +-1024 so the
  /// conversion cannot overflow (a result beyond [0, 255] is clamped later anyway).
  static V round_scaled(V v, float m) noexcept {
    return static_cast<V>(std::nearbyint(std::clamp(static_cast<float>(v) * m, -1024.0f, 1024.0f)));
  }
};

struct ByteLanesScalar {
  static constexpr std::int64_t lanes = 1;
  static constexpr bool masked = true;
  using V = std::uint8_t;
  using Mask = int;
  static Mask mask(std::int64_t n) noexcept { return n > 0; }
  static V set1(std::uint8_t v) noexcept { return v; }
  static V load(const std::uint8_t* p, Mask m) noexcept { return m ? *p : 0; }
  static void store(std::uint8_t* p, V v, Mask m) noexcept {
    if (m) *p = v;
  }
  static V max(V a, V b) noexcept { return a > b ? a : b; }
  static V min(V a, V b) noexcept { return a < b ? a : b; }
};

#if defined(PRIMSEL_OPS_U8_AVX512)
// Zero-masked forms throughout: GCC 12's unmasked ones pass an undefined operand that -Wall reports (PR 105593).
struct I32LanesAvx512 {
  static constexpr std::int64_t lanes = 16;
  static constexpr bool masked = true;
  using V = __m512i;
  using Mask = __mmask16;
  static constexpr Mask all = 0xFFFF;
  static Mask mask(std::int64_t n) noexcept { return n >= 16 ? all : n <= 0 ? Mask(0) : Mask((1u << n) - 1); }
  static V set1(std::int32_t v) noexcept { return _mm512_set1_epi32(v); }
  static V load(const std::uint8_t* p, Mask m) noexcept {
    return _mm512_maskz_cvtepu8_epi32(all, _mm_maskz_loadu_epi8(m, p));
  }
  static void store(std::uint8_t* p, V v, Mask m) noexcept { _mm512_mask_cvtepi32_storeu_epi8(p, m, v); }
  static V add(V a, V b) noexcept { return _mm512_add_epi32(a, b); }
  static V mul(V a, V b) noexcept { return _mm512_mullo_epi32(a, b); }
  static V sra(V a, int s) noexcept { return _mm512_maskz_sra_epi32(all, a, _mm_cvtsi32_si128(s)); }
  static V max(V a, V b) noexcept { return _mm512_maskz_max_epi32(all, a, b); }
  static V min(V a, V b) noexcept { return _mm512_maskz_min_epi32(all, a, b); }
  static V round_scaled(V v, float m) noexcept {
    __m512 f = _mm512_mul_ps(_mm512_maskz_cvtepi32_ps(all, v), _mm512_set1_ps(m));
    f = _mm512_maskz_min_ps(all, _mm512_maskz_max_ps(all, f, _mm512_set1_ps(-1024.0f)), _mm512_set1_ps(1024.0f));
    return _mm512_maskz_cvtps_epi32(all, f);  // the current rounding mode, as nearbyint
  }
};

struct ByteLanesAvx512 {
  static constexpr std::int64_t lanes = 64;
  static constexpr bool masked = true;
  using V = __m512i;
  using Mask = __mmask64;
  static constexpr Mask all = ~Mask(0);
  static Mask mask(std::int64_t n) noexcept { return n >= 64 ? all : n <= 0 ? Mask(0) : (Mask(1) << n) - 1; }
  static V set1(std::uint8_t v) noexcept { return _mm512_set1_epi8(static_cast<char>(v)); }
  static V load(const std::uint8_t* p, Mask m) noexcept { return _mm512_maskz_loadu_epi8(m, p); }
  static void store(std::uint8_t* p, V v, Mask m) noexcept { _mm512_mask_storeu_epi8(p, m, v); }
  static V max(V a, V b) noexcept { return _mm512_maskz_max_epu8(all, a, b); }
  static V min(V a, V b) noexcept { return _mm512_maskz_min_epu8(all, a, b); }
};
using I32Lanes = I32LanesAvx512;
using ByteLanes = ByteLanesAvx512;
#elif defined(PRIMSEL_OPS_U8_AVX2)
struct I32LanesAvx2 {
  static constexpr std::int64_t lanes = 8;
  static constexpr bool masked = false;
  using V = __m256i;
  using Mask = int;
  static Mask mask(std::int64_t) noexcept { return 1; }
  static V set1(std::int32_t v) noexcept { return _mm256_set1_epi32(v); }
  static V load(const std::uint8_t* p, Mask) noexcept {
    return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
  }
  /// v's lanes are in [0, 255]: byte 0 of each dword, gathered per 128-bit half, then the halves joined.
  static void store(std::uint8_t* p, V v, Mask) noexcept {
    const __m256i pick = _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,  //
                                          0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
    const __m256i t = _mm256_shuffle_epi8(v, pick);
    _mm_storel_epi64(reinterpret_cast<__m128i*>(p),
                     _mm_unpacklo_epi32(_mm256_castsi256_si128(t), _mm256_extracti128_si256(t, 1)));
  }
  static V add(V a, V b) noexcept { return _mm256_add_epi32(a, b); }
  static V mul(V a, V b) noexcept { return _mm256_mullo_epi32(a, b); }
  static V sra(V a, int s) noexcept { return _mm256_sra_epi32(a, _mm_cvtsi32_si128(s)); }
  static V max(V a, V b) noexcept { return _mm256_max_epi32(a, b); }
  static V min(V a, V b) noexcept { return _mm256_min_epi32(a, b); }
  static V round_scaled(V v, float m) noexcept {
    __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(v), _mm256_set1_ps(m));
    f = _mm256_min_ps(_mm256_max_ps(f, _mm256_set1_ps(-1024.0f)), _mm256_set1_ps(1024.0f));
    return _mm256_cvtps_epi32(f);
  }
};

struct ByteLanesAvx2 {
  static constexpr std::int64_t lanes = 32;
  static constexpr bool masked = false;
  using V = __m256i;
  using Mask = int;
  static Mask mask(std::int64_t) noexcept { return 1; }
  static V set1(std::uint8_t v) noexcept { return _mm256_set1_epi8(static_cast<char>(v)); }
  static V load(const std::uint8_t* p, Mask) noexcept {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  }
  static void store(std::uint8_t* p, V v, Mask) noexcept { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }
  static V max(V a, V b) noexcept { return _mm256_max_epu8(a, b); }
  static V min(V a, V b) noexcept { return _mm256_min_epu8(a, b); }
};
using I32Lanes = I32LanesAvx2;
using ByteLanes = ByteLanesAvx2;
#else
using I32Lanes = I32LanesScalar;
using ByteLanes = ByteLanesScalar;
#endif

/// Calls f(L{}, i, mask) for the vectors of [0, n); an unmasked L leaves the tail to S's single lanes.
template <class L, class S, class F>
inline void for_lanes(std::int64_t n, F&& f) noexcept {
  std::int64_t i = 0;
  const auto full = L::mask(L::lanes);
#pragma GCC unroll 4
  for (; i + L::lanes <= n; i += L::lanes) f(L{}, i, full);
  if constexpr (L::masked) {
    if (i < n) f(L{}, i, L::mask(n - i));
  } else {
    for (; i < n; ++i) f(S{}, i, S::mask(1));
  }
}

// ---- byte maps: requantisation and clamps as a 256-entry table ------------------------------------------------

/// y = t[x] with t[v] = quantize(act(dequantize(v, from)), to): exactly the f32 formula for every byte. `kind` says
/// what the table amounts to, so the common cases skip the lookup: equal parameters give the identity (a copy),
/// and a clamp on equal parameters gives clamp(v, lo, hi) (byte min/max).
struct ByteMap {
  enum class Kind : std::uint8_t { copy, clamp, lookup };
  std::array<std::uint8_t, 256> table;
  Kind kind = Kind::lookup;
  std::uint8_t lo = 0, hi = 255;

  static ByteMap make(QuantParams from, QuantParams to, Activation act = {}) noexcept {
    ByteMap m;
    for (int v = 0; v < 256; ++v)
      m.table[static_cast<std::size_t>(v)] =
          static_cast<std::uint8_t>(quant::quantize(act.apply(quant::dequantize(v, from)), to, quant::levels(to)));
    m.lo = m.table[0], m.hi = m.table[255];
    bool clamp = true;
    for (int v = 0; v < 256 && clamp; ++v)
      clamp = m.table[static_cast<std::size_t>(v)] == std::clamp<int>(v, m.lo, m.hi);
    m.kind = !clamp ? Kind::lookup : m.lo == 0 && m.hi == 255 ? Kind::copy : Kind::clamp;
    return m;
  }

  /// y[i] = table[x[i]] for i in [0, n); x == y is allowed.
  void apply(const std::uint8_t* x, std::uint8_t* y, std::int64_t n) const noexcept {
    switch (kind) {
      case Kind::copy:
        if (x != y && n > 0) std::memcpy(y, x, static_cast<std::size_t>(n));
        return;
      case Kind::clamp:
        for_lanes<ByteLanes, ByteLanesScalar>(n, [&](auto lanes, std::int64_t i, auto m) {
          using B = decltype(lanes);
          B::store(y + i, B::min(B::max(B::load(x + i, m), B::set1(lo)), B::set1(hi)), m);
        });
        return;
      case Kind::lookup:
        return lookup(x, y, n);
    }
  }

 private:
  void lookup(const std::uint8_t* x, std::uint8_t* y, std::int64_t n) const noexcept {
#if defined(PRIMSEL_OPS_U8_AVX512) && defined(__AVX512VBMI__)
    // vpermi2b looks a byte up among 128: two lookups, one per half of the table, and the index's top bit picks.
    const __m512i t0 = _mm512_loadu_si512(table.data()), t1 = _mm512_loadu_si512(table.data() + 64);
    const __m512i t2 = _mm512_loadu_si512(table.data() + 128), t3 = _mm512_loadu_si512(table.data() + 192);
    for (std::int64_t i = 0; i < n; i += 64) {
      const __mmask64 m = ByteLanesAvx512::mask(n - i);
      const __m512i idx = _mm512_maskz_loadu_epi8(m, x + i);
      const __m512i low = _mm512_permutex2var_epi8(t0, idx, t1), high = _mm512_permutex2var_epi8(t2, idx, t3);
      _mm512_mask_storeu_epi8(y + i, m, _mm512_mask_blend_epi8(_mm512_movepi8_mask(idx), low, high));
    }
#else
    // Without VBMI a 256-entry table takes 16 pshufb and blends per vector: the scalar lookup is about as fast.
    for (std::int64_t i = 0; i < n; ++i) y[i] = table[x[i]];
#endif
  }
};

// ---- window sums: average pooling ------------------------------------------------------------------------------

/// One output pixel's window: input pixel (iy, ix) at x + (iy * iw + ix) * C, rows wy, columns wx. `offset` is
/// taps * x zero point, `m` the float multiplier, `zero_point` and `qmax` y's.
struct AverageWindow {
  const std::uint8_t* x;
  std::int64_t iw, C;
  Window wy, wx;
  std::int32_t offset;
  float m;
  std::int32_t zero_point, qmax;
};

/// NV vectors of channels from c (len channels, masked lanes beyond): sums every tap into int32 lanes, one pass over
/// the window for all NV vectors (a 64-channel pixel is one cache line), then y = clamp(round(float(sum - offset) *
/// m) + zero point, 0, qmax).
template <class L, int NV>
inline void average_vectors(const AverageWindow& w, std::int64_t c, std::int64_t len, std::uint8_t* y) noexcept {
  typename L::Mask mask[NV];
  typename L::V acc[NV];
#pragma GCC unroll 4
  for (int j = 0; j < NV; ++j) mask[j] = L::mask(len - j * L::lanes), acc[j] = L::set1(0);
  for (std::int64_t iy = w.wy.begin; iy < w.wy.end; ++iy)
    for (std::int64_t ix = w.wx.begin; ix < w.wx.end; ++ix) {
      const std::uint8_t* px = w.x + (iy * w.iw + ix) * w.C + c;
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) acc[j] = L::add(acc[j], L::load(px + j * L::lanes, mask[j]));
    }
#pragma GCC unroll 4
  for (int j = 0; j < NV; ++j) {
    const typename L::V q = L::add(L::round_scaled(L::add(acc[j], L::set1(-w.offset)), w.m), L::set1(w.zero_point));
    L::store(y + c + j * L::lanes, L::min(L::max(q, L::set1(0)), L::set1(w.qmax)), mask[j]);
  }
}

/// All C channels of one output pixel.
inline void average_pixel(const AverageWindow& w, std::uint8_t* y) noexcept {
  using L = I32Lanes;
  constexpr std::int64_t U = 4 * L::lanes;
  std::int64_t c = 0;
  for (; c + U <= w.C; c += U) average_vectors<L, 4>(w, c, U, y);
  if constexpr (L::masked) {
    const std::int64_t rest = w.C - c;
    if (rest > 2 * L::lanes)
      average_vectors<L, 4>(w, c, rest, y);
    else if (rest > 0)
      average_vectors<L, 2>(w, c, rest, y);
  } else {
    for (; c + L::lanes <= w.C; c += L::lanes) average_vectors<L, 1>(w, c, L::lanes, y);
    for (; c < w.C; ++c) average_vectors<I32LanesScalar, 1>(w, c, 1, y);
  }
}

/// The float multiplier of a window of `count` taps: x.scale / (y.scale * count), rounded once to float.
inline float average_multiplier(QuantParams x, QuantParams y, std::int64_t count) noexcept {
  return static_cast<float>(static_cast<double>(x.scale) / (static_cast<double>(y.scale) * static_cast<double>(count)));
}

// ---- checks ----------------------------------------------------------------------------------------------------

/// What every tensor these ops read or write must be: 4-D u8 NHWC, quantised with a finite positive scale and a
/// zero point in its levels [0, qmax] (qmax in [1, 255]), with data unless empty.
inline Status check_u8_view(std::string_view role, const ConstTensorView& t, const ErrorContext& ctx) {
  const std::string r(role);
  PRIMSEL_CHECK(t.layout() == Layout::nhwc && t.dtype() == DType::u8, ErrorCode::unsupported,
                r + " is " + to_string(t.format()) + "; these ops run nhwc/u8", ctx);
  PRIMSEL_CHECK(t.shape().rank() == 4 && t.shape().checked_numel() >= 0, ErrorCode::invalid_argument,
                r + " must be a 4-D [N, C, H, W] tensor, is " + to_string(t.shape()), ctx);
  const QuantParams q = t.quant();
  PRIMSEL_CHECK(quant::valid_u8(q), ErrorCode::invalid_argument,
                r + " has scale " + std::to_string(q.scale) + ", zero point " + std::to_string(q.zero_point) +
                    " and levels [0, " + std::to_string(q.qmax) +
                    "] (needs a finite scale > 0, levels within [0, 255] and the zero point among them)",
                ctx);
  PRIMSEL_CHECK(t.bytes() != nullptr || t.storage_elements() == 0, ErrorCode::invalid_argument, r + " has no data",
                ctx);
  return {};
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------------------------

/// AddU8: y = a + b (same shape, no broadcast) with an optional fused clamp, each tensor with its own parameters.
/// With r_a = a.scale / y.scale, r_b = b.scale / y.scale (in double) and e the binary exponent of max(r_a, r_b)
/// (frexp: max = f * 2^e, f in [0.5, 1)):
///   shift = min(31, 21 - e),  m_a = round(r_a * 2^shift),  m_b = round(r_b * 2^shift)   (the larger in [2^20, 2^21])
///   acc   = (a - a.zero_point) * m_a + (b - b.zero_point) * m_b + 2^(shift - 1)
///   y     = clamp(floor(acc / 2^shift) + y.zero_point, lo, hi)                            (round half up)
/// [lo, hi] = quant::activation_range(act, y.quant()): the clamp of the real value, in the integer domain. |acc| <
/// 510 * 2^21 + 2^30 < 2^31, so int32 lanes hold it exactly. Error: each m is r * 2^shift to within 1/2, so the
/// value before rounding is off the exact r_a (a - za) + r_b (b - zb) by at most 255 * 2^-shift; supports() asks
/// max(r_a, r_b) < 2^8 (e <= 8, shift >= 13): at most 0.032 LSB. The result therefore equals the correctly rounded
/// one except within 0.032 of a tie (or at a tie, which goes up), and never differs from the f32 formula
/// quantize(act(dequantize(a) + dequantize(b)), y) by more than 1 LSB. In place (y aliasing a or b) is fine.
struct AddU8 {
  static constexpr std::string_view name = "AddU8";

  /// The integer constants of the formula above (bias = 2^(shift - 1) - za * m_a - zb * m_b, kept modulo 2^32: the
  /// vector code adds it with wrapping adds, and only the complete sum needs to fit).
  struct Params {
    std::int32_t a_multiplier, b_multiplier, bias, shift, zero_point, lo, hi;
  };

  static Params params(QuantParams a, QuantParams b, QuantParams y, Activation act) noexcept {
    const double ra = static_cast<double>(a.scale) / y.scale, rb = static_cast<double>(b.scale) / y.scale;
    int e = 0;
    std::frexp(std::max(ra, rb), &e);
    const int shift = std::min(31, 21 - e);
    const auto ma = static_cast<std::int32_t>(std::llround(std::ldexp(ra, shift)));
    const auto mb = static_cast<std::int32_t>(std::llround(std::ldexp(rb, shift)));
    const std::int64_t bias =
        (std::int64_t{1} << (shift - 1)) - std::int64_t{a.zero_point} * ma - std::int64_t{b.zero_point} * mb;
    const quant::QRange r = quant::activation_range(act.lo, act.hi, y);
    return {ma, mb, static_cast<std::int32_t>(bias), shift, y.zero_point, r.lo, r.hi};
  }

  /// The scale ratios the fixed point covers within its bound (output scale at most 2^8 times finer than an input's).
  static Support supports(QuantParams a, QuantParams b, QuantParams y) noexcept {
    const double ra = static_cast<double>(a.scale) / y.scale, rb = static_cast<double>(b.scale) / y.scale;
    if (!(std::max(ra, rb) < 256.0)) return Support::no("an input scale is 256 or more times the output scale");
    return Support::yes();
  }

  static Status check(ConstTensorView a, ConstTensorView b, ConstTensorView y, Activation act = {}) {
    const ErrorContext ctx = detail::context(name, {{"a", a}, {"b", b}, {"y", y}});
    PRIMSEL_RETURN_IF_ERROR(detail::check_u8_view("input a", a, ctx));
    PRIMSEL_RETURN_IF_ERROR(detail::check_u8_view("input b", b, ctx));
    PRIMSEL_RETURN_IF_ERROR(detail::check_u8_view("output", y, ctx));
    PRIMSEL_CHECK(a.shape() == b.shape() && a.shape() == y.shape(), ErrorCode::shape_mismatch,
                  "inputs and output must have the same shape (this Add does not broadcast)", ctx);
    PRIMSEL_CHECK(!detail::partially_overlaps(a, y) && !detail::partially_overlaps(b, y), ErrorCode::invalid_argument,
                  "output partially overlaps an input (in place must be the same buffer)", ctx);
    const Support s = supports(a.quant(), b.quant(), y.quant());
    PRIMSEL_CHECK(s.ok, ErrorCode::unsupported, std::string(s.why), ctx);
    return detail::check_activation(act, ctx);
  }

  /// Assumes check() passed (supports() bounds the shift; an unchecked ratio could shift by a negative amount).
  static void run(ConstTensorView a, ConstTensorView b, TensorView y, Activation act, ThreadPool* pool) noexcept {
    const Params p = params(a.quant(), b.quant(), y.quant(), act);
    const std::uint8_t* ad = a.data<std::uint8_t>();
    const std::uint8_t* bd = b.data<std::uint8_t>();
    std::uint8_t* yd = y.data<std::uint8_t>();
    detail::parallel_ranges(pool, y.storage_elements(), grain, [&](std::int64_t i0, std::int64_t i1) {
      detail::for_lanes<detail::I32Lanes, detail::I32LanesScalar>(i1 - i0, [&](auto lanes, std::int64_t i, auto m) {
        using L = decltype(lanes);
        const std::int64_t k = i0 + i;
        const typename L::V acc = L::add(L::add(L::mul(L::load(ad + k, m), L::set1(p.a_multiplier)),
                                                L::mul(L::load(bd + k, m), L::set1(p.b_multiplier))),
                                         L::set1(p.bias));
        const typename L::V q = L::add(L::sra(acc, p.shift), L::set1(p.zero_point));
        L::store(yd + k, L::min(L::max(q, L::set1(p.lo)), L::set1(p.hi)), m);
      });
    });
  }

 private:
  static constexpr std::int64_t grain = 65536;  // bytes per thread worth waking a worker for
};

/// MaxPoolU8 (K = max) and AveragePoolU8 (K = average) on u8 NHWC, the windows of ops::MaxPool / AveragePool
/// (pool_output_shape: kernel, stride, pads, ceil_mode; taps outside the input are skipped).
///   max:      y = t[max over the window of x], t[v] = quantize(dequantize(v, x), y) (skipped when the identity).
///             Exact: quantize(dequantize(.)) is monotone, so this is quantize(max of the window's reals).
///   average:  with sum = the window's int32 sum, taps = its taps inside the input, count = taps (or the padded
///             window's size with count_include_pad: the padding's reals are 0, so only the divisor changes):
///             y = clamp(nearbyint(float(sum - taps * x.zero_point) * m) + y.zero_point, 0, y.qmax),
///             m = float(x.scale / (y.scale * count)) (double quotient, rounded once). nearbyint rounds half to even.
///             float(sum - ...) is exact (|.| < 2^24 for windows up to 2^16 taps); m and the product each round
///             once (relative 2^-24), so y is the correctly rounded quantised mean except within 2^-15 of a tie:
///             never more than 1 LSB from it.
template <PoolKind K>
struct Pool2dU8 {
  static constexpr std::string_view name = K == PoolKind::max ? "MaxPoolU8" : "AveragePoolU8";

  /// Windows wholly in the padding (a pad >= the kernel) have no defined value; larger windows than 2^23 taps could
  /// overflow the int32 sum.
  static Support supports(const PoolParams& p) noexcept {
    if (p.pads.top >= p.kernel[0] || p.pads.bottom >= p.kernel[0] || p.pads.left >= p.kernel[1] ||
        p.pads.right >= p.kernel[1])
      return Support::no("a pad is not smaller than the kernel (windows wholly in the padding)");
    if (p.kernel[0] * p.kernel[1] > (std::int64_t{1} << 23)) return Support::no("window of more than 2^23 taps");
    return Support::yes();
  }

  static Status check(ConstTensorView x, const PoolParams& p, ConstTensorView y) {
    const ErrorContext ctx = detail::context(name, {{"x", x}, {"y", y}});
    PRIMSEL_RETURN_IF_ERROR(detail::check_u8_view("input", x, ctx));
    PRIMSEL_RETURN_IF_ERROR(detail::check_u8_view("output", y, ctx));
    auto expected = pool_output_shape(x.shape(), p, name);
    if (!expected) return std::move(expected).error().with_context(ctx);
    PRIMSEL_CHECK(y.shape() == *expected, ErrorCode::shape_mismatch,
                  "output is " + to_string(y.shape()) + ", the window gives " + to_string(*expected), ctx);
    const Support s = supports(p);
    PRIMSEL_CHECK(s.ok, ErrorCode::unsupported, std::string(s.why), ctx);
    PRIMSEL_CHECK(!detail::overlaps(x, y), ErrorCode::invalid_argument, "output overlaps the input", ctx);
    return {};
  }

  /// Assumes check() passed. Work items are output rows of all channels.
  static void run(ConstTensorView x, const PoolParams& p, TensorView y, ThreadPool* pool) noexcept {
    const Shape& xs = x.shape();
    const Shape& ys = y.shape();
    const std::int64_t ih = xs.h(), iw = xs.w(), oh = ys.h(), ow = ys.w(), C = xs.c();
    const std::uint8_t* xd = x.data<std::uint8_t>();
    std::uint8_t* yd = y.data<std::uint8_t>();
    const QuantParams xq = x.quant(), yq = y.quant();
    const std::int64_t grain =
        std::max<std::int64_t>(1, 65536 / std::max<std::int64_t>(ow * C * p.kernel[0] * p.kernel[1], 1));
    if constexpr (K == PoolKind::max) {
      const detail::ByteMap map = detail::ByteMap::make(xq, yq);
      detail::parallel_ranges(pool, xs.n() * oh, grain, [&](std::int64_t b, std::int64_t e) {
        for (std::int64_t r = b; r < e; ++r) {
          const std::uint8_t* image = xd + r / oh * ih * iw * C;
          const detail::Window wy = window_y(p, r % oh, ih);
          std::uint8_t* yrow = yd + r * ow * C;
          for (std::int64_t ox = 0; ox < ow; ++ox) max_pixel(image, iw, C, wy, window_x(p, ox, iw), yrow + ox * C);
          if (map.kind != detail::ByteMap::Kind::copy) map.apply(yrow, yrow, ow * C);
        }
      });
    } else {
      // Interior windows share one count; the multiplier is recomputed only when the count changes.
      detail::parallel_ranges(pool, xs.n() * oh, grain, [&](std::int64_t b, std::int64_t e) {
        std::int64_t last_count = -1;
        float m = 0;
        for (std::int64_t r = b; r < e; ++r) {
          const detail::Window wy = window_y(p, r % oh, ih);
          for (std::int64_t ox = 0; ox < ow; ++ox) {
            const detail::Window wx = window_x(p, ox, iw);
            const std::int64_t count = wy.count * wx.count, taps = (wy.end - wy.begin) * (wx.end - wx.begin);
            if (count != last_count) m = detail::average_multiplier(xq, yq, count), last_count = count;
            const detail::AverageWindow w{xd + r / oh * ih * iw * C,
                                          iw,
                                          C,
                                          wy,
                                          wx,
                                          static_cast<std::int32_t>(taps * xq.zero_point),
                                          m,
                                          yq.zero_point,
                                          yq.qmax};
            detail::average_pixel(w, yd + (r * ow + ox) * C);
          }
        }
      });
    }
  }

 private:
  static detail::Window window_y(const PoolParams& p, std::int64_t oy, std::int64_t ih) noexcept {
    return detail::window(oy, p.kernel[0], p.stride[0], p.pads.top, p.pads.bottom, ih, p.count_include_pad);
  }
  static detail::Window window_x(const PoolParams& p, std::int64_t ox, std::int64_t iw) noexcept {
    return detail::window(ox, p.kernel[1], p.stride[1], p.pads.left, p.pads.right, iw, p.count_include_pad);
  }

  /// The max of each channel over one window (all C channels of the output pixel at y).
  static void max_pixel(const std::uint8_t* x, std::int64_t iw, std::int64_t C, const detail::Window& wy,
                        const detail::Window& wx, std::uint8_t* y) noexcept {
    detail::for_lanes<detail::ByteLanes, detail::ByteLanesScalar>(C, [&](auto lanes, std::int64_t c, auto m) {
      using B = decltype(lanes);
      typename B::V acc = B::set1(0);
      for (std::int64_t iy = wy.begin; iy < wy.end; ++iy)
        for (std::int64_t ix = wx.begin; ix < wx.end; ++ix) acc = B::max(acc, B::load(x + (iy * iw + ix) * C + c, m));
      B::store(y + c, acc, m);
    });
  }
};

using MaxPoolU8 = Pool2dU8<PoolKind::max>;
using AveragePoolU8 = Pool2dU8<PoolKind::average>;

/// GlobalAveragePoolU8: y[N, C, 1, 1] = AveragePoolU8's formula over the whole H x W plane (count = H * W).
struct GlobalAveragePoolU8 {
  static constexpr std::string_view name = "GlobalAveragePoolU8";

  static Support supports(const Shape& x) noexcept {
    if (x.rank() == 4 && x.h() * x.w() > (std::int64_t{1} << 23)) return Support::no("plane of more than 2^23 pixels");
    return Support::yes();
  }

  static Status check(ConstTensorView x, ConstTensorView y) {
    const ErrorContext ctx = detail::context(name, {{"x", x}, {"y", y}});
    PRIMSEL_RETURN_IF_ERROR(detail::check_u8_view("input", x, ctx));
    PRIMSEL_RETURN_IF_ERROR(detail::check_u8_view("output", y, ctx));
    const Shape& s = x.shape();
    PRIMSEL_CHECK(s.h() * s.w() > 0, ErrorCode::invalid_argument, "input has an empty plane", ctx);
    PRIMSEL_CHECK(y.shape() == Shape({s.n(), s.c(), 1, 1}), ErrorCode::shape_mismatch,
                  "output must be " + to_string(Shape{s.n(), s.c(), 1, 1}), ctx);
    const Support sup = supports(s);
    PRIMSEL_CHECK(sup.ok, ErrorCode::unsupported, std::string(sup.why), ctx);
    PRIMSEL_CHECK(!detail::overlaps(x, y), ErrorCode::invalid_argument, "output overlaps the input", ctx);
    return {};
  }

  /// Items are (image, 4 vectors of channels): each sums its channels over the plane in one pass.
  static void run(ConstTensorView x, TensorView y, ThreadPool* pool) noexcept {
    const Shape& s = x.shape();
    const std::int64_t hw = s.h() * s.w(), C = s.c();
    const std::int64_t chunk = 4 * detail::I32Lanes::lanes, chunks = detail::ceil_div(C, chunk);
    const QuantParams xq = x.quant(), yq = y.quant();
    const float m = detail::average_multiplier(xq, yq, hw);
    const std::uint8_t* xd = x.data<std::uint8_t>();
    std::uint8_t* yd = y.data<std::uint8_t>();
    const detail::Window wy{0, s.h(), s.h()}, wx{0, s.w(), s.w()};
    const std::int64_t grain = std::max<std::int64_t>(1, 65536 / std::max<std::int64_t>(hw * chunk, 1));
    detail::parallel_ranges(pool, s.n() * chunks, grain, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t item = b; item < e; ++item) {
        const std::int64_t n = item / chunks, c0 = item % chunks * chunk, len = std::min(chunk, C - c0);
        // A view of just this chunk's channels: AverageWindow's pixel stride stays C.
        const detail::AverageWindow w{
            xd + n * hw * C + c0, s.w(), C, wy, wx, static_cast<std::int32_t>(hw * xq.zero_point), m, yq.zero_point,
            yq.qmax};
        sum_chunk(w, len, yd + n * C + c0);
      }
    });
  }

 private:
  static void sum_chunk(const detail::AverageWindow& w, std::int64_t len, std::uint8_t* y) noexcept {
    using L = detail::I32Lanes;
    if constexpr (L::masked) {
      if (len > 2 * L::lanes)
        detail::average_vectors<L, 4>(w, 0, len, y);
      else
        detail::average_vectors<L, 2>(w, 0, len, y);
    } else {
      std::int64_t c = 0;
      if (len == 4 * L::lanes) return detail::average_vectors<L, 4>(w, 0, len, y);
      for (; c + L::lanes <= len; c += L::lanes) detail::average_vectors<L, 1>(w, c, L::lanes, y);
      for (; c < len; ++c) detail::average_vectors<detail::I32LanesScalar, 1>(w, c, 1, y);
    }
  }
};

/// ConcatU8: y = [x0, x1, ...] along channels (NHWC: each pixel's channels are the inputs' runs in order). An input
/// quantised as y is copied; another goes through its table t[v] = quantize(dequantize(v, x_i), y) (exact).
///
///   const ConstTensorView parts[] = {a, b};
///   PRIMSEL_RETURN_IF_ERROR(ops::ConcatU8::check(parts, y));
///   ops::ConcatU8::run(parts, y, &pool);
struct ConcatU8 {
  static constexpr std::string_view name = "ConcatU8";

  static Status check(std::span<const ConstTensorView> xs, ConstTensorView y) {
    std::string shapes;
    for (std::size_t i = 0; i < xs.size(); ++i)
      shapes += detail::describe(std::string(1, 'x').append(std::to_string(i)), xs[i]) + ", ";
    const ErrorContext ctx{std::string(name), {}, shapes + detail::describe("y", y)};
    PRIMSEL_CHECK(!xs.empty(), ErrorCode::invalid_argument, "needs at least one input", ctx);
    PRIMSEL_RETURN_IF_ERROR(detail::check_u8_view("output", y, ctx));
    const Shape& ys = y.shape();
    std::int64_t channels = 0;
    for (std::size_t i = 0; i < xs.size(); ++i) {
      const std::string role = std::string("input ").append(std::to_string(i));
      PRIMSEL_RETURN_IF_ERROR(detail::check_u8_view(role, xs[i], ctx));
      const Shape& s = xs[i].shape();
      PRIMSEL_CHECK(s.n() == ys.n() && s.h() == ys.h() && s.w() == ys.w(), ErrorCode::shape_mismatch,
                    role + " differs from the output outside the channels", ctx);
      PRIMSEL_CHECK(!detail::overlaps(xs[i], y), ErrorCode::invalid_argument, role + " overlaps the output", ctx);
      channels += s.c();
    }
    PRIMSEL_CHECK(channels == ys.c(), ErrorCode::shape_mismatch,
                  "inputs have " + std::to_string(channels) + " channels in all, the output " + std::to_string(ys.c()),
                  ctx);
    return {};
  }

  /// Input by input (so each table is built once per thread, on the stack), pixels in the thread's range.
  static void run(std::span<const ConstTensorView> xs, TensorView y, ThreadPool* pool) noexcept {
    const Shape& ys = y.shape();
    const std::int64_t pixels = ys.n() * ys.h() * ys.w(), C = ys.c();
    std::uint8_t* yd = y.data<std::uint8_t>();
    detail::parallel_ranges(pool, pixels, grain / std::max<std::int64_t>(C, 1), [&](std::int64_t b, std::int64_t e) {
      std::int64_t offset = 0;
      for (const ConstTensorView& x : xs) {
        const std::int64_t ci = x.shape().c();
        const std::uint8_t* xd = x.data<std::uint8_t>();
        if (x.quant() == y.quant()) {
          if (ci == C) {
            std::memcpy(yd + b * C, xd + b * C, static_cast<std::size_t>((e - b) * C));
          } else {
            for (std::int64_t p = b; p < e; ++p)
              std::memcpy(yd + p * C + offset, xd + p * ci, static_cast<std::size_t>(ci));
          }
        } else {
          const detail::ByteMap map = detail::ByteMap::make(x.quant(), y.quant());
          if (ci == C)
            map.apply(xd + b * C, yd + b * C, (e - b) * C);
          else
            for (std::int64_t p = b; p < e; ++p) map.apply(xd + p * ci, yd + p * C + offset, ci);
        }
        offset += ci;
      }
    });
  }

 private:
  static constexpr std::int64_t grain = 65536;  // bytes per thread worth waking a worker for
};

/// ClampU8: standalone Relu / Relu6 / Clip, y = t[x] with t[v] = quantize(act(dequantize(v, x)), y): the f32
/// formula, exactly. On equal parameters the table is clamp(v, quantize(lo), quantize(hi)) and runs as byte
/// min/max; otherwise it is looked up. In place (y the same buffer as x) is fine.
struct ClampU8 {
  static constexpr std::string_view name = "ClampU8";

  static Status check(ConstTensorView x, ConstTensorView y, Activation act, std::string_view op = name) {
    const ErrorContext ctx = detail::context(op, {{"x", x}, {"y", y}});
    PRIMSEL_RETURN_IF_ERROR(detail::check_u8_view("input", x, ctx));
    PRIMSEL_RETURN_IF_ERROR(detail::check_u8_view("output", y, ctx));
    PRIMSEL_CHECK(x.shape() == y.shape(), ErrorCode::shape_mismatch, "input and output shapes differ", ctx);
    PRIMSEL_CHECK(!detail::partially_overlaps(x, y), ErrorCode::invalid_argument,
                  "output partially overlaps the input (in place must be the same buffer)", ctx);
    return detail::check_activation(act, ctx);
  }

  static void run(ConstTensorView x, TensorView y, Activation act, ThreadPool* pool) noexcept {
    const detail::ByteMap map = detail::ByteMap::make(x.quant(), y.quant(), act);
    const std::uint8_t* xd = x.data<std::uint8_t>();
    std::uint8_t* yd = y.data<std::uint8_t>();
    detail::parallel_ranges(pool, y.storage_elements(), grain,
                            [&](std::int64_t b, std::int64_t e) { map.apply(xd + b, yd + b, e - b); });
  }

 private:
  static constexpr std::int64_t grain = 65536;  // bytes per thread worth waking a worker for
};

// ---- checked entry points ----------------------------------------------------------------------------------------

inline Status add_u8(ConstTensorView a, ConstTensorView b, TensorView y, Activation act = {},
                     ThreadPool* pool = nullptr) {
  PRIMSEL_RETURN_IF_ERROR(AddU8::check(a, b, y, act));
  AddU8::run(a, b, y, act, pool);
  return {};
}

inline Status max_pool_u8(ConstTensorView x, const PoolParams& p, TensorView y, ThreadPool* pool = nullptr) {
  PRIMSEL_RETURN_IF_ERROR(MaxPoolU8::check(x, p, y));
  MaxPoolU8::run(x, p, y, pool);
  return {};
}

inline Status average_pool_u8(ConstTensorView x, const PoolParams& p, TensorView y, ThreadPool* pool = nullptr) {
  PRIMSEL_RETURN_IF_ERROR(AveragePoolU8::check(x, p, y));
  AveragePoolU8::run(x, p, y, pool);
  return {};
}

inline Status global_average_pool_u8(ConstTensorView x, TensorView y, ThreadPool* pool = nullptr) {
  PRIMSEL_RETURN_IF_ERROR(GlobalAveragePoolU8::check(x, y));
  GlobalAveragePoolU8::run(x, y, pool);
  return {};
}

inline Status concat_u8(std::span<const ConstTensorView> xs, TensorView y, ThreadPool* pool = nullptr) {
  PRIMSEL_RETURN_IF_ERROR(ConcatU8::check(xs, y));
  ConcatU8::run(xs, y, pool);
  return {};
}

inline Status clamp_u8(ConstTensorView x, TensorView y, Activation act, ThreadPool* pool = nullptr) {
  PRIMSEL_RETURN_IF_ERROR(ClampU8::check(x, y, act));
  ClampU8::run(x, y, act, pool);
  return {};
}

}  // namespace primsel::ops
