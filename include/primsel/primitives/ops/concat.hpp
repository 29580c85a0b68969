// Concat along channels (axis 1) — Inception and Fire modules — on every layout. nchw copies one contiguous slab per
// image and input; nhwc one run of C_i floats per pixel and input. In the blocked layouts an input whose channel
// offset is a multiple of the block maps whole blocks onto whole output blocks (one contiguous copy per block
// plane: the common case, as real networks concatenate multiples of 16 channels); otherwise its channels straddle
// output blocks and are re-packed lane by lane. Either way the output's padded tail lanes are written as zeros.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

#include "primsel/primitives/ops/op_support.hpp"

namespace primsel::ops {

/// Concat along axis 1: y = [x0, x1, ...]. All tensors share one layout; nchw takes any rank >= 2.
///
///   const ConstTensorView parts[] = {a, b, c};
///   PRIMSEL_RETURN_IF_ERROR(ops::Concat::check(parts, y));
///   ops::Concat::run(parts, y, &pool);
struct Concat {
  static constexpr std::string_view name = "Concat";

  static Status check(std::span<const ConstTensorView> xs, ConstTensorView y) {
    std::string shapes;
    for (std::size_t i = 0; i < xs.size(); ++i)
      shapes += detail::describe(std::string(1, 'x').append(std::to_string(i)), xs[i]) + ", ";
    const ErrorContext ctx{std::string(name), {}, shapes + detail::describe("y", y)};
    PRIMSEL_CHECK(!xs.empty(), ErrorCode::invalid_argument, "needs at least one input", ctx);
    PRIMSEL_RETURN_IF_ERROR(detail::check_view("output", y, ctx));
    const Shape& ys = y.shape();
    PRIMSEL_CHECK(ys.rank() >= 2, ErrorCode::invalid_argument,
                  "concatenates along axis 1, which a rank-" + std::to_string(ys.rank()) + " output does not have",
                  ctx);
    std::int64_t channels = 0;
    for (std::size_t i = 0; i < xs.size(); ++i) {
      const std::string role = std::string("input ").append(std::to_string(i));
      PRIMSEL_RETURN_IF_ERROR(detail::check_view(role, xs[i], ctx));
      PRIMSEL_CHECK(xs[i].layout() == y.layout(), ErrorCode::invalid_argument,
                    role + " is " + std::string(to_string(xs[i].layout())) + ", the output " +
                        std::string(to_string(y.layout())) + ": all must share one layout",
                    ctx);
      const Shape& s = xs[i].shape();
      bool same = s.rank() == ys.rank();
      for (int d = 0; same && d < s.rank(); ++d) same = d == 1 || s[d] == ys[d];
      PRIMSEL_CHECK(same, ErrorCode::shape_mismatch, role + " differs from the output outside axis 1", ctx);
      PRIMSEL_CHECK(!detail::overlaps(xs[i], y), ErrorCode::invalid_argument, role + " overlaps the output", ctx);
      channels += s[1];
    }
    PRIMSEL_CHECK(channels == ys[1], ErrorCode::shape_mismatch,
                  "inputs have " + std::to_string(channels) + " channels in all, the output " + std::to_string(ys[1]),
                  ctx);
    return {};
  }

  static void run(std::span<const ConstTensorView> xs, TensorView y, ThreadPool* pool) noexcept {
    switch (y.layout()) {
      case Layout::nchw:
        return run_nchw(xs, y, pool);
      case Layout::nhwc:
        return run_nhwc(xs, y, pool);
      case Layout::nchw8c:
        return run_blocked<8>(xs, y, pool);
      case Layout::nchw16c:
        return run_blocked<16>(xs, y, pool);
    }
  }

 private:
  static constexpr std::int64_t grain = 16384;  // floats per thread worth waking a worker for

  static void copy(float* dst, const float* src, std::int64_t n) noexcept {
    if (n > 0) std::memcpy(dst, src, static_cast<std::size_t>(n) * sizeof(float));
  }

  /// Output floats [b, e) of image-major slabs: image n holds input i's C_i * inner floats at (n * C + off_i) * inner.
  static void run_nchw(std::span<const ConstTensorView> xs, TensorView y, ThreadPool* pool) noexcept {
    const Shape& ys = y.shape();
    const std::int64_t image = ys.numel() / (ys[0] > 0 ? ys[0] : 1), inner = ys[1] > 0 ? image / ys[1] : 0;
    float* yd = y.data<float>();
    detail::parallel_ranges(pool, ys.numel(), grain, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t n = b / image; n * image < e; ++n) {
        std::int64_t offset = 0;
        for (const ConstTensorView& x : xs) {
          const std::int64_t len = x.shape()[1] * inner, start = n * image + offset;
          const std::int64_t lo = std::max(b, start), hi = std::min(e, start + len);
          copy(yd + lo, x.data<float>() + n * len + (lo - start), hi - lo);
          offset += len;
        }
      }
    });
  }

  static void run_nhwc(std::span<const ConstTensorView> xs, TensorView y, ThreadPool* pool) noexcept {
    const Shape& ys = y.shape();
    const std::int64_t pixels = ys.n() * ys.h() * ys.w(), c = ys.c();
    float* yd = y.data<float>();
    detail::parallel_ranges(pool, pixels, grain / std::max<std::int64_t>(c, 1), [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t p = b; p < e; ++p) {
        std::int64_t offset = 0;
        for (const ConstTensorView& x : xs) {
          const std::int64_t ci = x.shape().c();
          copy(yd + p * c + offset, x.data<float>() + p * ci, ci);
          offset += ci;
        }
      }
    });
  }

  /// Units are pixels of block planes (plane q = image q / Cb, output block q % Cb). For each plane segment a
  /// table says where each output lane comes from; when it is one whole input block, the segment is one copy.
  template <std::int64_t B>
  static void run_blocked(std::span<const ConstTensorView> xs, TensorView y, ThreadPool* pool) noexcept {
    const Shape& ys = y.shape();
    const std::int64_t hw = ys.h() * ys.w(), cb = detail::ceil_div(ys.c(), B);
    float* yd = y.data<float>();
    detail::parallel_ranges(pool, ys.n() * cb * hw, grain / B, [&](std::int64_t u0, std::int64_t u1) {
      for (std::int64_t q = u0 / hw; q * hw < u1; ++q) {
        const std::int64_t n = q / cb, ob = q % cb, p0 = std::max(u0, q * hw) - q * hw,
                           p1 = std::min(u1, (q + 1) * hw) - q * hw;
        const std::int64_t valid = std::min(B, ys.c() - ob * B);
        const float* src[B];  // lane j of pixel p reads src[j][p * B]
        bool whole_block = true;
        std::size_t i = 0;
        std::int64_t offset = 0;  // channel offset of input i
        for (std::int64_t j = 0; j < valid; ++j) {
          const std::int64_t c = ob * B + j;
          while (c >= offset + xs[i].shape().c()) offset += xs[i++].shape().c();
          const std::int64_t ci = c - offset, icb = detail::ceil_div(xs[i].shape().c(), B);
          src[j] = xs[i].data<float>() + ((n * icb + ci / B) * hw) * B + ci % B;
          whole_block = whole_block && ci % B == j && src[j] == src[0] + j;
        }
        float* dst = yd + q * hw * B;
        if (whole_block) {
          copy(dst + p0 * B, src[0] + p0 * B, (p1 - p0) * B);
        } else {
          for (std::int64_t p = p0; p < p1; ++p) {
            float* d = dst + p * B;
            for (std::int64_t j = 0; j < valid; ++j) d[j] = src[j][p * B];
          }
        }
        detail::zero_tail_lanes(yd, ys, B, q * hw + p0, q * hw + p1);
      }
    });
  }
};

/// Checks, then runs Concat along axis 1.
inline Status concat(std::span<const ConstTensorView> xs, TensorView y, ThreadPool* pool = nullptr) {
  PRIMSEL_RETURN_IF_ERROR(Concat::check(xs, y));
  Concat::run(xs, y, pool);
  return {};
}

}  // namespace primsel::ops
