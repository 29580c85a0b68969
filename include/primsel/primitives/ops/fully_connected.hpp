// FullyConnected: y[N, OUT] = act(x[N, IN] * W^T + b) — ONNX Gemm with transB = 1, PyTorch's Linear: every zoo
// classifier. plan() packs W once into the packed GEMM's MR-row panels (gemm/sgemm.hpp, pack_a's layout). A small
// batch (N <= gemv_max_batch, inference) is a matrix-vector product bound by streaming W, and a GEMM tile of NR
// columns would waste most of each FMA on one column; so it walks each panel's packed stream with whole vectors,
// against x expanded to the same interleave (x[k] repeated MR times), keeping lcm(width, MR) / width accumulators
// per batch row so every lane always sums the same output row. Larger batches run sgemm_packed on y^T = W x^T with
// the bias and clamp fused in its epilogue, then transpose. The GEMV's threads split the output rows (the panels).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "primsel/graph/op.hpp"
#include "primsel/primitives/concept.hpp"
#include "primsel/primitives/gemm/sgemm.hpp"
#include "primsel/primitives/ops/op_support.hpp"

namespace primsel::ops {

namespace detail {

/// An ONNX Gemm node Y = alpha * A * B' + beta * C as the fully connected layer Op (FullyConnected or its int8
/// form): A is the activation (trans_a must be 0), B the weight, C a bias of [OUT], [1, OUT], [1] or [1, 1] (or
/// empty). alpha is folded into the weights and beta into the bias before Op::plan sees them; `extra` goes on to
/// Op::plan (the int8 form's input means).
template <class Op, class... Extra>
Expected<typename Op::Plan> plan_gemm_as(const GemmParams& g, ConstTensorView b, ConstTensorView c, Extra... extra) {
  const ErrorContext ctx = detail::context("Gemm", {{"B", b}, {"C", c}});
  PRIMSEL_CHECK(!g.trans_a, ErrorCode::unsupported,
                "trans_a = 1 (the activation transposed) is not a fully connected layer", ctx);
  PRIMSEL_RETURN_IF_ERROR(detail::check_view("B", b, ctx));
  PRIMSEL_CHECK(b.shape().rank() == 2 && b.layout() == Layout::nchw, ErrorCode::invalid_argument, "B must be 2-D", ctx);
  const std::int64_t out = b.shape()[g.trans_b ? 0 : 1];
  Tensor scaled_b, bias;
  ConstTensorView weight = b;
  if (g.alpha != 1.0f) {
    PRIMSEL_ASSIGN_OR_RETURN(scaled_b, Tensor::create(b.shape()));
    for (std::int64_t i = 0; i < b.shape().numel(); ++i) scaled_b.data<float>()[i] = g.alpha * b.data<float>()[i];
    weight = scaled_b.view();
  }
  if (c.bytes() != nullptr && g.beta != 0.0f) {
    PRIMSEL_RETURN_IF_ERROR(detail::check_view("C", c, ctx));
    const Shape& cs = c.shape();
    const bool per_column = cs == Shape{out} || cs == Shape({1, out});
    const bool scalar = cs.numel() == 1 && cs.rank() <= 2;
    PRIMSEL_CHECK(per_column || scalar, ErrorCode::unsupported,
                  "C must broadcast along the batch ([" + std::to_string(out) + "] or [1, " + std::to_string(out) +
                      "] or a scalar); a per-row C is not a bias",
                  ctx);
    PRIMSEL_ASSIGN_OR_RETURN(bias, Tensor::create({std::max<std::int64_t>(out, 1)}));
    for (std::int64_t j = 0; j < out; ++j) bias.data<float>()[j] = g.beta * c.data<float>()[per_column ? j : 0];
  }
  auto p = Op::plan(weight, bias.empty() ? ConstTensorView{} : ConstTensorView(bias.bytes(), Shape{out}), g.activation,
                    !g.trans_b, extra...);
  if (!p) return std::move(p).error().with_context(ctx);
  return p;
}

/// A fully connected layer's plan() arguments before its weights are prepared: `weight` a 2-D nchw/f32 matrix
/// ([OUT, IN], or [IN, OUT] when transposed) and a clamp range that is not empty. Returns {OUT, IN}.
inline Expected<std::pair<std::int64_t, std::int64_t>> check_fc_weight(ConstTensorView weight, const Activation& act,
                                                                       bool transposed, const ErrorContext& ctx) {
  PRIMSEL_RETURN_IF_ERROR(detail::check_view("weight", weight, ctx));
  PRIMSEL_CHECK(weight.shape().rank() == 2 && weight.layout() == Layout::nchw, ErrorCode::invalid_argument,
                "weight must be a 2-D [out, in] matrix", ctx);
  PRIMSEL_CHECK(act.lo <= act.hi, ErrorCode::invalid_argument, "clamp range is empty or NaN", ctx);
  return std::pair{weight.shape()[transposed ? 1 : 0], weight.shape()[transposed ? 0 : 1]};
}

/// Whether plan() was given a bias (an empty view is none); if so, checks it is nchw/f32 with `out` elements.
inline Expected<bool> check_fc_bias(ConstTensorView bias, std::int64_t out, const ErrorContext& ctx) {
  if (bias.bytes() == nullptr && bias.shape().rank() == 0) return false;
  PRIMSEL_RETURN_IF_ERROR(detail::check_view("bias", bias, ctx));
  PRIMSEL_CHECK(bias.shape() == Shape{out} || bias.shape() == Shape({1, out}), ErrorCode::shape_mismatch,
                "bias must have " + std::to_string(out) + " elements", ctx);
  return true;
}

/// The shape, layout, aliasing and workspace checks of a fully connected layer `op` with the given features; `need`
/// is the workspace the layer needs for x's batch.
inline Status check_fully_connected(std::string_view op, std::int64_t in_features, std::int64_t out_features,
                                    ConstTensorView x, ConstTensorView y, const Context& ctx, std::size_t need) {
  const ErrorContext ectx = context(op, {{"x", x}, {"y", y}});
  PRIMSEL_RETURN_IF_ERROR(check_view("input", x, ectx));
  PRIMSEL_RETURN_IF_ERROR(check_view("output", y, ectx));
  const Shape& xs = x.shape();
  const std::string plan_says =
      "the plan has " + std::to_string(in_features) + " inputs, " + std::to_string(out_features) + " outputs";
  PRIMSEL_CHECK(xs.rank() == 2 || xs.rank() == 4, ErrorCode::invalid_argument, "input must be 2-D or 4-D", ectx);
  PRIMSEL_CHECK(xs.numel() == xs[0] * in_features, ErrorCode::shape_mismatch,
                "input has " + std::to_string(xs[0] > 0 ? xs.numel() / xs[0] : 0) + " features per row; " + plan_says,
                ectx);
  PRIMSEL_CHECK(x.layout() == Layout::nchw || (xs.h() == 1 && xs.w() == 1), ErrorCode::unsupported,
                "a " + std::string(to_string(x.layout())) +
                    " input with H x W > 1 does not flatten in channel-major order; convert it to nchw first",
                ectx);
  PRIMSEL_CHECK(y.shape() == Shape({xs[0], out_features}) && y.layout() == Layout::nchw, ErrorCode::shape_mismatch,
                "output must be " + to_string(Shape{xs[0], out_features}) + " nchw; " + plan_says, ectx);
  PRIMSEL_CHECK(!overlaps(x, y), ErrorCode::invalid_argument, "output overlaps the input", ectx);
  PRIMSEL_CHECK(ctx.workspace.size() >= need, ErrorCode::invalid_argument,
                "workspace has " + std::to_string(ctx.workspace.size()) + " bytes, needs " + std::to_string(need),
                ectx);
  PRIMSEL_CHECK(need == 0 || reinterpret_cast<std::uintptr_t>(ctx.workspace.data()) % tensor_alignment == 0,
                ErrorCode::invalid_argument, "workspace is not 64-byte aligned", ectx);
  return {};
}

}  // namespace detail

struct FullyConnected {
  static constexpr std::string_view name = "FullyConnected";
  /// Batches up to this size take the matrix-vector path.
  static constexpr std::int64_t gemv_max_batch = 4;

  struct Plan {
    std::int64_t in_features = 0, out_features = 0;
    gemm::PackedA weights;  ///< W [OUT x IN] as the GEMM's A operand
    Tensor bias;            ///< [OUT], or empty
    Activation activation;
  };

  /// Packs `weight` [OUT, IN] (or [IN, OUT] with transposed = true, ONNX Gemm's transB = 0) and copies `bias`
  /// ([OUT], or an empty view for none). Every view nchw/f32.
  static Expected<Plan> plan(ConstTensorView weight, ConstTensorView bias = {}, Activation act = {},
                             bool transposed = false) {
    const ErrorContext ctx = detail::context(name, {{"weight", weight}, {"bias", bias}});
    PRIMSEL_ASSIGN_OR_RETURN(const auto shape, detail::check_fc_weight(weight, act, transposed, ctx));
    const auto [out, in] = shape;
    Plan p;
    p.in_features = in, p.out_features = out, p.activation = act;
    PRIMSEL_ASSIGN_OR_RETURN(p.weights,
                             gemm::PackedA::pack({weight.data<float>(), weight.shape()[1], transposed}, out, in));
    PRIMSEL_ASSIGN_OR_RETURN(const bool has_bias, detail::check_fc_bias(bias, out, ctx));
    if (has_bias) {
      PRIMSEL_ASSIGN_OR_RETURN(p.bias, Tensor::create({std::max<std::int64_t>(out, 1)}));
      if (out > 0) std::memcpy(p.bias.bytes(), bias.bytes(), static_cast<std::size_t>(out) * sizeof(float));
    }
    return p;
  }

  /// Plans an ONNX Gemm node Y = alpha * A * B' + beta * C as a fully connected layer: A is the activation
  /// (trans_a must be 0), B the weight, C a bias of [OUT], [1, OUT], [1] or [1, 1] (or empty). alpha is folded
  /// into the packed weights and beta into the bias, so results may differ from the reference by an ulp unless
  /// both are 1.
  static Expected<Plan> plan_gemm(const GemmParams& g, ConstTensorView b, ConstTensorView c = {}) {
    return detail::plan_gemm_as<FullyConnected>(g, b, c);
  }

  /// Scratch run() needs for a batch of `batch` rows on `threads` threads.
  static std::size_t workspace_bytes(const Plan& p, std::int64_t batch, int threads) noexcept {
    if (batch <= gemv_max_batch) return aligned_bytes(batch * p.in_features * gemm::MR);
    return aligned_bytes(batch * p.out_features) + gemm::packed_workspace_bytes(threads);
  }

  /// x: [N, IN] nchw, [N, C, H, W] nchw with C * H * W = IN (a Flatten needs no copy), or [N, IN, 1, 1] in any
  /// layout (so global pooling's nchw16c output feeds the classifier directly). y: [N, OUT] nchw. The workspace
  /// must hold workspace_bytes(p, N, ctx.threads()), 64-byte aligned.
  static Status check(const Plan& p, ConstTensorView x, ConstTensorView y, const Context& ctx) {
    return detail::check_fully_connected(name, p.in_features, p.out_features, x, y, ctx,
                                         workspace_bytes(p, x.shape().rank() > 0 ? x.shape()[0] : 0, ctx.threads()));
  }

  static void run(const Plan& p, ConstTensorView x, TensorView y, const Context& ctx) noexcept {
    const std::int64_t batch = x.shape()[0], in = p.in_features, out = p.out_features;
    if (batch == 0 || out == 0) return;
    // Floats between rows of x: a blocked [N, C, 1, 1] row is its C channels padded to whole blocks.
    const std::int64_t ld = storage_elements(x.shape(), x.layout()) / batch;
    const float* xd = x.data<float>();
    float* yd = y.data<float>();
    if (batch <= gemv_max_batch) {
      auto* expanded = reinterpret_cast<float*>(ctx.workspace.data());
      for (std::int64_t j = 0; j < batch; ++j)
        for (std::int64_t k = 0; k < in; ++k) std::fill_n(expanded + (j * in + k) * gemm::MR, gemm::MR, xd[j * ld + k]);
      switch (batch) {
        case 1:
          return gemv<1>(p, expanded, yd, ctx.pool);
        case 2:
          return gemv<2>(p, expanded, yd, ctx.pool);
        case 3:
          return gemv<3>(p, expanded, yd, ctx.pool);
        default:
          return gemv<4>(p, expanded, yd, ctx.pool);
      }
    }
    // y^T [OUT x N] = W [OUT x IN] * x^T [IN x N]; x^T is x read transposed, y^T goes to scratch and is transposed.
    auto* yt = reinterpret_cast<float*>(ctx.workspace.data());
    gemm::GemmEpilogue e;
    e.activation = p.activation;
    if (!p.bias.empty()) e.bias = p.bias.data<float>(), e.axis = gemm::BiasAxis::rows;
    gemm::sgemm_packed(p.weights.data(), out, in, {xd, ld, true}, batch, yt, batch, e, ctx.pool,
                       ctx.workspace.subspan(aligned_bytes(batch * out)));
    for (std::int64_t j = 0; j < batch; ++j)
      for (std::int64_t o = 0; o < out; ++o) yd[j * out + o] = yt[o * batch + j];
  }

 private:
  static constexpr std::size_t aligned_bytes(std::int64_t floats) noexcept {
    return static_cast<std::size_t>(gemm::round_up(floats * 4, static_cast<std::int64_t>(tensor_alignment)));
  }

  /// y[j, rows of each panel] for J batch rows: every panel's packed stream (per K block, kc x MR floats with lane
  /// t % MR belonging to row t % MR) times the matching stretch of each row's expanded x.
  template <int J>
  static void gemv(const Plan& p, const float* expanded, float* y, ThreadPool* pool) noexcept {
    using simd::FloatVec;
    constexpr std::int64_t W = static_cast<std::int64_t>(simd::width), MR = gemm::MR;
    constexpr std::int64_t period = std::lcm(W, MR), nvec = period / W;
    const std::int64_t in = p.in_features, out = p.out_features, mp = gemm::round_up(out, MR);
    const std::int64_t panels = mp / MR;
    const float* a = p.weights.data();
    const float* bias = p.bias.empty() ? nullptr : p.bias.data<float>();
    const std::int64_t grain = std::max<std::int64_t>(1, 32768 / std::max<std::int64_t>(in * MR, 1));
    detail::parallel_ranges(pool, panels, grain, [&](std::int64_t p0, std::int64_t p1) {
      for (std::int64_t panel = p0; panel < p1; ++panel) {
        FloatVec acc[J][nvec];
        float tail[J][MR] = {};
        for (int j = 0; j < J; ++j)
          for (std::int64_t v = 0; v < nvec; ++v) acc[j][v] = FloatVec(0.0f);
        for (std::int64_t k0 = 0; k0 < in; k0 += gemm::blocking.kc) {
          const std::int64_t len = std::min(gemm::blocking.kc, in - k0) * MR;
          const float* w = a + k0 * mp + panel * len;
          const float* xe = expanded + k0 * MR;
          std::int64_t t = 0;
          for (; t + period <= len; t += period)
            for (std::int64_t v = 0; v < nvec; ++v) {
              const FloatVec wv = detail::vload<FloatVec>(w + t + v * W);
              for (int j = 0; j < J; ++j)
                acc[j][v] = simd::fma(wv, detail::vload<FloatVec>(xe + j * in * MR + t + v * W), acc[j][v]);
            }
          for (; t < len; ++t)  // period divides by MR, so the lane of t is still t % MR
            for (int j = 0; j < J; ++j) tail[j][t % MR] += w[t] * xe[j * in * MR + t];
        }
        const std::int64_t row0 = panel * MR, rows = std::min(MR, out - row0);
        for (int j = 0; j < J; ++j) {
          alignas(64) float lanes[period];
          for (std::int64_t v = 0; v < nvec; ++v) detail::vstore(lanes + v * W, acc[j][v]);
          for (std::int64_t i = 0; i < rows; ++i) {
            float sum = tail[j][i];
            for (std::int64_t t = i; t < period; t += MR) sum += lanes[t];
            if (bias) sum += bias[row0 + i];
            y[j * out + row0 + i] = p.activation.apply(sum);
          }
        }
      }
    });
  }
};

/// Checks, then runs a planned FullyConnected.
inline Status fully_connected(const FullyConnected::Plan& p, ConstTensorView x, TensorView y, const Context& ctx) {
  PRIMSEL_RETURN_IF_ERROR(FullyConnected::check(p, x, y, ctx));
  FullyConnected::run(p, x, y, ctx);
  return {};
}

}  // namespace primsel::ops
