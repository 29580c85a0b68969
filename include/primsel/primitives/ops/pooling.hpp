// MaxPool, AveragePool and GlobalAveragePool on every activation layout (nchw, nhwc, nchw8c, nchw16c), so a network
// can pool in the layout its convolutions produce instead of converting around each pooling layer. Semantics are the
// reference's (reference/pool.hpp, ONNX): windows clipped to the input, ceil_mode, count_include_pad, NaN-propagating
// max. Blocked and nhwc layouts vectorise across channels (one vector load per window tap), nchw across output
// columns with scalar edge columns. Each window is reduced in the reference's order and divided the same way, so
// both poolings equal it bit for bit. Global pooling sums blocks of a plane in float, then the blocks (error
// ~(H + W) ulp of the largest input; the reference sums in double).
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "primsel/graph/op.hpp"
#include "primsel/graph/shape_inference.hpp"
#include "primsel/primitives/ops/op_support.hpp"

namespace primsel::ops {

enum class PoolKind : std::uint8_t { max, average };

namespace detail {

/// One output position's window along one axis: input range [begin, end) clipped to the input, and this axis's
/// factor of the average's divisor, computed exactly as the reference does (products of these can be <= 0 only
/// for windows outside the input, which then average to 0).
struct Window {
  std::int64_t begin, end, count;
};

inline Window window(std::int64_t o, std::int64_t k, std::int64_t s, std::int64_t pad_begin, std::int64_t pad_end,
                     std::int64_t in, bool include_pad) noexcept {
  const std::int64_t start = o * s - pad_begin, stop = start + k;
  const std::int64_t b = std::max<std::int64_t>(start, 0), e = std::min(stop, in);
  return {b, e, include_pad ? std::min(stop, in + pad_end) - start : e - b};
}

template <PoolKind K, class V>
inline V pool_init() noexcept {
  return V(K == PoolKind::max ? -std::numeric_limits<float>::infinity() : 0.0f);
}

template <PoolKind K, class V>
inline V pool_step(const V& acc, const V& v) noexcept {
  if constexpr (K == PoolKind::max)
    return vmax_keep_nan(acc, v);
  else
    return acc + v;
}

template <PoolKind K, class V>
inline V pool_finish(const V& acc, std::int64_t count) noexcept {
  if constexpr (K == PoolKind::max)
    return acc;
  else
    return count > 0 ? vdiv(acc, V(static_cast<float>(count))) : V(0.0f);
}

/// One output value in scalar code, exactly the reference's loop: x + (iy * iw + ix) * ps is input pixel (iy, ix).
template <PoolKind K>
inline float pool_point(const float* x, std::int64_t iw, std::int64_t ps, const Window& wy, const Window& wx) noexcept {
  float a = K == PoolKind::max ? -std::numeric_limits<float>::infinity() : 0.0f;
  bool nan = false;  // tracked apart so the max compiles to maxss, not to a mispredicted branch per tap
  for (std::int64_t iy = wy.begin; iy < wy.end; ++iy)
    for (std::int64_t ix = wx.begin; ix < wx.end; ++ix) {
      const float v = x[(iy * iw + ix) * ps];
      if constexpr (K == PoolKind::max) {
        a = v > a ? v : a;
        nan |= v != v;
      } else {
        a += v;
      }
    }
  if constexpr (K == PoolKind::max) {
    if (nan) a = std::numeric_limits<float>::quiet_NaN();
  } else {
    const std::int64_t count = wy.count * wx.count;
    a = count > 0 ? a / static_cast<float>(count) : 0.0f;
  }
  return a;
}

/// Pools channels [0, len) of one output pixel whose input pixel (iy, ix) starts at x + (iy * iw + ix) * ps
/// (ps = the pixel stride: the block for nchwXc, C for nhwc); vectors of V with a scalar tail.
template <PoolKind K, class V>
inline void pool_channels(const float* x, std::int64_t iw, std::int64_t ps, std::int64_t len, const Window& wy,
                          const Window& wx, float* y) noexcept {
  constexpr std::int64_t L = lanes_of<V>;
  const std::int64_t count = wy.count * wx.count;
  const std::int64_t vector_end = len / L * L;
  for (std::int64_t c = 0; c < vector_end; c += L) {
    V acc = pool_init<K, V>();
    for (std::int64_t iy = wy.begin; iy < wy.end; ++iy) {
      const float* row = x + iy * iw * ps + c;
      for (std::int64_t ix = wx.begin; ix < wx.end; ++ix) acc = pool_step<K>(acc, vload<V>(row + ix * ps));
    }
    vstore(y + c, pool_finish<K>(acc, count));
  }
  for (std::int64_t c = vector_end; c < len; ++c) y[c] = pool_point<K>(x + c, iw, ps, wy, wx);
}

/// One output row of one nchw plane. Output columns whose window row lies inside the input, [lo, hi), go by
/// vectors: stride 1 loads the taps directly; strides 2-4 pool every input column of a chunk with contiguous loads
/// into a small buffer and keep every stride-th result (s times the vector work, but a 16-lane gather costs tens of
/// cycles on many cores: 3-4x slower on the development machine); larger strides gather. Clipped edge columns, and
/// rows too short for one vector, run the scalar loop.
template <PoolKind K>
inline void pool_row_nchw(const float* xp, std::int64_t ih, std::int64_t iw, const PoolParams& p, std::int64_t oy,
                          std::int64_t ow, float* yrow) noexcept {
  using simd::FloatVec;
  constexpr std::int64_t L = static_cast<std::int64_t>(simd::width);
  const std::int64_t kw = p.kernel[1], sw = p.stride[1], pl = p.pads.left;
  const Window wy = window(oy, p.kernel[0], p.stride[0], p.pads.top, p.pads.bottom, ih, p.count_include_pad);
  const std::int64_t lo = std::min(ow, ceil_div(pl, sw));
  const std::int64_t hi = std::max(lo, iw - kw + pl >= 0 ? std::min(ow, (iw - kw + pl) / sw + 1) : 0);
  const std::int64_t count = wy.count * kw;  // inside, the column window is the whole kernel either way
  // The window over input columns [x0, x0 + kw), all inside the row, for L consecutive x0 (or gathered ones).
  auto pool_vector = [&](std::int64_t x0, auto&& load_tap) {
    FloatVec acc = pool_init<K, FloatVec>();
    for (std::int64_t iy = wy.begin; iy < wy.end; ++iy) {
      const float* row = xp + iy * iw + x0;
      for (std::int64_t kx = 0; kx < kw; ++kx) acc = pool_step<K>(acc, load_tap(row + kx));
    }
    return acc;
  };
  auto scalar = [&](std::int64_t ox) {
    yrow[ox] = pool_point<K>(xp, iw, 1, wy, window(ox, kw, sw, pl, p.pads.right, iw, p.count_include_pad));
  };
  auto contiguous = [](const float* q) { return vload<FloatVec>(q); };
  std::int64_t ox = 0;
  for (; ox < lo; ++ox) scalar(ox);
  // A row's last vector may overlap the previous one (recomputing a few outputs) instead of going scalar.
  if (sw == 1) {
    if (hi - ox >= L)
      for (; ox < hi; ox = std::min(ox + L, hi)) {
        ox = std::min(ox, hi - L);
        vstore(yrow + ox, pool_finish<K>(pool_vector(ox - pl, contiguous), count));
      }
  } else if (sw <= 4) {
    constexpr std::int64_t cap = 16 * L;  // pooled input columns per chunk
    alignas(64) float dense[cap];
    const std::int64_t min_outputs = ceil_div(L - 1, sw) + 1;  // for a span of at least one vector
    if (hi - ox >= min_outputs)
      while (ox < hi) {
        std::int64_t outputs = std::min(hi - ox, (cap - 1) / sw + 1);
        if (outputs < min_outputs) ox = hi - min_outputs, outputs = min_outputs;
        const std::int64_t span = (outputs - 1) * sw + 1;
        for (std::int64_t t = 0; t < span; t = std::min(t + L, span)) {
          t = std::min(t, span - L);
          vstore(dense + t, pool_vector(ox * sw - pl + t, contiguous));
        }
        for (std::int64_t i = 0; i < outputs; ++i) {
          const float a = dense[i * sw];
          if constexpr (K == PoolKind::max)
            yrow[ox + i] = a;
          else
            yrow[ox + i] = count > 0 ? a / static_cast<float>(count) : 0.0f;
        }
        ox += outputs;
      }
  } else {
#if PRIMSEL_HAS_SIMD
    alignas(64) std::int32_t offsets[L];
    for (std::int64_t i = 0; i < L; ++i) offsets[i] = static_cast<std::int32_t>(i * sw);
    const auto index = xsimd::batch<std::int32_t, simd::Arch>::load_aligned(offsets);
    auto gathered = [&](const float* q) { return FloatVec::gather(q, index); };
    if (hi - ox >= L)
      for (; ox < hi; ox = std::min(ox + L, hi)) {
        ox = std::min(ox, hi - L);
        vstore(yrow + ox, pool_finish<K>(pool_vector(ox * sw - pl, gathered), count));
      }
#endif
  }
  for (; ox < ow; ++ox) scalar(ox);
}

}  // namespace detail

/// Output shape of MaxPool/AveragePool on an input of shape x, as shape inference computes it (ONNX formula,
/// ceil_mode included), or why there is none. `op` names the op in the error.
inline Expected<Shape> pool_output_shape(const Shape& x, const PoolParams& p, std::string_view op = "MaxPool") {
  const ErrorContext ctx{std::string(op), {}, "x " + to_string(x)};
  PRIMSEL_CHECK(x.rank() == 4, ErrorCode::invalid_argument, "input must be 4-D [N, C, H, W]", ctx);
  PRIMSEL_CHECK(p.kernel[0] >= 1 && p.kernel[1] >= 1 && p.stride[0] >= 1 && p.stride[1] >= 1,
                ErrorCode::invalid_argument,
                "kernel " + std::to_string(p.kernel[0]) + "x" + std::to_string(p.kernel[1]) + " and stride " +
                    std::to_string(p.stride[0]) + "x" + std::to_string(p.stride[1]) + " must be >= 1",
                ctx);
  PRIMSEL_CHECK(p.pads.top >= 0 && p.pads.left >= 0 && p.pads.bottom >= 0 && p.pads.right >= 0,
                ErrorCode::invalid_argument, "pads must be >= 0", ctx);
  const std::int64_t oh =
      window_output_size(x.h(), p.kernel[0], p.stride[0], p.pads.top, p.pads.bottom, 1, p.ceil_mode);
  const std::int64_t ow =
      window_output_size(x.w(), p.kernel[1], p.stride[1], p.pads.left, p.pads.right, 1, p.ceil_mode);
  PRIMSEL_CHECK(oh > 0 && ow > 0, ErrorCode::invalid_argument,
                "the " + std::to_string(p.kernel[0]) + "x" + std::to_string(p.kernel[1]) +
                    " window does not fit the padded input",
                ctx);
  return Shape{x.n(), x.c(), oh, ow};
}

/// MaxPool (K = max) or AveragePool (K = average). x and y share one layout; y has pool_output_shape(x). Work
/// items are output rows (of one plane for nchw, of one channel block for nchwXc, of all channels for nhwc).
///
///   PRIMSEL_RETURN_IF_ERROR(ops::MaxPool::check(x, p, y));   // once, when the buffers are bound
///   ops::MaxPool::run(x, p, y, &pool);                       // every inference
template <PoolKind K>
struct Pool2d {
  static constexpr std::string_view name = K == PoolKind::max ? "MaxPool" : "AveragePool";

  static Status check(ConstTensorView x, const PoolParams& p, ConstTensorView y) {
    const ErrorContext ctx = detail::context(name, {{"x", x}, {"y", y}});
    PRIMSEL_RETURN_IF_ERROR(detail::check_view("input", x, ctx));
    PRIMSEL_RETURN_IF_ERROR(detail::check_view("output", y, ctx));
    PRIMSEL_CHECK(x.layout() == y.layout(), ErrorCode::invalid_argument,
                  "input and output layouts differ (" + std::string(to_string(x.layout())) + " vs " +
                      std::string(to_string(y.layout())) + ")",
                  ctx);
    auto expected = pool_output_shape(x.shape(), p, name);
    if (!expected) return std::move(expected).error().with_context(ctx);
    PRIMSEL_CHECK(y.shape() == *expected, ErrorCode::shape_mismatch,
                  "output is " + to_string(y.shape()) + ", the window gives " + to_string(*expected), ctx);
    PRIMSEL_CHECK(!detail::overlaps(x, y), ErrorCode::invalid_argument, "output overlaps the input", ctx);
    return {};
  }

  /// Assumes check() passed. pool may be null (one thread).
  static void run(ConstTensorView x, const PoolParams& p, TensorView y, ThreadPool* pool) noexcept {
    const Shape& xs = x.shape();
    const Shape& ys = y.shape();
    const std::int64_t ih = xs.h(), iw = xs.w(), oh = ys.h(), ow = ys.w();
    const float* xd = x.data<float>();
    float* yd = y.data<float>();
    switch (x.layout()) {
      case Layout::nchw:
        detail::parallel_ranges(pool, xs.n() * xs.c() * oh, grain_rows(p, ow), [&](std::int64_t b, std::int64_t e) {
          for (std::int64_t r = b; r < e; ++r)
            detail::pool_row_nchw<K>(xd + r / oh * ih * iw, ih, iw, p, r % oh, ow, yd + r * ow);
        });
        return;
      case Layout::nhwc:
        detail::parallel_ranges(pool, xs.n() * oh, grain_rows(p, ow * xs.c()), [&](std::int64_t b, std::int64_t e) {
          for (std::int64_t r = b; r < e; ++r) {
            const std::int64_t n = r / oh, oy = r % oh, c = xs.c();
            const detail::Window wy = window_y(p, oy, ih);
            for (std::int64_t ox = 0; ox < ow; ++ox)
              detail::pool_channels<K, simd::FloatVec>(xd + n * ih * iw * c, iw, c, c, wy, window_x(p, ox, iw),
                                                       yd + ((n * oh + oy) * ow + ox) * c);
          }
        });
        return;
      case Layout::nchw8c:
        return run_blocked<8>(x, p, y, pool);
      case Layout::nchw16c:
        return run_blocked<16>(x, p, y, pool);
    }
  }

 private:
  /// Rows per thread worth waking a worker for: ~16k window taps.
  static std::int64_t grain_rows(const PoolParams& p, std::int64_t outputs_per_row) noexcept {
    return std::max<std::int64_t>(1, 16384 / std::max<std::int64_t>(outputs_per_row * p.kernel[0] * p.kernel[1], 1));
  }
  static detail::Window window_y(const PoolParams& p, std::int64_t oy, std::int64_t ih) noexcept {
    return detail::window(oy, p.kernel[0], p.stride[0], p.pads.top, p.pads.bottom, ih, p.count_include_pad);
  }
  static detail::Window window_x(const PoolParams& p, std::int64_t ox, std::int64_t iw) noexcept {
    return detail::window(ox, p.kernel[1], p.stride[1], p.pads.left, p.pads.right, iw, p.count_include_pad);
  }

  template <std::int64_t B>
  static void run_blocked(ConstTensorView x, const PoolParams& p, TensorView y, ThreadPool* pool) noexcept {
    using V = typename detail::BlockVec<B>::type;
    const Shape& xs = x.shape();
    const Shape& ys = y.shape();
    const std::int64_t ih = xs.h(), iw = xs.w(), oh = ys.h(), ow = ys.w(), cb = detail::ceil_div(xs.c(), B);
    const float* xd = x.data<float>();
    float* yd = y.data<float>();
    // Item r = (image, block) plane r / oh, output row r % oh.
    detail::parallel_ranges(pool, xs.n() * cb * oh, grain_rows(p, ow * B), [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t r = b; r < e; ++r) {
        const std::int64_t plane = r / oh, oy = r % oh;
        const detail::Window wy = window_y(p, oy, ih);
        float* yrow = yd + r * ow * B;
        for (std::int64_t ox = 0; ox < ow; ++ox)
          detail::pool_channels<K, V>(xd + plane * ih * iw * B, iw, B, B, wy, window_x(p, ox, iw), yrow + ox * B);
        detail::zero_tail_lanes(yd, ys, B, r * ow, (r + 1) * ow);
      }
    });
  }
};

using MaxPool = Pool2d<PoolKind::max>;
using AveragePool = Pool2d<PoolKind::average>;

/// Checks, then runs MaxPool: y = max over each window of x.
inline Status max_pool(ConstTensorView x, const PoolParams& p, TensorView y, ThreadPool* pool = nullptr) {
  PRIMSEL_RETURN_IF_ERROR(MaxPool::check(x, p, y));
  MaxPool::run(x, p, y, pool);
  return {};
}

/// Checks, then runs AveragePool: y = mean over each (clipped, or with count_include_pad padded) window of x.
inline Status average_pool(ConstTensorView x, const PoolParams& p, TensorView y, ThreadPool* pool = nullptr) {
  PRIMSEL_RETURN_IF_ERROR(AveragePool::check(x, p, y));
  AveragePool::run(x, p, y, pool);
  return {};
}

/// GlobalAveragePool: y[N, C, 1, 1] = mean of each H x W plane, in x's layout.
struct GlobalAveragePool {
  static constexpr std::string_view name = "GlobalAveragePool";

  static Status check(ConstTensorView x, ConstTensorView y) {
    const ErrorContext ctx = detail::context(name, {{"x", x}, {"y", y}});
    PRIMSEL_RETURN_IF_ERROR(detail::check_view("input", x, ctx));
    PRIMSEL_RETURN_IF_ERROR(detail::check_view("output", y, ctx));
    PRIMSEL_CHECK(x.shape().rank() == 4, ErrorCode::invalid_argument, "input must be 4-D [N, C, H, W]", ctx);
    PRIMSEL_CHECK(x.layout() == y.layout(), ErrorCode::invalid_argument, "input and output layouts differ", ctx);
    const Shape& s = x.shape();
    PRIMSEL_CHECK(s.h() * s.w() > 0, ErrorCode::invalid_argument, "input has an empty plane", ctx);
    PRIMSEL_CHECK(y.shape() == Shape({s.n(), s.c(), 1, 1}), ErrorCode::shape_mismatch,
                  "output must be " + to_string(Shape{s.n(), s.c(), 1, 1}), ctx);
    PRIMSEL_CHECK(!detail::overlaps(x, y), ErrorCode::invalid_argument, "output overlaps the input", ctx);
    return {};
  }

  static void run(ConstTensorView x, TensorView y, ThreadPool* pool) noexcept {
    const Shape& s = x.shape();
    const float* xd = x.data<float>();
    float* yd = y.data<float>();
    const std::int64_t hw = s.h() * s.w();
    switch (x.layout()) {
      case Layout::nchw:
        detail::parallel_ranges(pool, s.n() * s.c(), grain(hw), [&](std::int64_t b, std::int64_t e) {
          for (std::int64_t plane = b; plane < e; ++plane) yd[plane] = plane_mean(xd + plane * hw, hw);
        });
        return;
      case Layout::nhwc:
        // Item: (image, vector of channels); a partial last vector goes lane by lane.
        detail::parallel_ranges(pool, s.n() * s.c(), grain(hw), [&](std::int64_t b, std::int64_t e) {
          constexpr std::int64_t L = static_cast<std::int64_t>(simd::width);
          for (std::int64_t i = b; i < e;) {
            const std::int64_t n = i / s.c(), c = i % s.c();
            const std::int64_t len = std::min({L, s.c() - c, e - i});
            if (len == L)
              mean_pixels<simd::FloatVec>(xd + n * hw * s.c() + c, s.h(), s.w(), s.c(), yd + n * s.c() + c);
            else
              for (std::int64_t j = 0; j < len; ++j)
                yd[n * s.c() + c + j] = strided_mean(xd + n * hw * s.c() + c + j, s.h(), s.w(), s.c());
            i += len;
          }
        });
        return;
      case Layout::nchw8c:
        return run_blocked<8>(x, y, pool);
      case Layout::nchw16c:
        return run_blocked<16>(x, y, pool);
    }
  }

 private:
  static std::int64_t grain(std::int64_t hw) noexcept { return std::max<std::int64_t>(1, 4096 / hw); }

  /// Mean of n contiguous floats: vector sums over chunks of `chunk` floats, added into the total (so each partial
  /// sum has few terms: error ~(chunk / width + n / chunk) ulp instead of n / width).
  static float plane_mean(const float* x, std::int64_t n) noexcept {
    using simd::FloatVec;
    constexpr std::int64_t L = static_cast<std::int64_t>(simd::width), chunk = 64 * L;
    FloatVec total(0.0f);
    std::int64_t i = 0;
    const std::int64_t vector_end = n / (2 * L) * (2 * L);
    while (i < vector_end) {
      const std::int64_t end = std::min(vector_end, i + chunk);
      FloatVec a0(0.0f), a1(0.0f);
      for (; i < end; i += 2 * L) {
        a0 = a0 + detail::vload<FloatVec>(x + i);
        a1 = a1 + detail::vload<FloatVec>(x + i + L);
      }
      total = total + (a0 + a1);
    }
    float tail = 0.0f;
    for (; i < n; ++i) tail += x[i];
    return (detail::vreduce_add(total) + tail) / static_cast<float>(n);
  }

  /// Mean of h x w floats `ps` apart (one channel of an nhwc image).
  static float strided_mean(const float* x, std::int64_t h, std::int64_t w, std::int64_t ps) noexcept {
    float total = 0.0f;
    for (std::int64_t r = 0; r < h; ++r) {
      float row = 0.0f;
      for (std::int64_t c = 0; c < w; ++c) row += x[(r * w + c) * ps];
      total += row;
    }
    return total / static_cast<float>(h * w);
  }

  /// Mean over the h x w pixels (ps floats apart) of V::size channels at x, stored at y: a sum per row, then rows.
  template <class V>
  static void mean_pixels(const float* x, std::int64_t h, std::int64_t w, std::int64_t ps, float* y) noexcept {
    V total(0.0f);
    for (std::int64_t r = 0; r < h; ++r) {
      const float* row = x + r * w * ps;
      V acc0(0.0f), acc1(0.0f);
      std::int64_t c = 0;
      for (; c + 2 <= w; c += 2) {
        acc0 = acc0 + detail::vload<V>(row + c * ps);
        acc1 = acc1 + detail::vload<V>(row + (c + 1) * ps);
      }
      if (c < w) acc0 = acc0 + detail::vload<V>(row + c * ps);
      total = total + (acc0 + acc1);
    }
    detail::vstore(y, detail::vdiv(total, V(static_cast<float>(h * w))));
  }

  template <std::int64_t B>
  static void run_blocked(ConstTensorView x, TensorView y, ThreadPool* pool) noexcept {
    using V = typename detail::BlockVec<B>::type;
    constexpr std::int64_t L = detail::BlockVec<B>::lanes;
    const Shape& s = x.shape();
    const std::int64_t hw = s.h() * s.w(), cb = detail::ceil_div(s.c(), B);
    const float* xd = x.data<float>();
    float* yd = y.data<float>();
    detail::parallel_ranges(pool, s.n() * cb, grain(hw * B), [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t plane = b; plane < e; ++plane) {
        for (std::int64_t v = 0; v < B; v += L)
          mean_pixels<V>(xd + plane * hw * B + v, s.h(), s.w(), B, yd + plane * B + v);
        detail::zero_tail_lanes(yd, y.shape(), B, plane, plane + 1);
      }
    });
  }
};

/// Checks, then runs GlobalAveragePool.
inline Status global_average_pool(ConstTensorView x, TensorView y, ThreadPool* pool = nullptr) {
  PRIMSEL_RETURN_IF_ERROR(GlobalAveragePool::check(x, y));
  GlobalAveragePool::run(x, y, pool);
  return {};
}

}  // namespace primsel::ops
