// Conv1x1Gemm: a stride-1, unpadded 1x1 convolution is a GEMM on the input as it lies in NCHW — weights
// [OC/g] x [IC/g] times the image [IC/g] x [H * W] — with no unrolling at all. The common case in MobileNet,
// ResNet bottlenecks and SqueezeNet, where it beats im2col_gemm by the copy it skips.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "primsel/primitives/concept.hpp"
#include "primsel/primitives/gemm/gemm_conv_plan.hpp"
#include "primsel/primitives/gemm/sgemm.hpp"

namespace primsel {

struct Conv1x1Gemm {
  static constexpr std::string_view name = "conv1x1_gemm";
  using Plan = detail::GemmConvPlan;

  static Support supports(const ConvDesc& d) {
    if (d.kh != 1 || d.kw != 1) return Support::no("kernel is not 1x1");
    if (d.sh != 1 || d.sw != 1) return Support::no("stride is not 1");
    if (!(d.pads == Pads2d{})) return Support::no("padded");
    return Support::yes();
  }
  static Format input_format(const ConvDesc&) { return {}; }
  static Format output_format(const ConvDesc&) { return {}; }
  static Expected<Plan> plan(const ConvDesc& d, const ConvWeights& w) {
    PRIMSEL_CHECK(supports(d).ok, ErrorCode::unsupported, std::string(supports(d).why) + ": " + to_string(d));
    return Plan::make(d, w);
  }
  static std::size_t workspace_bytes(const ConvDesc&, int threads) { return gemm::packed_workspace_bytes(threads); }

  static void run(const Plan& p, ConstTensorView in, TensorView out, const Context& ctx) noexcept {
    const ConvDesc& d = p.desc;
    const std::int64_t hw = d.ih * d.iw;
    for (std::int64_t n = 0; n < d.n; ++n)
      for (std::int64_t g = 0; g < d.groups; ++g) {
        const float* x = in.data<float>() + (n * d.ic + g * d.ic_per_group()) * hw;
        float* y = out.data<float>() + (n * d.oc + g * d.oc_per_group()) * hw;
        gemm::sgemm_packed(p.weights[static_cast<std::size_t>(g)].data(), d.oc_per_group(), d.ic_per_group(), {x, hw},
                           hw, y, hw, p.epilogue(g), ctx.pool, ctx.workspace);
      }
  }
};
static_assert(ConvPrimitive<Conv1x1Gemm>);

}  // namespace primsel
