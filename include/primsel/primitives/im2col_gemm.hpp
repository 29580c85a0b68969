// Im2colGemm: any convolution as a GEMM (Chellapilla et al. 2006). Per image and group, the input patches are
// unrolled into a [IC/g * KH * KW] x [OH * OW] matrix and multiplied by the weights [OC/g] x [IC/g * KH * KW],
// packed once at plan time; bias and activation are fused into the GEMM epilogue. Handles every stride, padding,
// dilation and group count; wins on mid-sized layers where the GEMM's efficiency outweighs the unrolling.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "primsel/primitives/concept.hpp"
#include "primsel/primitives/gemm/gemm_conv_plan.hpp"
#include "primsel/primitives/gemm/sgemm.hpp"

namespace primsel {

namespace detail {

/// Unrolls one group of one image: col[(c * KH + r) * KW + s][oy * OW + ox] = x[c][oy*sh - top + r*dh][ox*sw - left + s*dw].
inline void im2col(const ConvDesc& d, const float* x, float* col) noexcept {
  const std::int64_t ohw = d.oh * d.ow;
  for (std::int64_t c = 0; c < d.ic_per_group(); ++c)
    for (std::int64_t r = 0; r < d.kh; ++r)
      for (std::int64_t s = 0; s < d.kw; ++s) {
        float* row = col + ((c * d.kh + r) * d.kw + s) * ohw;
        const float* plane = x + c * d.ih * d.iw;
        const std::int64_t off = s * d.dw - d.pads.left;
        // Output columns whose input column lies inside [0, iw): [ox_lo, ox_hi).
        const std::int64_t ox_lo = std::min(d.ow, off >= 0 ? 0 : (-off + d.sw - 1) / d.sw);
        const std::int64_t ox_hi = std::max(ox_lo, std::min(d.ow, d.iw - off <= 0 ? 0 : (d.iw - off + d.sw - 1) / d.sw));
        for (std::int64_t oy = 0; oy < d.oh; ++oy) {
          float* out = row + oy * d.ow;
          const std::int64_t iy = oy * d.sh - d.pads.top + r * d.dh;
          if (iy < 0 || iy >= d.ih) {
            std::fill(out, out + d.ow, 0.0f);
            continue;
          }
          const float* in = plane + iy * d.iw + off;
          std::fill(out, out + ox_lo, 0.0f);
          if (d.sw == 1)
            std::memcpy(out + ox_lo, in + ox_lo, static_cast<std::size_t>(ox_hi - ox_lo) * sizeof(float));
          else
            for (std::int64_t ox = ox_lo; ox < ox_hi; ++ox) out[ox] = in[ox * d.sw];
          std::fill(out + ox_hi, out + d.ow, 0.0f);
        }
      }
}

}  // namespace detail

struct Im2colGemm {
  static constexpr std::string_view name = "im2col_gemm";
  using Plan = detail::GemmConvPlan;

  static Support supports(const ConvDesc&) { return Support::yes(); }
  static Format input_format(const ConvDesc&) { return {}; }
  static Format output_format(const ConvDesc&) { return {}; }
  static Expected<Plan> plan(const ConvDesc& d, const ConvWeights& w) { return Plan::make(d, w); }

  static std::size_t col_bytes(const ConvDesc& d) {
    return static_cast<std::size_t>(gemm::round_up(d.ic_per_group() * d.kh * d.kw * d.oh * d.ow * 4,
                                                   static_cast<std::int64_t>(tensor_alignment)));
  }
  static std::size_t workspace_bytes(const ConvDesc& d, int threads) {
    return col_bytes(d) + gemm::packed_workspace_bytes(threads);
  }

  static void run(const Plan& p, ConstTensorView in, TensorView out, const Context& ctx) noexcept {
    const ConvDesc& d = p.desc;
    const std::int64_t ohw = d.oh * d.ow, k = d.ic_per_group() * d.kh * d.kw;
    auto* col = reinterpret_cast<float*>(ctx.workspace.data());
    const std::span<std::byte> gemm_ws = ctx.workspace.subspan(col_bytes(d));
    for (std::int64_t n = 0; n < d.n; ++n)
      for (std::int64_t g = 0; g < d.groups; ++g) {
        const float* x = in.data<float>() + (n * d.ic + g * d.ic_per_group()) * d.ih * d.iw;
        float* y = out.data<float>() + (n * d.oc + g * d.oc_per_group()) * ohw;
        detail::im2col(d, x, col);
        gemm::sgemm_packed(p.weights[static_cast<std::size_t>(g)].data(), d.oc_per_group(), k, {col, ohw}, ohw, y, ohw,
                           p.epilogue(g), ctx.pool, gemm_ws);
      }
  }
};
static_assert(ConvPrimitive<Im2colGemm>);

}  // namespace primsel
