// Element-wise Add (two same-shape tensors, with an optional fused clamp: Relu, Relu6, Clip) and standalone
// Relu/Clip, on any layout. Element-wise ops do not care where a logical element is stored, so they run over the
// storage as one flat array — a residual Add in nchw16c costs the same as in nchw — and then rewrite the padded tail
// lanes of a blocked output as zeros, because the clamp of a zero pad need not be zero (Clip(1, 6)). Bit-exact
// with the reference: one add, then Activation::apply's clamp, per element. In place (y aliasing an input) is fine.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "primsel/graph/op.hpp"
#include "primsel/primitives/ops/op_support.hpp"

namespace primsel::ops {

namespace detail {

/// Floats per thread worth waking a worker for.
inline constexpr std::int64_t eltwise_grain = 16384;

/// Calls kernel(begin, end) over stored floats [begin, end) of a tensor of shape s in layout l, split over threads
/// at whole-pixel boundaries of the channel block, and zeroes each range's padding lanes in y while still in cache.
template <class Kernel>
inline void for_storage(const Shape& s, Layout l, float* y, ThreadPool* pool, Kernel&& kernel) noexcept {
  const std::int64_t block = s.rank() == 4 ? channel_block(l) : 1;
  const std::int64_t units = storage_elements(s, l) / block;
  parallel_ranges(pool, units, eltwise_grain / block, [&](std::int64_t u0, std::int64_t u1) {
    kernel(u0 * block, u1 * block);
    zero_tail_lanes(y, s, block, u0, u1);
  });
}

/// y[i] = clamp(a[i] + b[i]) (or the plain sum when `act` is none) for i in [0, n).
inline void add_range(const float* a, const float* b, float* y, std::int64_t n, Activation act) noexcept {
  using simd::FloatVec;
  constexpr std::int64_t L = static_cast<std::int64_t>(simd::width);
  std::int64_t i = 0;
  if (act.is_none()) {
    for (; i + 2 * L <= n; i += 2 * L) {
      vstore(y + i, vload<FloatVec>(a + i) + vload<FloatVec>(b + i));
      vstore(y + i + L, vload<FloatVec>(a + i + L) + vload<FloatVec>(b + i + L));
    }
    for (; i + L <= n; i += L) vstore(y + i, vload<FloatVec>(a + i) + vload<FloatVec>(b + i));
    for (; i < n; ++i) y[i] = a[i] + b[i];
    return;
  }
  const FloatVec lo(act.lo), hi(act.hi);
  for (; i + 2 * L <= n; i += 2 * L) {
    vstore(y + i, vclamp(vload<FloatVec>(a + i) + vload<FloatVec>(b + i), lo, hi));
    vstore(y + i + L, vclamp(vload<FloatVec>(a + i + L) + vload<FloatVec>(b + i + L), lo, hi));
  }
  for (; i + L <= n; i += L) vstore(y + i, vclamp(vload<FloatVec>(a + i) + vload<FloatVec>(b + i), lo, hi));
  for (; i < n; ++i) y[i] = act.apply(a[i] + b[i]);
}

/// y[i] = act.apply(x[i]) for i in [0, n).
inline void clamp_range(const float* x, float* y, std::int64_t n, Activation act) noexcept {
  using simd::FloatVec;
  constexpr std::int64_t L = static_cast<std::int64_t>(simd::width);
  const FloatVec lo(act.lo), hi(act.hi);
  std::int64_t i = 0;
  for (; i + 2 * L <= n; i += 2 * L) {
    vstore(y + i, vclamp(vload<FloatVec>(x + i), lo, hi));
    vstore(y + i + L, vclamp(vload<FloatVec>(x + i + L), lo, hi));
  }
  for (; i + L <= n; i += L) vstore(y + i, vclamp(vload<FloatVec>(x + i), lo, hi));
  for (; i < n; ++i) y[i] = act.apply(x[i]);
}

inline Status check_activation(const Activation& act, const ErrorContext& ctx) {
  PRIMSEL_CHECK(act.lo <= act.hi, ErrorCode::invalid_argument,
                "clamp range [" + std::to_string(act.lo) + ", " + std::to_string(act.hi) + "] is empty or NaN", ctx);
  return {};
}

}  // namespace detail

/// Add: y = act(a + b) for two tensors of the same shape and layout (no broadcasting: residual connections).
///
///   PRIMSEL_RETURN_IF_ERROR(ops::Add::check(a, b, y, Activation::relu()));
///   ops::Add::run(a, b, y, Activation::relu(), &pool);    // y may be a or b
struct Add {
  static constexpr std::string_view name = "Add";

  static Status check(ConstTensorView a, ConstTensorView b, ConstTensorView y, Activation act = {}) {
    const ErrorContext ctx = detail::context(name, {{"a", a}, {"b", b}, {"y", y}});
    PRIMSEL_RETURN_IF_ERROR(detail::check_view("input a", a, ctx));
    PRIMSEL_RETURN_IF_ERROR(detail::check_view("input b", b, ctx));
    PRIMSEL_RETURN_IF_ERROR(detail::check_view("output", y, ctx));
    PRIMSEL_CHECK(a.shape() == b.shape() && a.shape() == y.shape(), ErrorCode::shape_mismatch,
                  "inputs and output must have the same shape (this Add does not broadcast)", ctx);
    PRIMSEL_CHECK(a.layout() == b.layout() && a.layout() == y.layout(), ErrorCode::invalid_argument,
                  "inputs and output must share one layout", ctx);
    PRIMSEL_CHECK(!detail::partially_overlaps(a, y) && !detail::partially_overlaps(b, y), ErrorCode::invalid_argument,
                  "output partially overlaps an input (in place must be the same buffer)", ctx);
    return detail::check_activation(act, ctx);
  }

  static void run(ConstTensorView a, ConstTensorView b, TensorView y, Activation act, ThreadPool* pool) noexcept {
    const float* ad = a.data<float>();
    const float* bd = b.data<float>();
    float* yd = y.data<float>();
    detail::for_storage(y.shape(), y.layout(), yd, pool, [&](std::int64_t i0, std::int64_t i1) {
      detail::add_range(ad + i0, bd + i0, yd + i0, i1 - i0, act);
    });
  }
};

/// Clamp: y = min(max(x, lo), hi) — Relu is [0, inf), Relu6 [0, 6], Clip(min, max) [min, max]. NaN passes through.
struct Clamp {
  static constexpr std::string_view name = "Clamp";

  /// `op` names the op in errors ("Relu", "Clip").
  static Status check(ConstTensorView x, ConstTensorView y, Activation act, std::string_view op = name) {
    const ErrorContext ctx = detail::context(op, {{"x", x}, {"y", y}});
    PRIMSEL_RETURN_IF_ERROR(detail::check_view("input", x, ctx));
    PRIMSEL_RETURN_IF_ERROR(detail::check_view("output", y, ctx));
    PRIMSEL_CHECK(x.shape() == y.shape(), ErrorCode::shape_mismatch, "input and output shapes differ", ctx);
    PRIMSEL_CHECK(x.layout() == y.layout(), ErrorCode::invalid_argument, "input and output layouts differ", ctx);
    PRIMSEL_CHECK(!detail::partially_overlaps(x, y), ErrorCode::invalid_argument,
                  "output partially overlaps the input (in place must be the same buffer)", ctx);
    return detail::check_activation(act, ctx);
  }

  static void run(ConstTensorView x, TensorView y, Activation act, ThreadPool* pool) noexcept {
    const float* xd = x.data<float>();
    float* yd = y.data<float>();
    detail::for_storage(y.shape(), y.layout(), yd, pool,
                        [&](std::int64_t i0, std::int64_t i1) { detail::clamp_range(xd + i0, yd + i0, i1 - i0, act); });
  }
};

/// Checks, then runs Add with an optional fused activation.
inline Status add(ConstTensorView a, ConstTensorView b, TensorView y, Activation act = {}, ThreadPool* pool = nullptr) {
  PRIMSEL_RETURN_IF_ERROR(Add::check(a, b, y, act));
  Add::run(a, b, y, act, pool);
  return {};
}

/// Checks, then runs Relu: y = max(x, 0).
inline Status relu(ConstTensorView x, TensorView y, ThreadPool* pool = nullptr) {
  PRIMSEL_RETURN_IF_ERROR(Clamp::check(x, y, Activation::relu(), "Relu"));
  Clamp::run(x, y, Activation::relu(), pool);
  return {};
}

/// Checks, then runs Clip: y = min(max(x, p.min), p.max).
inline Status clip(ConstTensorView x, const ClipParams& p, TensorView y, ThreadPool* pool = nullptr) {
  const Activation act{p.min, p.max};
  PRIMSEL_RETURN_IF_ERROR(Clamp::check(x, y, act, "Clip"));
  Clamp::run(x, y, act, pool);
  return {};
}

}  // namespace primsel::ops
