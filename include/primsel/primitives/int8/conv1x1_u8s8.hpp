// Conv1x1U8S8: a stride-1, unpadded 1x1 quantised convolution is a u8 x s8 GEMM on the input as it lies in NHWC —
// pixels [N * H * W] x channels [IC/g] times the weights [IC/g] x [OC/g] — with no unrolling, the batch folded
// into M. Rows are read in place when IC/g is a multiple of 4 (otherwise the GEMM packs them). The int8 counterpart
// of Conv1x1Gemm: MobileNet's expand/project layers and ResNet's bottlenecks.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "primsel/primitives/gemm/gemm_u8s8.hpp"
#include "primsel/primitives/int8/quant_concept.hpp"

namespace primsel {

struct Conv1x1U8S8 {
  static constexpr std::string_view name = "conv1x1_u8s8";

  struct Plan {
    ConvDesc desc;
    std::vector<gemm::PackedU8S8B> weights;  // per group: [IC/g x OC/g]
    gemm::U8S8OutputStage stage;
    std::int32_t input_zero_point = 0;
  };

  static Support supports(const ConvDesc& d) {
    if (d.kh != 1 || d.kw != 1) return Support::no("kernel is not 1x1");
    if (d.sh != 1 || d.sw != 1) return Support::no("stride is not 1 (im2col_u8s8 gathers strided pixels)");
    if (!(d.pads == Pads2d{})) return Support::no("padded");
    if (d.ic_per_group() > gemm::u8s8_max_k) return Support::no("IC/g exceeds the u8s8 GEMM's K limit");
    return Support::yes();
  }
  static Format input_format(const ConvDesc&) { return u8_nhwc; }
  static Format output_format(const ConvDesc&) { return u8_nhwc; }

  static Expected<Plan> plan(const ConvDesc& d, const ConvWeights& w, const ConvQuant& q) {
    PRIMSEL_CHECK(supports(d).ok, ErrorCode::unsupported, std::string(supports(d).why) + ": " + to_string(d));
    PRIMSEL_RETURN_IF_ERROR(detail::check_gemm_input_levels(d, q.input));
    PRIMSEL_ASSIGN_OR_RETURN(QuantizedConv qc, QuantizedConv::make(d, w, q));
    Plan p{d, {}, std::move(qc.stage), qc.input_zero_point};
    const std::int64_t icg = d.ic_per_group(), ocg = d.oc_per_group();
    for (std::int64_t g = 0; g < d.groups; ++g) {
      // OIHW with 1x1 taps is [OC][IC/g]: group g's rows are B transposed.
      const std::int8_t* wg = qc.weight.data() + g * ocg * icg;
      PRIMSEL_ASSIGN_OR_RETURN(auto packed,
                               gemm::PackedU8S8B::pack({wg, icg, true}, icg, ocg, gemm::u8s8_kernel_for(icg, ocg)));
      p.weights.push_back(std::move(packed));
    }
    return p;
  }

  /// The plan's s8 weights (K rounded up to 4) and per-channel output stage (bias, multiplier, shift, column sum:
  /// 16 bytes), what the network's memory budget counts; panel padding to the kernel's width is left out.
  static std::size_t weight_bytes(const ConvDesc& d) {
    return static_cast<std::size_t>((d.ic_per_group() + 3) / 4 * 4 * d.oc + 16 * d.oc);
  }

  static std::size_t workspace_bytes(const ConvDesc& d, int threads) {
    return gemm::u8s8_workspace_bytes(d.n * d.ih * d.iw, d.ic_per_group(),
                                      gemm::u8s8_kernel_for(d.ic_per_group(), d.oc_per_group()), threads);
  }

  static void run(const Plan& p, ConstTensorView in, TensorView out, const Context& ctx) noexcept {
    const ConvDesc& d = p.desc;
    const std::int64_t m = d.n * d.ih * d.iw, icg = d.ic_per_group(), ocg = d.oc_per_group();
    for (std::int64_t g = 0; g < d.groups; ++g) {
      const gemm::U8S8Output o{nullptr,
                               out.data<std::uint8_t>() + g * ocg,
                               d.oc,
                               p.stage.bias.empty() ? nullptr : p.stage.bias.data() + g * ocg,
                               p.stage.multiplier.data() + g * ocg,
                               p.stage.shift.data() + g * ocg,
                               p.stage.zero_point,
                               p.stage.range.lo,
                               p.stage.range.hi};
      gemm::gemm_u8s8({in.data<std::uint8_t>() + g * icg, d.ic}, m, p.input_zero_point,
                      p.weights[static_cast<std::size_t>(g)], o, ctx.pool, ctx.workspace);
    }
  }
};
static_assert(QuantConvPrimitive<Conv1x1U8S8>);

}  // namespace primsel
