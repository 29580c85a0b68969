// Reference quantised 2-D convolution: plain integer loops over NHWC u8 activations and OIHW s8 weights, int32
// bias, requantised exactly as quant::requantize. The oracle the int8 primitives must equal bit for bit (accumulated
// in 64 bits, so it also shows when a primitive's int32 accumulator would overflow: it never does for K <= 2^15).
#pragma once

#include <cstdint>

#include "primsel/graph/conv_desc.hpp"
#include "primsel/quant/quantize.hpp"

namespace primsel::reference {

/// The integer parameters of a quantised conv layer (what QuantizedConv in primitives/int8 derives).
struct ConvU8S8Params {
  const std::int8_t* weight = nullptr;      ///< [OC][IC/g][KH][KW]
  const std::int32_t* bias = nullptr;       ///< [OC] in the accumulator's scale, or null
  const std::int32_t* multiplier = nullptr; ///< [OC] Q31 (quant::FixedPointMultiplier::multiplier)
  const std::int32_t* shift = nullptr;      ///< [OC]
  std::int32_t input_zero_point = 0, output_zero_point = 0;
  quant::QRange range = quant::u8_range;    ///< output clamp
};

/// y [N][OH][OW][OC] from x [N][IH][IW][IC] (both u8 NHWC): padding taps read as the input zero point.
inline void conv2d_u8s8(const ConvDesc& d, const std::uint8_t* x, const ConvU8S8Params& p, std::uint8_t* y) {
  const std::int64_t icg = d.ic_per_group(), ocg = d.oc_per_group();
  for (std::int64_t n = 0; n < d.n; ++n)
    for (std::int64_t oy = 0; oy < d.oh; ++oy)
      for (std::int64_t ox = 0; ox < d.ow; ++ox)
        for (std::int64_t o = 0; o < d.oc; ++o) {
          const std::int64_t g = o / ocg;
          std::int64_t acc = p.bias ? p.bias[o] : 0;
          for (std::int64_t r = 0; r < d.kh; ++r) {
            const std::int64_t iy = oy * d.sh - d.pads.top + r * d.dh;
            if (iy < 0 || iy >= d.ih) continue;
            for (std::int64_t s = 0; s < d.kw; ++s) {
              const std::int64_t ix = ox * d.sw - d.pads.left + s * d.dw;
              if (ix < 0 || ix >= d.iw) continue;
              const std::uint8_t* px = x + ((n * d.ih + iy) * d.iw + ix) * d.ic + g * icg;
              for (std::int64_t c = 0; c < icg; ++c)
                acc += (std::int64_t{px[c]} - p.input_zero_point) * p.weight[((o * icg + c) * d.kh + r) * d.kw + s];
            }
          }
          y[((n * d.oh + oy) * d.ow + ox) * d.oc + o] = static_cast<std::uint8_t>(
              quant::requantize(static_cast<std::int32_t>(acc), {p.multiplier[o], p.shift[o]}, p.output_zero_point,
                                p.range.lo, p.range.hi));
        }
}

}  // namespace primsel::reference
