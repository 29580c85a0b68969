// Softmax over channels (axis 1) of [N, C] or [N, C, H, W] (nchw: any rank >= 2), on every layout, numerically
// stable: y = exp(x - max) / sum(exp(x - max)), so large logits cannot overflow. A contiguous channel run (rank 2,
// nhwc, or H = W = 1) is vectorised along the channels; nchw with H x W > 1 along the pixels (channel c of
// neighbouring pixels is contiguous); blocked layouts along a block's lanes, masking the padded tail lanes out of
// the max and the sum and writing them as zeros. Three passes: max, exp and sum, scale. Sums are in float and exp is
// xsimd's, so results are within a few ulp of the reference (which sums in double).
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <string_view>

#include "primsel/primitives/ops/op_support.hpp"

namespace primsel::ops {

namespace detail {

/// Softmax of `len` contiguous floats.
inline void softmax_row(const float* x, float* y, std::int64_t len) noexcept {
  using simd::FloatVec;
  constexpr std::int64_t L = static_cast<std::int64_t>(simd::width);
  const std::int64_t vec_end = len / L * L;
  float m = -std::numeric_limits<float>::infinity();
  if (vec_end > 0) {
    FloatVec mv = vload<FloatVec>(x);
    for (std::int64_t i = L; i < vec_end; i += L) mv = vmax(vload<FloatVec>(x + i), mv);
    m = vreduce_max(mv);
  }
  for (std::int64_t i = vec_end; i < len; ++i) m = x[i] > m ? x[i] : m;
  const FloatVec mb(m);
  FloatVec sv(0.0f);
  for (std::int64_t i = 0; i < vec_end; i += L) {
    const FloatVec e = vexp(vsub(vload<FloatVec>(x + i), mb));
    vstore(y + i, e);
    sv = sv + e;
  }
  float sum = vreduce_add(sv);
  for (std::int64_t i = vec_end; i < len; ++i) sum += (y[i] = std::exp(x[i] - m));
  const FloatVec sb(sum);
  for (std::int64_t i = 0; i < vec_end; i += L) vstore(y + i, vdiv(vload<FloatVec>(y + i), sb));
  for (std::int64_t i = vec_end; i < len; ++i) y[i] /= sum;
}

/// Softmax across `len` channels `stride` floats apart, for V::size neighbouring pixels at once.
template <class V>
inline void softmax_pixels(const float* x, float* y, std::int64_t len, std::int64_t stride) noexcept {
  V m = vload<V>(x);
  for (std::int64_t c = 1; c < len; ++c) m = vmax(vload<V>(x + c * stride), m);
  V s(0.0f);
  for (std::int64_t c = 0; c < len; ++c) {
    const V e = vexp(vsub(vload<V>(x + c * stride), m));
    vstore(y + c * stride, e);
    s = s + e;
  }
  for (std::int64_t c = 0; c < len; ++c) vstore(y + c * stride, vdiv(vload<V>(y + c * stride), s));
}

/// Softmax across `len` channels `stride` floats apart for one pixel, in scalar code (pixels short of a vector).
inline void softmax_strided(const float* x, float* y, std::int64_t len, std::int64_t stride) noexcept {
  float m = x[0];
  for (std::int64_t c = 1; c < len; ++c) m = x[c * stride] > m ? x[c * stride] : m;
  float sum = 0.0f;
  for (std::int64_t c = 0; c < len; ++c) sum += (y[c * stride] = std::exp(x[c * stride] - m));
  for (std::int64_t c = 0; c < len; ++c) y[c * stride] /= sum;
}

/// Softmax over the C channels of one pixel of a blocked tensor: block kb of the pixel at x + kb * plane.
template <std::int64_t B>
inline void softmax_blocked_pixel(const float* x, float* y, std::int64_t c, std::int64_t plane) noexcept {
  using V = typename BlockVec<B>::type;
  constexpr std::int64_t L = BlockVec<B>::lanes;
  constexpr float neg_inf = -std::numeric_limits<float>::infinity();
  const std::int64_t cb = ceil_div(c, B), valid = c - (cb - 1) * B;  // lanes in use in the last block
  // Lane v of the last block is kept iff v < valid: padding must not enter the max or the sum.
  auto masked = [&](const V& v, std::int64_t kb, std::int64_t lane0, float fill) {
    return kb == cb - 1 ? vkeep_lanes(v, lane0, valid, fill) : v;
  };
  V mv(neg_inf);
  for (std::int64_t kb = 0; kb < cb; ++kb)
    for (std::int64_t l = 0; l < B; l += L) mv = vmax(masked(vload<V>(x + kb * plane + l), kb, l, neg_inf), mv);
  const V m(vreduce_max(mv));
  V sv(0.0f);
  for (std::int64_t kb = 0; kb < cb; ++kb)
    for (std::int64_t l = 0; l < B; l += L) {
      const V e = masked(vexp(vsub(vload<V>(x + kb * plane + l), m)), kb, l, 0.0f);
      vstore(y + kb * plane + l, e);
      sv = sv + e;
    }
  const V s(vreduce_add(sv));
  for (std::int64_t kb = 0; kb < cb; ++kb)
    for (std::int64_t l = 0; l < B; l += L)
      vstore(y + kb * plane + l, masked(vdiv(vload<V>(y + kb * plane + l), s), kb, l, 0.0f));
}

}  // namespace detail

/// Softmax along axis 1. y may be x (in place).
///
///   PRIMSEL_RETURN_IF_ERROR(ops::Softmax::check(logits, probs));
///   ops::Softmax::run(logits, probs, &pool);
struct Softmax {
  static constexpr std::string_view name = "Softmax";

  static Status check(ConstTensorView x, ConstTensorView y) {
    const ErrorContext ctx = detail::context(name, {{"x", x}, {"y", y}});
    PRIMSEL_RETURN_IF_ERROR(detail::check_view("input", x, ctx));
    PRIMSEL_RETURN_IF_ERROR(detail::check_view("output", y, ctx));
    PRIMSEL_CHECK(x.shape().rank() >= 2, ErrorCode::invalid_argument,
                  "runs along axis 1, which a rank-" + std::to_string(x.shape().rank()) + " input does not have", ctx);
    PRIMSEL_CHECK(x.shape() == y.shape(), ErrorCode::shape_mismatch, "input and output shapes differ", ctx);
    PRIMSEL_CHECK(x.layout() == y.layout(), ErrorCode::invalid_argument, "input and output layouts differ", ctx);
    PRIMSEL_CHECK(!detail::partially_overlaps(x, y), ErrorCode::invalid_argument,
                  "output partially overlaps the input (in place must be the same buffer)", ctx);
    return {};
  }

  static void run(ConstTensorView x, TensorView y, ThreadPool* pool) noexcept {
    const Shape& s = x.shape();
    const std::int64_t n = s[0], c = s[1];
    if (n == 0 || c == 0) return;
    const std::int64_t inner = s.numel() / (n * c);  // pixels per image
    const float* xd = x.data<float>();
    float* yd = y.data<float>();
    const std::int64_t grain = std::max<std::int64_t>(1, 8192 / c);  // pixels per thread worth a wake-up
    switch (x.layout()) {
      case Layout::nchw:
        if (inner == 1) {
          detail::parallel_ranges(pool, n, grain, [&](std::int64_t b, std::int64_t e) {
            for (std::int64_t r = b; r < e; ++r) detail::softmax_row(xd + r * c, yd + r * c, c);
          });
        } else {
          detail::parallel_ranges(pool, n * inner, grain, [&](std::int64_t b, std::int64_t e) {
            constexpr std::int64_t L = static_cast<std::int64_t>(simd::width);
            for (std::int64_t u = b; u < e;) {
              const std::int64_t img = u / inner, p = u % inner, len = std::min({L, inner - p, e - u});
              const std::int64_t off = img * c * inner + p;
              if (len == L) {
                detail::softmax_pixels<simd::FloatVec>(xd + off, yd + off, c, inner);
              } else {
                for (std::int64_t j = 0; j < len; ++j) detail::softmax_strided(xd + off + j, yd + off + j, c, inner);
              }
              u += len;
            }
          });
        }
        return;
      case Layout::nhwc:
        detail::parallel_ranges(pool, n * inner, grain, [&](std::int64_t b, std::int64_t e) {
          for (std::int64_t r = b; r < e; ++r) detail::softmax_row(xd + r * c, yd + r * c, c);
        });
        return;
      case Layout::nchw8c:
        return run_blocked<8>(x, y, pool, grain);
      case Layout::nchw16c:
        return run_blocked<16>(x, y, pool, grain);
    }
  }

 private:
  template <std::int64_t B>
  static void run_blocked(ConstTensorView x, TensorView y, ThreadPool* pool, std::int64_t grain) noexcept {
    const Shape& s = x.shape();
    const std::int64_t hw = s.h() * s.w(), cb = detail::ceil_div(s.c(), B), plane = hw * B;
    const float* xd = x.data<float>();
    float* yd = y.data<float>();
    detail::parallel_ranges(pool, s.n() * hw, grain, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t u = b; u < e; ++u) {
        const std::int64_t off = (u / hw * cb * hw + u % hw) * B;
        detail::softmax_blocked_pixel<B>(xd + off, yd + off, s.c(), plane);
      }
    });
  }
};

/// Checks, then runs Softmax along axis 1.
inline Status softmax(ConstTensorView x, TensorView y, ThreadPool* pool = nullptr) {
  PRIMSEL_RETURN_IF_ERROR(Softmax::check(x, y));
  Softmax::run(x, y, pool);
  return {};
}

}  // namespace primsel::ops
