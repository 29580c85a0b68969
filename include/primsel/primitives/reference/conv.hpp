// Reference 2-D convolution: plain loops over NCHW f32, the correctness oracle and dependency-free baseline.
// Loop order keeps the innermost loop contiguous over output columns with the padding bounds hoisted, so the
// compiler can vectorise it — the reference executor runs whole zoo models with it.
#pragma once

#include <algorithm>
#include <cstdint>

#include "primsel/core/tensor.hpp"
#include "primsel/graph/op.hpp"

namespace primsel::reference {

/// y = act(conv(x, w) + b). x: [N, C, H, W], w: [OC, C/groups, KH, KW], b: [OC] or null, y: [N, OC, OH, OW].
inline void conv2d(ConstTensorView x, ConstTensorView w, const float* bias, const ConvParams& p, TensorView y) {
  const Shape& xs = x.shape();
  const Shape& ws = w.shape();
  const Shape& ys = y.shape();
  const std::int64_t n_batch = xs.n(), ic = xs.c(), ih = xs.h(), iw = xs.w();
  const std::int64_t oc = ys.c(), oh = ys.h(), ow = ys.w();
  const std::int64_t kh = ws[2], kw = ws[3], icg = ws[1], ocg = oc / p.groups;
  const std::int64_t sh = p.stride[0], sw = p.stride[1], dh = p.dilation[0], dw = p.dilation[1];
  const float* xd = x.data<float>();
  const float* wd = w.data<float>();
  float* yd = y.data<float>();
  for (std::int64_t n = 0; n < n_batch; ++n)
    for (std::int64_t o = 0; o < oc; ++o) {
      const std::int64_t g = o / ocg;
      float* yplane = yd + (n * oc + o) * oh * ow;
      std::fill(yplane, yplane + oh * ow, bias ? bias[o] : 0.0f);
      for (std::int64_t c = 0; c < icg; ++c) {
        const float* xplane = xd + (n * ic + g * icg + c) * ih * iw;
        for (std::int64_t r = 0; r < kh; ++r)
          for (std::int64_t s = 0; s < kw; ++s) {
            const float wv = wd[((o * icg + c) * kh + r) * kw + s];
            // Output columns whose input column ox*sw - left + s*dw lies inside [0, iw).
            const std::int64_t off = s * dw - p.pads.left;
            std::int64_t ox_lo = off >= 0 ? 0 : (-off + sw - 1) / sw;
            std::int64_t ox_hi = iw - off <= 0 ? 0 : (iw - off + sw - 1) / sw;
            ox_hi = std::min(ox_hi, ow);
            for (std::int64_t oy = 0; oy < oh; ++oy) {
              const std::int64_t iy = oy * sh - p.pads.top + r * dh;
              if (iy < 0 || iy >= ih) continue;
              const float* xrow = xplane + iy * iw + off;
              float* yrow = yplane + oy * ow;
              if (sw == 1) {
                for (std::int64_t ox = ox_lo; ox < ox_hi; ++ox) yrow[ox] += wv * xrow[ox];
              } else {
                for (std::int64_t ox = ox_lo; ox < ox_hi; ++ox) yrow[ox] += wv * xrow[ox * sw];
              }
            }
          }
      }
      if (!p.activation.is_none())
        for (std::int64_t i = 0; i < oh * ow; ++i) yplane[i] = p.activation.apply(yplane[i]);
    }
}

}  // namespace primsel::reference
