// Reference data-movement ops over f32: Concat (any axis), Softmax (any axis, max-subtracted), Pad (constant,
// reflect, edge) and plain copies (Flatten, Reshape, Dropout and Identity share the row-major data unchanged).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <span>

#include "primsel/core/tensor.hpp"
#include "primsel/graph/op.hpp"

namespace primsel::reference {

inline void copy(ConstTensorView x, TensorView y) {
  if (x.size_bytes()) std::memcpy(y.bytes(), x.bytes(), x.size_bytes());
}

/// Concatenates along `axis` (already normalised to [0, rank)).
inline void concat(std::span<const ConstTensorView> xs, std::int64_t axis, TensorView y) {
  const Shape& ys = y.shape();
  std::int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= ys[d];
  for (int d = static_cast<int>(axis) + 1; d < ys.rank(); ++d) inner *= ys[d];
  float* yd = y.data<float>();
  const std::int64_t y_block = ys[static_cast<int>(axis)] * inner;
  std::int64_t offset = 0;
  for (const ConstTensorView& x : xs) {
    const std::int64_t block = x.shape()[static_cast<int>(axis)] * inner;
    if (block == 0) continue;  // an empty input may have no storage: memcpy from null is undefined even for 0 bytes
    for (std::int64_t o = 0; o < outer; ++o)
      std::memcpy(yd + o * y_block + offset, x.data<float>() + o * block, static_cast<std::size_t>(block) * sizeof(float));
    offset += block;
  }
}

inline void softmax(ConstTensorView x, std::int64_t axis, TensorView y) {
  const Shape& s = x.shape();
  std::int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= s[d];
  for (int d = static_cast<int>(axis) + 1; d < s.rank(); ++d) inner *= s[d];
  const std::int64_t len = s[static_cast<int>(axis)];
  const float* xd = x.data<float>();
  float* yd = y.data<float>();
  for (std::int64_t o = 0; o < outer; ++o)
    for (std::int64_t i = 0; i < inner; ++i) {
      const float* xp = xd + o * len * inner + i;
      float* yp = yd + o * len * inner + i;
      float mx = xp[0];
      for (std::int64_t j = 1; j < len; ++j) mx = xp[j * inner] > mx ? xp[j * inner] : mx;
      double sum = 0;
      for (std::int64_t j = 0; j < len; ++j) sum += (yp[j * inner] = std::exp(xp[j * inner] - mx));
      for (std::int64_t j = 0; j < len; ++j) yp[j * inner] = static_cast<float>(yp[j * inner] / sum);
    }
}

/// Pads a 4-D tensor (begin/end per axis are >= 0; reflect pads are smaller than the dim, checked by inference).
inline void pad(ConstTensorView x, const PadParams& p, TensorView y) {
  const Shape& xs = x.shape();
  const Shape& ys = y.shape();
  const float* xd = x.data<float>();
  float* yd = y.data<float>();
  // Maps an output coordinate on one axis to an input coordinate, or -1 for the constant value.
  auto source = [&](std::int64_t o, int d) -> std::int64_t {
    const std::int64_t i = o - p.begin[static_cast<std::size_t>(d)], n = xs[d];
    if (i >= 0 && i < n) return i;
    switch (p.mode) {
      case PadMode::constant: return -1;
      case PadMode::edge: return i < 0 ? 0 : n - 1;
      case PadMode::reflect: return i < 0 ? -i : 2 * (n - 1) - i;
    }
    return -1;
  };
  for (std::int64_t n = 0; n < ys[0]; ++n)
    for (std::int64_t c = 0; c < ys[1]; ++c)
      for (std::int64_t h = 0; h < ys[2]; ++h)
        for (std::int64_t w = 0; w < ys[3]; ++w) {
          const std::int64_t sn = source(n, 0), sc = source(c, 1), sh = source(h, 2), sw = source(w, 3);
          const bool inside = sn >= 0 && sc >= 0 && sh >= 0 && sw >= 0;
          yd[((n * ys[1] + c) * ys[2] + h) * ys[3] + w] =
              inside ? xd[((sn * xs[1] + sc) * xs[2] + sh) * xs[3] + sw] : p.value;
        }
}

}  // namespace primsel::reference
