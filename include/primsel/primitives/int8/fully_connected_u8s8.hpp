// FullyConnectedU8S8: y[N, OUT] = act(x[N, IN] * W^T + b) with int8 weights and f32 edges — dynamic quantisation,
// as PyTorch's quantized::linear_dynamic and ONNX's DynamicQuantizeLinear + MatMulInteger. plan() quantises W once,
// s8 symmetric per output row as the int8 convolutions' weights, and packs it as the u8s8 GEMM's B; run() quantises
// each row of x to u8 over that row's own [min, max] (quant::quantize_dynamic: no calibration, and a sample's result
// does not depend on the batch it runs in), multiplies exactly in int32 and dequantises:
//   y[j, o] = act(fma(float(acc[j, o] - zp_j * colsum[o]), scale_j * w_scale[o], b[o]))
// A classifier at batch 1 is bound by streaming W, and s8 W is a quarter of the f32 bytes. Batches up to
// gemv_max_batch run the matrix-vector kernel (kernels/u8s8_gemv_ukernel.hpp) where it exists, others the GEMM.
//
//   auto plan = FullyConnectedU8S8::plan(w, b, Activation::relu()).value();     // w [OUT, IN] f32
//   PRIMSEL_RETURN_IF_ERROR(fully_connected_u8s8(plan, x, y, ctx));             // ctx.workspace: workspace_bytes
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "primsel/primitives/gemm/gemm_u8s8.hpp"
#include "primsel/primitives/kernels/u8s8_gemv_ukernel.hpp"
#include "primsel/primitives/ops/fully_connected.hpp"
#include "primsel/quant/convert.hpp"
#include "primsel/quant/quantize.hpp"

namespace primsel::ops {

struct FullyConnectedU8S8 {
  static constexpr std::string_view name = "FullyConnectedU8S8";
  /// Batches up to this size take the matrix-vector kernel (where u8s8_gemv_available).
  static constexpr std::int64_t gemv_max_batch = 4;

  struct Plan {
    std::int64_t in_features = 0, out_features = 0;
    gemm::PackedU8S8B weights;         ///< W^T [IN x OUT] in s8 as the u8s8 GEMM's B, with its column sums
    std::vector<float> weight_scales;  ///< [OUT]: row o of W is weight_scales[o] * the s8 values
    std::vector<float> bias;           ///< [OUT], or empty
    Activation activation;
  };

  /// Quantises and packs `weight` [OUT, IN] (or [IN, OUT] with transposed = true, ONNX Gemm's transB = 0) and copies
  /// `bias` ([OUT], or an empty view for none). Every view nchw/f32. Fails on a non-finite weight and when IN exceeds
  /// the u8s8 GEMM's K limit (gemm::u8s8_max_k, where int32 sums could overflow). With `input_mean` (E[x] per input
  /// feature, from calibration) the bias is corrected for the weights' rounding (quant::bias_corrected; without a
  /// bias, one is made).
  static Expected<Plan> plan(ConstTensorView weight, ConstTensorView bias = {}, Activation act = {},
                             bool transposed = false, std::span<const float> input_mean = {}) {
    const ErrorContext ctx = detail::context(name, {{"weight", weight}, {"bias", bias}});
    PRIMSEL_ASSIGN_OR_RETURN(const auto shape, detail::check_fc_weight(weight, act, transposed, ctx));
    const auto [out, in] = shape;
    PRIMSEL_CHECK(
        in <= gemm::u8s8_max_k, ErrorCode::unsupported,
        std::to_string(in) + " input features exceed the u8s8 GEMM's limit of " + std::to_string(gemm::u8s8_max_k),
        ctx);
    Plan p;
    p.in_features = in, p.out_features = out, p.activation = act;
    // Rows of W contiguous ([OUT, IN]), as quantize_weights_per_channel takes channels.
    const float* w = weight.data<float>();
    std::vector<float> rows;
    if (transposed) {
      rows.resize(static_cast<std::size_t>(in * out));
      for (std::int64_t o = 0; o < out; ++o)
        for (std::int64_t k = 0; k < in; ++k) rows[static_cast<std::size_t>(o * in + k)] = w[k * out + o];
      w = rows.data();
    }
    quant::ChannelWeights q;
    if (out > 0 && in > 0) {
      auto quantized = quant::quantize_weights_per_channel({w, static_cast<std::size_t>(in * out)}, out);
      if (!quantized) return std::move(quantized).error().with_context(ctx);
      q = std::move(*quantized);
    } else {
      q.scales.assign(static_cast<std::size_t>(out), 1.0f);
    }
    PRIMSEL_ASSIGN_OR_RETURN(p.weights, gemm::PackedU8S8B::pack({q.values.data(), in, true}, in, out));
    PRIMSEL_ASSIGN_OR_RETURN(const bool has_bias, detail::check_fc_bias(bias, out, ctx));
    if (has_bias) {
      p.bias.assign(bias.data<float>(), bias.data<float>() + out);
    }
    if (!input_mean.empty() && out > 0 && in > 0) {
      PRIMSEL_CHECK(input_mean.size() == static_cast<std::size_t>(in), ErrorCode::invalid_argument,
                    std::to_string(input_mean.size()) + " input means for " + std::to_string(in) + " input features", ctx);
      p.bias = quant::bias_corrected(p.bias, {w, static_cast<std::size_t>(in * out)}, q.values, q.scales, input_mean,
                                     in, 1, 1);
    }
    p.weight_scales = std::move(q.scales);
    return p;
  }

  /// Plans an ONNX Gemm node as FullyConnected::plan_gemm does (alpha folded into W before quantising, beta into b).
  static Expected<Plan> plan_gemm(const GemmParams& g, ConstTensorView b, ConstTensorView c = {},
                                  std::span<const float> input_mean = {}) {
    return detail::plan_gemm_as<FullyConnectedU8S8>(g, b, c, input_mean);
  }

  /// Bytes a plan keeps: s8 weights (IN rounded up to 4) and per output a scale, a column sum and a bias. What the
  /// network's memory budget counts; panel padding to the kernel's width is left out, as the int8 convs do.
  static std::size_t weight_bytes(std::int64_t in, std::int64_t out, bool has_bias) noexcept {
    return static_cast<std::size_t>((in + 3) / 4 * 4 * out + (has_bias ? 12 : 8) * out);
  }

  /// Scratch run() needs for a batch of `batch` rows on `threads` threads: each row's parameters and u8 values,
  /// the int32 sums and, past the matrix-vector kernel, the GEMM's own.
  static std::size_t workspace_bytes(std::int64_t in, std::int64_t out, std::int64_t batch, int threads) noexcept {
    const auto& kernel = kernels::u8s8_default_ukernel;
    std::size_t bytes = layout(in, out, batch).end;
    if (!uses_gemv(kernel, batch)) bytes += gemm::u8s8_workspace_bytes(batch, in, kernel, threads);
    return bytes;
  }
  static std::size_t workspace_bytes(const Plan& p, std::int64_t batch, int threads) noexcept {
    return workspace_bytes(p.in_features, p.out_features, batch, threads);
  }

  /// x: [N, IN] nchw, [N, C, H, W] nchw with C * H * W = IN, or [N, IN, 1, 1] in any layout. y: [N, OUT] nchw. As
  /// FullyConnected::check, with this op's workspace.
  static Status check(const Plan& p, ConstTensorView x, ConstTensorView y, const Context& ctx) {
    return detail::check_fully_connected(name, p.in_features, p.out_features, x, y, ctx,
                                         workspace_bytes(p, x.shape().rank() > 0 ? x.shape()[0] : 0, ctx.threads()));
  }

  /// Non-finite inputs do not propagate: a row's range is that of its finite values, NaN and -Inf quantise to the
  /// row's low end and +Inf to its high end (quant::quantize_dynamic), so y stays finite, as after any int8 layer.
  static void run(const Plan& p, ConstTensorView x, TensorView y, const Context& ctx) noexcept {
    const std::int64_t batch = x.shape()[0], in = p.in_features, out = p.out_features;
    if (batch == 0 || out == 0) return;
    // Floats between rows of x: a blocked [N, C, 1, 1] row is its C channels padded to whole blocks.
    const std::int64_t ld = storage_elements(x.shape(), x.layout()) / batch;
    const gemm::PackedU8S8B& w = p.weights;
    std::byte* ws = ctx.workspace.data();
    const WorkspaceLayout at = layout(in, out, batch);
    auto* params = reinterpret_cast<QuantParams*>(ws);
    auto* rows = reinterpret_cast<std::uint8_t*>(ws + at.rows);
    auto* acc = reinterpret_cast<std::int32_t*>(ws + at.acc);
    const std::int64_t ldr = row_bytes(in);
    const float* xd = x.data<float>();
    for (std::int64_t j = 0; j < batch; ++j) {
      std::uint8_t* r = rows + j * ldr;
      params[j] = quant::quantize_dynamic({xd + j * ld, static_cast<std::size_t>(in)}, w.kernel().a_range,
                                          {r, static_cast<std::size_t>(in)});
      std::fill(r + in, r + ldr, std::uint8_t{0});  // meets B's zero padding
    }
    if (uses_gemv(w.kernel(), batch)) {
      const int nr = w.kernel().nr;
      const std::int64_t panels = (out + nr - 1) / nr;
      // At least ~64 KiB of weights per task: waking a thread costs microseconds.
      const std::int64_t grain = std::max<std::int64_t>(1, 65536 / std::max<std::int64_t>(w.k4() * nr * 4, 1));
      detail::parallel_ranges(ctx.pool, panels, grain, [&](std::int64_t p0, std::int64_t p1) {
        kernels::u8s8_gemv(batch, nr, w.k4(), rows, ldr, w.data(), out, p0, p1, acc, out);
      });
    } else {
      // Zero point 0 here: each row has its own, corrected below with the column sums.
      gemm::gemm_u8s8({rows, ldr}, batch, 0, w, gemm::U8S8Output{acc, nullptr, out}, ctx.pool,
                      ctx.workspace.subspan(at.end));
    }
    const std::span<const std::int32_t> colsum = w.colsum();
    float* yd = y.data<float>();
    for (std::int64_t j = 0; j < batch; ++j) {
      const QuantParams q = params[j];
      for (std::int64_t o = 0; o < out; ++o) {
        // |acc|, |zp * colsum| <= IN * 255 * 127 < 2^30 (u8s8_max_k): the difference is exact in int32.
        const std::int32_t v = acc[j * out + o] - q.zero_point * colsum[static_cast<std::size_t>(o)];
        const float b = p.bias.empty() ? 0.0f : p.bias[static_cast<std::size_t>(o)];
        yd[j * out + o] = p.activation.apply(
            std::fma(static_cast<float>(v), q.scale * p.weight_scales[static_cast<std::size_t>(o)], b));
      }
    }
  }

 private:
  static constexpr std::int64_t row_bytes(std::int64_t in) noexcept { return (in + 3) / 4 * 4; }
  static constexpr std::size_t aligned(std::int64_t bytes) noexcept {
    return static_cast<std::size_t>(gemm::round_up(bytes, static_cast<std::int64_t>(tensor_alignment)));
  }
  /// run()'s workspace: each row's QuantParams at 0, the quantised rows at `rows`, the int32 sums at `acc`, the
  /// GEMM's own scratch from `end` on. One place, so workspace_bytes() and run() cannot disagree.
  struct WorkspaceLayout {
    std::size_t rows, acc, end;
  };
  static constexpr WorkspaceLayout layout(std::int64_t in, std::int64_t out, std::int64_t batch) noexcept {
    constexpr auto param_bytes = static_cast<std::int64_t>(sizeof(QuantParams));
    const std::size_t rows = aligned(batch * param_bytes), acc = rows + aligned(batch * row_bytes(in));
    return {rows, acc, acc + aligned(batch * out * 4)};
  }
  static constexpr bool uses_gemv(const kernels::U8S8Ukernel& k, std::int64_t batch) noexcept {
    return batch <= gemv_max_batch && kernels::u8s8_gemv_available(k.nr);
  }
};

/// Checks, then runs a planned FullyConnectedU8S8.
inline Status fully_connected_u8s8(const FullyConnectedU8S8::Plan& p, ConstTensorView x, TensorView y,
                                   const Context& ctx) {
  PRIMSEL_RETURN_IF_ERROR(FullyConnectedU8S8::check(p, x, y, ctx));
  FullyConnectedU8S8::run(p, x, y, ctx);
  return {};
}

}  // namespace primsel::ops
