// Shared helpers for the ops/ tests: fills, moving tensors between layouts with poisoned padding, and comparing a
// result in any layout against the nchw reference — exactly or within a stated tolerance — while checking that the
// padded tail lanes of a blocked result are zero.
#pragma once

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <iomanip>
#include <limits>
#include <sstream>
#include <string>

#include "primsel/core/layout_convert.hpp"
#include "primsel/core/random.hpp"
#include "primsel/core/tensor.hpp"

namespace primsel::testing {

inline constexpr Layout op_layouts[] = {Layout::nchw, Layout::nhwc, Layout::nchw8c, Layout::nchw16c};

/// Small integers in [-span, span] (exact sums and products) or reals in [-1, 1).
inline Tensor filled(Shape s, Rng& rng, bool integers = true, int span = 4) {
  Tensor t(s);
  for (float& v : t.floats())
    v = integers ? static_cast<float>(static_cast<int>(rng.below(static_cast<std::uint32_t>(2 * span + 1))) - span)
                 : static_cast<float>(rng.uniform(-1.0, 1.0));
  return t;
}

/// Whether storage element i of a tensor of shape s in layout l is padding (a blocked tail lane).
inline bool is_padding(const Shape& s, Layout l, std::int64_t i) {
  if (!is_blocked(l) || s.rank() != 4) return false;
  const std::int64_t b = channel_block(l), cb = (s.c() + b - 1) / b, hw = s.h() * s.w();
  const std::int64_t block = i / (hw * b) % cb, lane = i % b;
  return block * b + lane >= s.c();
}

/// `t` (nchw) in layout l with its padding lanes set to NaN: ops must neither read them into real channels nor
/// leave them non-zero in their outputs.
inline Tensor to_poisoned_layout(const Tensor& t, Layout l) {
  Tensor out = to_layout(t, l).value();
  auto f = out.floats();
  for (std::size_t i = 0; i < f.size(); ++i)
    if (is_padding(out.shape(), l, static_cast<std::int64_t>(i))) f[i] = std::numeric_limits<float>::quiet_NaN();
  return out;
}

/// An output buffer in layout l, every stored element NaN, so skipped elements cannot pass by accident.
inline Tensor poisoned(Shape s, Layout l) {
  Tensor t(s, Format{l});
  for (float& v : t.floats()) v = std::numeric_limits<float>::quiet_NaN();
  return t;
}

/// Compares `got` (any layout) with `expected` (nchw): equal values when tolerance is 0 (NaN matches NaN), else
/// |got - expected| <= tolerance * max(1, max |expected|) — rounding errors scale with the output's magnitude, not
/// each element's (a dot product can cancel to ~0). Padding lanes of a blocked `got` must be +0 or -0.
inline void check_matches(const Tensor& expected, const Tensor& got, double tolerance = 0) {
  REQUIRE(got.shape() == expected.shape());
  std::int64_t bad_padding = 0;
  const auto g = got.floats();
  for (std::size_t i = 0; i < g.size(); ++i)
    if (is_padding(got.shape(), got.layout(), static_cast<std::int64_t>(i)) && g[i] != 0.0f) ++bad_padding;
  INFO(bad_padding << " padding lanes are not zero");
  CHECK(bad_padding == 0);
  const Tensor plain = got.layout() == Layout::nchw ? got : to_layout(got, Layout::nchw).value();
  const auto e = expected.floats(), p = plain.floats();
  double scale = 1;
  for (float v : e)
    if (std::isfinite(v)) scale = std::max(scale, std::abs(double(v)));
  std::size_t mismatches = 0, worst = 0;
  double worst_err = -1;
  for (std::size_t i = 0; i < e.size(); ++i) {
    const bool both_nan = std::isnan(e[i]) && std::isnan(p[i]);
    const double err = both_nan ? 0 : std::isnan(e[i]) || std::isnan(p[i]) ? INFINITY : std::abs(double(e[i]) - p[i]);
    const bool ok = tolerance == 0 ? both_nan || e[i] == p[i] : err <= tolerance * scale;
    if (!ok) ++mismatches;
    if (err > worst_err) worst_err = err, worst = i;
  }
  INFO(mismatches << " of " << e.size() << " elements differ; worst at " << worst << ": expected "
                  << std::setprecision(9) << e[worst] << ", got " << p[worst] << " (tolerance " << tolerance << ")");
  CHECK(mismatches == 0);
}

/// Error text of a failed Status/Expected, or "ok".
template <class R>
std::string message_of(const R& r) {
  return r ? std::string("ok") : std::string(r.error().what());
}

}  // namespace primsel::testing
