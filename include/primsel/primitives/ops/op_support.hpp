// What the non-convolution ops in ops/ share: argument checks whose errors name the op and every tensor, the vector
// type that covers one channel block (AVX-512 with nchw8c: an 8-float AVX2 batch, so a block is never split
// across pixels), a few vector helpers that also compile for the one-lane scalar build, splitting work over the
// pool with a grain so small tensors stay on one thread, and zeroing the padded tail lanes of blocked outputs.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "primsel/core/error.hpp"
#include "primsel/core/simd.hpp"
#include "primsel/core/tensor.hpp"
#include "primsel/core/thread_pool.hpp"

namespace primsel::ops::detail {

// ---- validation ----------------------------------------------------------------------------------------------

/// "x 1x3x7x7 nchw8c/f32", the way every op's error context lists its tensors.
inline std::string describe(std::string_view role, const ConstTensorView& t) {
  return std::string(role) + " " + to_string(t.shape()) + " " + to_string(t.format());
}

/// The context of an error from op `op` on the named tensors: `MaxPool (x 1x3x7x7 nchw/f32, y 1x3x3x3 nchw/f32)`.
inline ErrorContext context(std::string_view op,
                            std::initializer_list<std::pair<std::string_view, ConstTensorView>> ts) {
  std::string shapes;
  for (const auto& [role, t] : ts) {
    if (!shapes.empty()) shapes += ", ";
    shapes += describe(role, t);
  }
  return ErrorContext{std::string(op), {}, std::move(shapes)};
}

/// What every tensor an op reads or writes must satisfy: f32, non-negative dims, a layout that can hold the
/// shape (non-plain layouts need rank 4) and data unless it is empty.
inline Status check_view(std::string_view role, const ConstTensorView& t, const ErrorContext& ctx) {
  const std::string r(role);
  PRIMSEL_CHECK(t.dtype() == DType::f32, ErrorCode::unsupported,
                r + " is " + std::string(to_string(t.dtype())) + "; these ops run f32", ctx);
  PRIMSEL_CHECK(t.shape().checked_numel() >= 0, ErrorCode::invalid_argument,
                r + " shape " + to_string(t.shape()) + " is negative or too large", ctx);
  if (auto why = layout_mismatch(t.shape(), t.layout()); !why.empty())
    return Error(ErrorCode::invalid_argument, r + ": " + why, ctx);
  PRIMSEL_CHECK(t.bytes() != nullptr || t.storage_elements() == 0, ErrorCode::invalid_argument, r + " has no data",
                ctx);
  return {};
}

/// Whether two views' bytes overlap (an op that reads one while writing the other must refuse that).
inline bool overlaps(const ConstTensorView& a, const ConstTensorView& b) noexcept {
  const auto a0 = reinterpret_cast<std::uintptr_t>(a.bytes()), b0 = reinterpret_cast<std::uintptr_t>(b.bytes());
  return a.size_bytes() && b.size_bytes() && a0 < b0 + b.size_bytes() && b0 < a0 + a.size_bytes();
}

/// Element-wise ops may write in place (same start, same size) but not into a shifted copy of their input.
inline bool partially_overlaps(const ConstTensorView& a, const ConstTensorView& b) noexcept {
  return overlaps(a, b) && !(a.bytes() == b.bytes() && a.size_bytes() == b.size_bytes());
}

// ---- threading -----------------------------------------------------------------------------------------------

/// Splits [0, n) into at most one contiguous range per thread, each of at least `grain` items, and calls
/// fn(begin, end) on each; runs inline without a pool or when the work is too small to be worth waking threads.
template <class F>
inline void parallel_ranges(ThreadPool* pool, std::int64_t n, std::int64_t grain, F&& fn) noexcept {
  if (n <= 0) return;
  const std::int64_t threads = pool ? pool->size() : 1;
  const std::int64_t chunks = std::clamp<std::int64_t>(n / std::max<std::int64_t>(grain, 1), 1, threads);
  if (chunks == 1 || pool == nullptr) {  // (null: chunks is 1; said again so GCC sees no call on a null pool)
    fn(std::int64_t{0}, n);
    return;
  }
  pool->parallel_for(chunks, [&](std::int64_t c0, std::int64_t c1, int) { fn(n * c0 / chunks, n * c1 / chunks); });
}

// ---- blocked layouts -----------------------------------------------------------------------------------------

constexpr std::int64_t ceil_div(std::int64_t a, std::int64_t b) noexcept { return (a + b - 1) / b; }

/// Zeroes the padded lanes [C % B, B) of the last channel block for the pixel units [u0, u1) of a blocked tensor
/// (unit u = pixel u % HW of block plane u / HW). Ops call it on the units they just wrote, while they are in cache,
/// so the tail stays zero even where f(0) != 0 (Clip(1, 6)) or an input's tail was not.
inline void zero_tail_lanes(float* y, const Shape& s, std::int64_t block, std::int64_t u0, std::int64_t u1) noexcept {
  if (block == 1 || s.rank() != 4) return;
  const std::int64_t valid = s.c() % block, hw = s.h() * s.w(), cb = ceil_div(s.c(), block);
  if (valid == 0 || hw == 0) return;
  for (std::int64_t q = u0 / hw; q * hw < u1; ++q) {
    if (q % cb != cb - 1) continue;
    const std::int64_t p0 = std::max(u0, q * hw), p1 = std::min(u1, (q + 1) * hw);
    for (std::int64_t p = p0; p < p1; ++p) std::fill(y + p * block + valid, y + (p + 1) * block, 0.0f);
  }
}

// ---- vectors ---------------------------------------------------------------------------------------------------

/// The vector for runs of `B` contiguous floats (a channel block): the native FloatVec when it fits in B, else the
/// widest narrower batch the target has (AVX-512 + nchw8c: 8 floats). B is a multiple of its size.
template <std::int64_t B>
struct BlockVec {
#if PRIMSEL_HAS_SIMD
  using type = std::conditional_t<(static_cast<std::int64_t>(simd::width) <= B), simd::FloatVec,
                                  xsimd::make_sized_batch_t<float, static_cast<std::size_t>(B)>>;
#else
  using type = simd::FloatVec;
#endif
  static_assert(!std::is_void_v<type>, "no vector type divides the channel block");
  static constexpr std::int64_t lanes = static_cast<std::int64_t>(type::size);
  static_assert(B % lanes == 0);
};

template <class V>
inline constexpr std::int64_t lanes_of = static_cast<std::int64_t>(V::size);

template <class V>
inline V vload(const float* p) noexcept {
#if PRIMSEL_HAS_SIMD
  return V::load_unaligned(p);
#else
  return V(*p);
#endif
}

template <class V>
inline void vstore(float* p, const V& v) noexcept {
#if PRIMSEL_HAS_SIMD
  v.store_unaligned(p);
#else
  *p = v.v;
#endif
}

/// x86 max semantics in every build: `a > b ? a : b` (the second operand when unordered).
template <class V>
inline V vmax(const V& a, const V& b) noexcept {
#if PRIMSEL_HAS_SIMD
  if constexpr (std::is_same_v<V, simd::FloatVec>)
    return simd::max(a, b);  // avoids GCC 12's AVX-512 false warning, see simd.hpp
  else
    return xsimd::max(a, b);
#else
  return simd::max(a, b);
#endif
}

/// The reference pooling's max step: `v > acc || v is NaN ? v : acc`, so a NaN anywhere in a window propagates.
template <class V>
inline V vmax_keep_nan(const V& acc, const V& v) noexcept {
#if PRIMSEL_HAS_SIMD
  return xsimd::select(xsimd::isnan(v), v, detail::vmax(v, acc));
#else
  return v.v > acc.v || v.v != v.v ? v : acc;
#endif
}

/// Activation::apply on a vector: NaN passes through, as in the reference.
template <class V>
inline V vclamp(const V& x, const V& lo, const V& hi) noexcept {
#if PRIMSEL_HAS_SIMD
  if constexpr (std::is_same_v<V, simd::FloatVec>)
    return simd::clamp(x, lo, hi);
  else
    return xsimd::min(hi, xsimd::max(lo, x));
#else
  return simd::clamp(x, lo, hi);
#endif
}

template <class V>
inline V vsub(const V& a, const V& b) noexcept {
#if PRIMSEL_HAS_SIMD
  return a - b;
#else
  return V(a.v - b.v);
#endif
}

template <class V>
inline V vdiv(const V& a, const V& b) noexcept {
#if PRIMSEL_HAS_SIMD
  if constexpr (std::is_same_v<V, simd::FloatVec>)
    return simd::div(a, b);  // exact on NEON too, see simd.hpp
  else
    return a / b;  // narrower x86 batches: divps is exact
#else
  return V(a.v / b.v);
#endif
}

// xsimd's exp uses AVX-512 intrinsics whose pass-through operand GCC 12 reports as uninitialised once inlined
// (GCC PR 105593, as for min/max in simd.hpp); the pragma keeps that false warning out of every includer's build.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
template <class V>
inline V vexp(const V& x) noexcept {
#if PRIMSEL_HAS_SIMD
  return xsimd::exp(x);
#else
  return V(std::exp(x.v));
#endif
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

/// Lanes whose index (plus `first`) is below `valid` keep v, the others become `fill`: masks a block's padding.
template <class V>
inline V vkeep_lanes(const V& v, std::int64_t first, std::int64_t valid, float fill) noexcept {
#if PRIMSEL_HAS_SIMD
  alignas(64) static constexpr float iota[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
  static_assert(V::size <= 16);
  return xsimd::select(V::load_aligned(iota) < V(static_cast<float>(valid - first)), v, V(fill));
#else
  return first < valid ? v : V(fill);
#endif
}

template <class V>
inline float vreduce_add(const V& v) noexcept {
#if PRIMSEL_HAS_SIMD
  return xsimd::hadd(v);
#else
  return v.v;
#endif
}

template <class V>
inline float vreduce_max(const V& v) noexcept {
  alignas(64) float lanes[lanes_of<V>];
  vstore(lanes, v);
  float m = lanes[0];
  for (std::int64_t i = 1; i < lanes_of<V>; ++i) m = lanes[i] > m ? lanes[i] : m;
  return m;
}

}  // namespace primsel::ops::detail
