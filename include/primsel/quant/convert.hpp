// The dtype conversions on the edges between f32 and int8 layers: quantise f32 (nchw, nhwc, nchw8c, nchw16c) into
// u8 NHWC, dequantise u8 NHWC back into any f32 layout, and requantise u8 NHWC between two parameter sets. Each is
// bit-identical to the scalar quant::quantize / quant::dequantize per element (true division and
// round-half-even, so vector and scalar paths agree), vectorised along the contiguous side: channels for the
// blocked and nhwc layouts, pixels of a plane for nchw (gathered or scattered through a small buffer). The search
// pays for these on every edge where a dtype changes, so their speed is part of the choice. Also the dynamic
// quantisation of a row over its own range (quantize_dynamic), which int8-weight fully connected layers run per call.
//
//   Tensor q({1, 64, 56, 56}, {Layout::nhwc, DType::u8}, quant::choose_params(lo, hi));
//   quant::quantize(x_f32.view(), q.view());   // x_f32 in nchw16c, say
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <limits>
#include <span>
#include <string>

#include "primsel/core/error.hpp"
#include "primsel/core/layout_convert.hpp"
#include "primsel/core/simd.hpp"
#include "primsel/core/tensor.hpp"
#include "primsel/quant/quantize.hpp"

namespace primsel::quant {

namespace detail {

inline constexpr std::int64_t lanes = static_cast<std::int64_t>(simd::width);

#if PRIMSEL_HAS_SIMD
/// Round half to even, as std::nearbyint in the default rounding mode. On AVX-512 the zero-masked intrinsic: GCC
/// 12's unmasked one (inside xsimd::nearbyint) passes an undefined operand that -Wall reports (PR 105593).
inline simd::FloatVec round_even(const simd::FloatVec& v) noexcept {
#if defined(__AVX512F__)
  return _mm512_maskz_roundscale_ps(__mmask16(0xFFFF), v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
#else
  return xsimd::nearbyint(v);
#endif
}
#endif

/// q[0, n) from x[0, n), n <= lanes: quant::quantize into r (levels(p) for a tensor, a kernel's range for a row).
inline void quantize_lanes(const float* x, std::int64_t n, QuantParams p, std::uint8_t* q, QRange r) noexcept {
#if PRIMSEL_HAS_SIMD
  alignas(64) float buf[lanes];
  if (n < lanes) {
    std::fill(buf, buf + lanes, 0.0f);
    std::copy(x, x + n, buf);
    x = buf;
  }
  // max(v, lo) first: x86's max returns its second operand for NaN, which quantize() maps to the low end too.
  // NEON's max returns the NaN (and converting it to int is undefined), so there NaN lanes are selected away.
  const simd::FloatVec lo(static_cast<float>(r.lo)), hi(static_cast<float>(r.hi));
  simd::FloatVec v = round_even(simd::div(simd::load(x), simd::broadcast(p.scale))) +
                     simd::broadcast(static_cast<float>(p.zero_point));
#if defined(__aarch64__)
  v = xsimd::select(v > lo, v, lo);
#endif
  v = simd::min(hi, simd::max(v, lo));
#if defined(__AVX512F__)
  if (n == lanes) {
    _mm512_mask_cvtepi32_storeu_epi8(q, __mmask16(0xFFFF), _mm512_maskz_cvttps_epi32(__mmask16(0xFFFF), v));
    return;
  }
#endif
  simd::store(buf, v);
  for (std::int64_t i = 0; i < n; ++i) q[i] = static_cast<std::uint8_t>(static_cast<std::int32_t>(buf[i]));
#else
  for (std::int64_t i = 0; i < n; ++i) q[i] = static_cast<std::uint8_t>(quantize(x[i], p, r));
#endif
}

/// x[0, n) from q[0, n), n <= lanes: quant::dequantize (q - zero point is exact in float, then one multiply).
inline void dequantize_lanes(const std::uint8_t* q, std::int64_t n, QuantParams p, float* x) noexcept {
#if PRIMSEL_HAS_SIMD
  simd::FloatVec v;
#if defined(__AVX512F__)
  if (n == lanes) {
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
    v = _mm512_maskz_cvtepi32_ps(__mmask16(0xFFFF), _mm512_maskz_cvtepu8_epi32(__mmask16(0xFFFF), bytes));
  } else
#endif
  {
    alignas(64) float buf[lanes] = {};
    for (std::int64_t i = 0; i < n; ++i) buf[i] = q[i];
    v = simd::load(buf);
  }
  v = (v - simd::broadcast(static_cast<float>(p.zero_point))) * simd::broadcast(p.scale);
  if (n == lanes) {
    simd::store(x, v);
    return;
  }
  alignas(64) float out[lanes];
  simd::store(out, v);
  std::copy(out, out + n, x);
#else
  for (std::int64_t i = 0; i < n; ++i) x[i] = dequantize(q[i], p);
#endif
}

/// The shared checks: same 4-D shape, the expected dtypes, the u8 side in NHWC, data present. The context string
/// is built only on failure: the network converts between layers inside run(), which must not allocate.
inline Status check_views(ConstTensorView src, TensorView dst, DType from, DType to, const char* op) {
  auto fail = [&](ErrorCode code, std::string why) {
    return Error(code, std::move(why),
                 ErrorContext{op, {}, to_string(src.shape()) + " " + to_string(src.format()) + " -> " +
                                          to_string(dst.shape()) + " " + to_string(dst.format())});
  };
  if (src.shape() != dst.shape() || src.shape().rank() != 4)
    return fail(ErrorCode::shape_mismatch, "needs two 4-D tensors of the same shape");
  if (src.dtype() != from || dst.dtype() != to)
    return fail(ErrorCode::invalid_argument,
                std::string("converts ") + std::string(to_string(from)) + " to " + std::string(to_string(to)));
  if ((from == DType::u8 && src.layout() != Layout::nhwc) || (to == DType::u8 && dst.layout() != Layout::nhwc))
    return fail(ErrorCode::unsupported, "the u8 side must be nhwc");
  if (src.bytes() == nullptr || dst.bytes() == nullptr) return fail(ErrorCode::invalid_argument, "a view has no data");
  return {};
}

}  // namespace detail

/// Dynamic quantisation of one row (ONNX DynamicQuantizeLinear, per row): parameters chosen from the row's own
/// [min, max] (choose_params, so widened to include 0), then every value quantised into `out` (out.size() >=
/// x.size()) as quant::quantize does. Only finite values set the range: NaN and -Inf land on r.lo and +Inf on r.hi,
/// as quantize() saturates them, so one bad value neither stretches the range to infinity nor spoils the row.
/// Returns the parameters. Vectorised; each value bit-identical to the scalar formula.
inline QuantParams quantize_dynamic(std::span<const float> x, QRange r, std::span<std::uint8_t> out) noexcept {
  const auto n = static_cast<std::int64_t>(x.size());
  float lo = 0, hi = 0;
  std::int64_t i = 0;
#if PRIMSEL_HAS_SIMD
  constexpr float big = std::numeric_limits<float>::max();
  const simd::FloatVec zero(0.0f);
  simd::FloatVec vlo = zero, vhi = zero;
  for (; i + detail::lanes <= n; i += detail::lanes) {
    const simd::FloatVec v = simd::load(x.data() + i);
    const simd::FloatVec finite = xsimd::select(v >= simd::FloatVec(-big) && v <= simd::FloatVec(big), v, zero);
    vlo = simd::min(vlo, finite), vhi = simd::max(vhi, finite);
  }
  alignas(64) float l[detail::lanes], h[detail::lanes];
  simd::store(l, vlo), simd::store(h, vhi);
  for (std::int64_t k = 0; k < detail::lanes; ++k) lo = std::min(lo, l[k]), hi = std::max(hi, h[k]);
#endif
  for (; i < n; ++i)
    if (std::isfinite(x[static_cast<std::size_t>(i)]))
      lo = std::min(lo, x[static_cast<std::size_t>(i)]), hi = std::max(hi, x[static_cast<std::size_t>(i)]);
  const QuantParams p = choose_params(lo, hi, r);
  for (std::int64_t k = 0; k < n; k += detail::lanes)
    detail::quantize_lanes(x.data() + k, std::min(detail::lanes, n - k), p, out.data() + k, r);
  return p;
}

/// f32 `src` in any layout -> u8 NHWC `dst`, quantised with dst.quant() into its levels [0, qmax].
inline Status quantize(ConstTensorView src, TensorView dst) {
  PRIMSEL_RETURN_IF_ERROR(detail::check_views(src, dst, DType::f32, DType::u8, "quantize"));
  const QuantParams p = dst.quant();
  const QRange r = levels(p);  // a 7-bit tensor's values stay below 128
  const Shape& s = src.shape();
  const std::int64_t N = s.n(), C = s.c(), HW = s.h() * s.w(), W = detail::lanes;
  const float* x = src.data<float>();
  std::uint8_t* q = dst.data<std::uint8_t>();
  switch (src.layout()) {
    case Layout::nhwc:
      for (std::int64_t i = 0, n = N * HW * C; i < n; i += W) detail::quantize_lanes(x + i, std::min(W, n - i), p, q + i, r);
      break;
    case Layout::nchw:
      // A plane's pixels quantised a vector at a time, then scattered to their pixels' channel slot.
      for (std::int64_t n = 0; n < N; ++n)
        for (std::int64_t c = 0; c < C; ++c) {
          const float* plane = x + (n * C + c) * HW;
          std::uint8_t* out = q + n * HW * C + c;
          for (std::int64_t i = 0; i < HW; i += W) {
            std::uint8_t buf[detail::lanes];
            const std::int64_t k = std::min(W, HW - i);
            detail::quantize_lanes(plane + i, k, p, buf, r);
            for (std::int64_t j = 0; j < k; ++j) out[(i + j) * C] = buf[j];
          }
        }
      break;
    case Layout::nchw8c:
    case Layout::nchw16c: {
      // Each pixel's block of channels is contiguous on both sides.
      const std::int64_t b = channel_block(src.layout()), cb = (C + b - 1) / b;
      for (std::int64_t n = 0; n < N; ++n)
        for (std::int64_t blk = 0; blk < cb; ++blk) {
          const std::int64_t c0 = blk * b, count = std::min(b, C - c0);
          const float* in = x + (n * cb + blk) * HW * b;
          std::uint8_t* out = q + n * HW * C + c0;
          for (std::int64_t i = 0; i < HW; ++i)
            for (std::int64_t c = 0; c < count; c += W)
              detail::quantize_lanes(in + i * b + c, std::min(W, count - c), p, out + i * C + c, r);
        }
      break;
    }
  }
  return {};
}

/// u8 NHWC `src` -> f32 `dst` in any layout, dequantised with src.quant(); blocked tails are written as zero.
inline Status dequantize(ConstTensorView src, TensorView dst) {
  PRIMSEL_RETURN_IF_ERROR(detail::check_views(src, dst, DType::u8, DType::f32, "dequantize"));
  const QuantParams p = src.quant();
  const Shape& s = src.shape();
  const std::int64_t N = s.n(), C = s.c(), HW = s.h() * s.w(), W = detail::lanes;
  const std::uint8_t* q = src.data<std::uint8_t>();
  float* x = dst.data<float>();
  switch (dst.layout()) {
    case Layout::nhwc:
      for (std::int64_t i = 0, n = N * HW * C; i < n; i += W) detail::dequantize_lanes(q + i, std::min(W, n - i), p, x + i);
      break;
    case Layout::nchw:
      for (std::int64_t n = 0; n < N; ++n)
        for (std::int64_t c = 0; c < C; ++c) {
          const std::uint8_t* in = q + n * HW * C + c;
          float* plane = x + (n * C + c) * HW;
          for (std::int64_t i = 0; i < HW; i += W) {
            std::uint8_t buf[detail::lanes];
            const std::int64_t k = std::min(W, HW - i);
            for (std::int64_t j = 0; j < k; ++j) buf[j] = in[(i + j) * C];
            detail::dequantize_lanes(buf, k, p, plane + i);
          }
        }
      break;
    case Layout::nchw8c:
    case Layout::nchw16c: {
      const std::int64_t b = channel_block(dst.layout()), cb = (C + b - 1) / b;
      for (std::int64_t n = 0; n < N; ++n)
        for (std::int64_t blk = 0; blk < cb; ++blk) {
          const std::int64_t c0 = blk * b, count = std::min(b, C - c0);
          const std::uint8_t* in = q + n * HW * C + c0;
          float* out = x + (n * cb + blk) * HW * b;
          for (std::int64_t i = 0; i < HW; ++i) {
            for (std::int64_t c = 0; c < count; c += W)
              detail::dequantize_lanes(in + i * C + c, std::min(W, count - c), p, out + i * b + c);
            std::fill(out + i * b + count, out + (i + 1) * b, 0.0f);
          }
        }
      break;
    }
  }
  return {};
}

/// u8 NHWC `src` (src.quant()) -> u8 NHWC `dst` (dst.quant()): each byte becomes quantize(dequantize(q)), exactly
/// what going through f32 gives, by a 256-entry table built per call.
inline Status requantize(ConstTensorView src, TensorView dst) {
  auto fail = [&](ErrorCode code, std::string why) {
    return Error(code, std::move(why),
                 ErrorContext{"requantize", {}, to_string(src.shape()) + " " + to_string(src.format()) + " -> " +
                                                    to_string(dst.shape()) + " " + to_string(dst.format())});
  };
  if (src.shape() != dst.shape()) return fail(ErrorCode::shape_mismatch, "shapes differ");
  if (src.format() != dst.format() || src.dtype() != DType::u8)
    return fail(ErrorCode::invalid_argument, "needs two u8 tensors of one layout");
  if (src.bytes() == nullptr || dst.bytes() == nullptr) return fail(ErrorCode::invalid_argument, "a view has no data");
  std::array<std::uint8_t, 256> table;
  for (int v = 0; v < 256; ++v)
    table[static_cast<std::size_t>(v)] =
        static_cast<std::uint8_t>(quantize(dequantize(v, src.quant()), dst.quant(), levels(dst.quant())));
  const std::uint8_t* in = src.data<std::uint8_t>();
  std::uint8_t* out = dst.data<std::uint8_t>();
  for (std::size_t i = 0, n = src.size_bytes(); i < n; ++i) out[i] = table[in[i]];
  return {};
}

}  // namespace primsel::quant

namespace primsel {

/// Any f32 or u8 format into any other of the same shape, as the network's edges need: a layout change, a
/// quantisation, a dequantisation, or a requantisation between two u8 tensors' parameters (dst.quant()).
inline Status convert_format(ConstTensorView src, TensorView dst) {
  const DType from = src.dtype(), to = dst.dtype();
  if (from == to && (from != DType::u8 || src.quant() == dst.quant())) return convert(src, dst);
  if (from == DType::f32 && to == DType::u8) return quant::quantize(src, dst);
  if (from == DType::u8 && to == DType::f32) return quant::dequantize(src, dst);
  if (from == DType::u8 && to == DType::u8) return quant::requantize(src, dst);
  return Error(ErrorCode::unsupported, std::string("no conversion from ") + std::string(to_string(from)) + " to " +
                                           std::string(to_string(to)));
}

}  // namespace primsel
