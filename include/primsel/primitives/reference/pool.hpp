// Reference pooling over NCHW f32: MaxPool, AveragePool (count_include_pad both ways, ceil_mode) and
// GlobalAveragePool, with ONNX semantics.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>

#include "primsel/core/tensor.hpp"
#include "primsel/graph/op.hpp"

namespace primsel::reference {

/// Max (is_max) or average pooling. Windows are clipped to the input; an average divides by the clipped window, or
/// by the window clipped only to input + pads when count_include_pad (a ceil_mode window hanging past the end
/// padding does not count the part outside, as in ONNX Runtime and PyTorch).
inline void pool2d(ConstTensorView x, const PoolParams& p, bool is_max, TensorView y) {
  const Shape& xs = x.shape();
  const Shape& ys = y.shape();
  const std::int64_t ih = xs.h(), iw = xs.w(), oh = ys.h(), ow = ys.w();
  const float* xd = x.data<float>();
  float* yd = y.data<float>();
  for (std::int64_t plane = 0; plane < xs.n() * xs.c(); ++plane) {
    const float* xp = xd + plane * ih * iw;
    float* yp = yd + plane * oh * ow;
    for (std::int64_t oy = 0; oy < oh; ++oy)
      for (std::int64_t ox = 0; ox < ow; ++ox) {
        const std::int64_t y0 = oy * p.stride[0] - p.pads.top, x0 = ox * p.stride[1] - p.pads.left;
        const std::int64_t y1 = y0 + p.kernel[0], x1 = x0 + p.kernel[1];
        const std::int64_t ya = std::max<std::int64_t>(y0, 0), yb = std::min(y1, ih);
        const std::int64_t xa = std::max<std::int64_t>(x0, 0), xb = std::min(x1, iw);
        float acc = is_max ? -std::numeric_limits<float>::infinity() : 0.0f;
        for (std::int64_t iy = ya; iy < yb; ++iy)
          for (std::int64_t ix = xa; ix < xb; ++ix) {
            const float v = xp[iy * iw + ix];
            acc = is_max ? (v > acc || v != v ? v : acc) : acc + v;  // max propagates NaN
          }
        if (!is_max) {
          std::int64_t count = (yb - ya) * (xb - xa);
          if (p.count_include_pad) {
            const std::int64_t yc = std::min(y1, ih + p.pads.bottom) - y0;
            const std::int64_t xc = std::min(x1, iw + p.pads.right) - x0;
            count = yc * xc;
          }
          acc = count > 0 ? acc / static_cast<float>(count) : 0.0f;
        }
        yp[oy * ow + ox] = acc;
      }
  }
}

inline void global_average_pool(ConstTensorView x, TensorView y) {
  const Shape& xs = x.shape();
  const std::int64_t hw = xs.h() * xs.w();
  const float* xd = x.data<float>();
  float* yd = y.data<float>();
  for (std::int64_t plane = 0; plane < xs.n() * xs.c(); ++plane) {
    double acc = 0;  // double: planes can hold tens of thousands of values
    for (std::int64_t i = 0; i < hw; ++i) acc += xd[plane * hw + i];
    yd[plane] = static_cast<float>(acc / static_cast<double>(hw));
  }
}

}  // namespace primsel::reference
