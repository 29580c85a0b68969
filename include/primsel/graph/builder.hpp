// GraphBuilder: write a network in code — how the zoo and firmware builds define one. Shapes are inferred as
// each layer is added, so a mistake is reported at the layer that made it; weights are He-initialised from a
// seeded Rng (deterministic everywhere) unless given explicitly.
//
//   GraphBuilder b("tiny", /*seed=*/42);
//   ValueId x = b.input("input", {1, 3, 32, 32});
//   x = b.conv(x, {.out_channels = 16, .kernel = 3, .pad = 1, .bias = false}, "conv1");
//   x = b.relu(b.batch_norm(x, "bn1"));
//   x = b.linear(b.flatten(b.global_avg_pool(x)), 10, "fc");
//   b.output(x);
//   Expected<Graph> g = std::move(b).build();   // the first error, naming its layer, or the finalized graph
#pragma once

#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "primsel/core/error.hpp"
#include "primsel/core/random.hpp"
#include "primsel/core/tensor.hpp"
#include "primsel/graph/graph.hpp"
#include "primsel/graph/shape_inference.hpp"

namespace primsel {

struct ConvSpec {
  std::int64_t out_channels = 1;
  std::int64_t kernel = 1;    ///< square kernel, unless kernel_w is set
  std::int64_t kernel_w = 0;  ///< 0: same as kernel
  std::int64_t stride = 1;
  std::int64_t pad = 0;       ///< symmetric padding; use pads for asymmetric
  std::optional<Pads2d> pads;
  std::int64_t dilation = 1;
  std::int64_t groups = 1;
  bool bias = true;
};

struct PoolSpec {
  std::int64_t kernel = 2;
  std::int64_t stride = 0;  ///< 0: same as kernel
  std::int64_t pad = 0;
  bool ceil_mode = false;
  bool count_include_pad = false;
};

class GraphBuilder {
 public:
  explicit GraphBuilder(std::string name, std::uint64_t seed = 42) : graph_(std::move(name)), rng_(seed) {}

  /// A graph input; a shape with a zero or negative dim, or more than max_value_elements, is the builder's error.
  ValueId input(std::string name, Shape shape) {
    if (error_) return no_value;
    const std::string why = input_shape_problem(shape);
    if (!why.empty()) {
      error_ = Error(ErrorCode::invalid_argument,
                     "graph input '" + name + "' has the unusable shape " + to_string(shape) + ": " + why);
      return no_value;
    }
    return graph_.add_input(std::move(name), shape);
  }

  /// A convolution with He-initialised weights (normal, std = sqrt(2 / fan_in)) and zero bias.
  ValueId conv(ValueId x, const ConvSpec& s, std::string name = {}) {
    if (error_ || !check_input(x, "Conv", name)) return no_value;
    const std::int64_t ic = shape(x).rank() == 4 ? shape(x).c() : 0;
    const std::int64_t icg = s.groups > 0 ? ic / s.groups : 0;
    const std::int64_t kw = s.kernel_w ? s.kernel_w : s.kernel;
    const Shape ws{s.out_channels, icg, s.kernel, kw};
    // Checked before generating: a huge declared weight must be an error, not a failed multi-terabyte allocation.
    if (!weights_fit(ws, "Conv", name)) return no_value;
    std::vector<float> w = he_normal(ws.numel(), s.out_channels > 0 ? ws.numel() / s.out_channels : 0);
    std::vector<float> b(s.bias ? static_cast<std::size_t>(std::max<std::int64_t>(s.out_channels, 0)) : 0, 0.0f);
    return conv(x, s, std::move(name), w, b);
  }

  /// A convolution with explicit OIHW weights and bias (empty span: no bias).
  ValueId conv(ValueId x, const ConvSpec& s, std::string name, std::span<const float> weight,
               std::span<const float> bias) {
    if (error_ || !check_input(x, "Conv", name)) return no_value;
    name = name_or(std::move(name), "conv");
    const std::int64_t ic = shape(x).rank() == 4 ? shape(x).c() : 0;
    const std::int64_t kw = s.kernel_w ? s.kernel_w : s.kernel;
    const Shape ws{s.out_channels, s.groups > 0 ? ic / s.groups : 0, s.kernel, kw};
    std::vector<ValueId> ins{x, constant(name + ".weight", ws, weight)};
    if (!bias.empty()) ins.push_back(constant(name + ".bias", Shape{s.out_channels}, bias));
    if (error_) return no_value;
    ConvParams p;
    p.kernel = {s.kernel, kw};
    p.stride = {s.stride, s.stride};
    p.dilation = {s.dilation, s.dilation};
    p.pads = s.pads ? *s.pads : Pads2d{s.pad, s.pad, s.pad, s.pad};
    p.groups = s.groups;
    return node(OpKind::Conv, std::move(name), std::move(ins), p);
  }

  /// BatchNormalization in inference mode with identity statistics (gamma 1, beta 0, mean 0, var 1).
  ValueId batch_norm(ValueId x, std::string name = {}, float epsilon = 1e-5f) {
    if (error_ || !check_input(x, "BatchNormalization", name)) return no_value;
    name = name_or(std::move(name), "bn");
    const std::int64_t c = shape(x).rank() >= 2 ? shape(x)[1] : 0;
    const std::vector<float> ones(static_cast<std::size_t>(std::max<std::int64_t>(c, 0)), 1.0f), zeros(ones.size(), 0.0f);
    std::vector<ValueId> ins{x, constant(name + ".weight", {c}, ones), constant(name + ".bias", {c}, zeros),
                             constant(name + ".running_mean", {c}, zeros), constant(name + ".running_var", {c}, ones)};
    return node(OpKind::BatchNormalization, std::move(name), std::move(ins), BatchNormParams{epsilon});
  }

  ValueId relu(ValueId x, std::string name = {}) { return unary(OpKind::Relu, x, std::move(name), "relu"); }
  ValueId relu6(ValueId x, std::string name = {}) { return clip(x, 0.0f, 6.0f, std::move(name)); }
  ValueId clip(ValueId x, float lo, float hi, std::string name = {}) {
    return unary(OpKind::Clip, x, std::move(name), "clip", ClipParams{lo, hi});
  }
  ValueId sigmoid(ValueId x, std::string name = {}) { return unary(OpKind::Sigmoid, x, std::move(name), "sigmoid"); }
  ValueId dropout(ValueId x, std::string name = {}) { return unary(OpKind::Dropout, x, std::move(name), "dropout"); }
  ValueId flatten(ValueId x, std::string name = {}, std::int64_t axis = 1) {
    return unary(OpKind::Flatten, x, std::move(name), "flatten", AxisParams{axis});
  }
  ValueId softmax(ValueId x, std::string name = {}, std::int64_t axis = -1) {
    return unary(OpKind::Softmax, x, std::move(name), "softmax", AxisParams{axis});
  }
  ValueId reshape(ValueId x, Shape target, std::string name = {}) {
    return unary(OpKind::Reshape, x, std::move(name), "reshape", ReshapeParams{target});
  }
  ValueId max_pool(ValueId x, const PoolSpec& s, std::string name = {}) {
    return unary(OpKind::MaxPool, x, std::move(name), "maxpool", pool_params(s));
  }
  ValueId avg_pool(ValueId x, const PoolSpec& s, std::string name = {}) {
    return unary(OpKind::AveragePool, x, std::move(name), "avgpool", pool_params(s));
  }
  ValueId global_avg_pool(ValueId x, std::string name = {}) {
    return unary(OpKind::GlobalAveragePool, x, std::move(name), "avgpool");
  }
  ValueId add(ValueId a, ValueId b, std::string name = {}) { return binary(OpKind::Add, a, b, std::move(name), "add"); }
  ValueId mul(ValueId a, ValueId b, std::string name = {}) { return binary(OpKind::Mul, a, b, std::move(name), "mul"); }
  ValueId concat(const std::vector<ValueId>& xs, std::int64_t axis = 1, std::string name = {}) {
    for (ValueId x : xs)
      if (error_ || !check_input(x, "Concat", name)) return no_value;
    return node(OpKind::Concat, name_or(std::move(name), "concat"), xs, AxisParams{axis});
  }

  /// A fully connected layer as ONNX exports it: Gemm with B transposed ([out, in] weight) and a bias.
  ValueId linear(ValueId x, std::int64_t out_features, std::string name = {}) {
    if (error_ || !check_input(x, "Gemm", name)) return no_value;
    const std::int64_t in = shape(x).rank() == 2 ? shape(x)[1] : 0;
    if (!weights_fit(Shape{out_features, in}, "Gemm", name)) return no_value;
    std::vector<float> w = he_normal(out_features * in, in, 1.0);  // unit gain: logits, no ReLU after
    std::vector<float> b(static_cast<std::size_t>(std::max<std::int64_t>(out_features, 0)), 0.0f);
    return linear(x, out_features, std::move(name), w, b);
  }
  ValueId linear(ValueId x, std::int64_t out_features, std::string name, std::span<const float> weight,
                 std::span<const float> bias) {
    if (error_ || !check_input(x, "Gemm", name)) return no_value;
    name = name_or(std::move(name), "fc");
    const std::int64_t in = shape(x).rank() == 2 ? shape(x)[1] : 0;
    std::vector<ValueId> ins{x, constant(name + ".weight", {out_features, in}, weight)};
    if (!bias.empty()) ins.push_back(constant(name + ".bias", {out_features}, bias));
    return node(OpKind::Gemm, std::move(name), std::move(ins), GemmParams{.trans_b = true});
  }

  void output(ValueId x) {
    if (!error_ && check_input(x, "output", {})) graph_.mark_output(x);
  }

  /// The shape of a value added so far (inferred as layers are added).
  const Shape& shape(ValueId v) const { return graph_.value(v).shape; }
  /// The first error so far, if any.
  const std::optional<Error>& error() const noexcept { return error_; }

  /// The finalized graph, or the first error.
  Expected<Graph> build() && {
    if (error_) return std::move(*error_);
    PRIMSEL_RETURN_IF_ERROR(finalize(graph_));
    return std::move(graph_);
  }

 private:
  std::string name_or(std::string name, const char* prefix) {
    return name.empty() ? std::string(prefix) + "_" + std::to_string(counter_++) : name;
  }

  bool check_input(ValueId x, const char* op, const std::string& name) {
    if (graph_.valid(x)) return true;
    error_ = Error(ErrorCode::invalid_argument, "input is not a value of this builder", ErrorContext{op, name, {}});
    return false;
  }

  /// A weight shape the builder can generate values for: no negative dim, at most max_value_elements. (Zero dims
  /// generate nothing; shape inference names what is wrong with them, e.g. groups.)
  bool weights_fit(const Shape& ws, const char* op, const std::string& name) {
    if (ws.checked_numel(max_value_elements) < 0) {
      const std::string why = value_shape_problem(ws);
      error_ = Error(ErrorCode::invalid_argument, "weight shape " + to_string(ws) + " is unusable: " + why,
                     ErrorContext{op, name, to_string(ws)});
      return false;
    }
    return true;
  }

  ValueId constant(std::string name, Shape s, std::span<const float> values) {
    if (error_) return no_value;
    if (s.checked_numel() < 0 || static_cast<std::int64_t>(values.size()) != s.numel()) {
      error_ = Error(ErrorCode::shape_mismatch,
                     "constant '" + name + "' of shape " + to_string(s) + " got " + std::to_string(values.size()) + " values");
      return no_value;
    }
    return graph_.add_constant(std::move(name), Tensor::from(s, values));
  }

  ValueId node(OpKind op, std::string name, std::vector<ValueId> ins, OpParams params = {}) {
    if (error_) return no_value;
    const ValueId out = graph_.add_node(op, std::move(name), std::move(ins), std::move(params));
    const Node& n = graph_.nodes().back();
    auto s = detail::infer_node(graph_, n);
    if (!s) {
      error_ = std::move(s).error();
      return no_value;
    }
    // As infer_shapes() does at build(): reported here, at the layer that made the shape.
    if (const std::string why = value_shape_problem(*s); !why.empty()) {
      error_ = Error(ErrorCode::invalid_model, "output shape " + to_string(*s) + " is unusable: " + why,
                     graph_.context_of(n));
      return no_value;
    }
    graph_.value(out).shape = *s;
    return out;
  }

  ValueId unary(OpKind op, ValueId x, std::string name, const char* prefix, OpParams params = {}) {
    if (error_ || !check_input(x, std::string(to_string(op)).c_str(), name)) return no_value;
    return node(op, name_or(std::move(name), prefix), {x}, std::move(params));
  }
  ValueId binary(OpKind op, ValueId a, ValueId b, std::string name, const char* prefix) {
    if (error_ || !check_input(a, std::string(to_string(op)).c_str(), name) ||
        !check_input(b, std::string(to_string(op)).c_str(), name))
      return no_value;
    return node(op, name_or(std::move(name), prefix), {a, b});
  }

  static PoolParams pool_params(const PoolSpec& s) {
    const std::int64_t stride = s.stride ? s.stride : s.kernel;
    return PoolParams{.kernel = {s.kernel, s.kernel}, .stride = {stride, stride},
                      .pads = {s.pad, s.pad, s.pad, s.pad}, .ceil_mode = s.ceil_mode,
                      .count_include_pad = s.count_include_pad};
  }

  /// He/Kaiming normal init: std = gain / sqrt(fan_in), gain sqrt(2) for layers followed by ReLU.
  std::vector<float> he_normal(std::int64_t count, std::int64_t fan_in, double gain = std::sqrt(2.0)) {
    std::vector<float> w(static_cast<std::size_t>(std::max<std::int64_t>(count, 0)));
    const double std_dev = fan_in > 0 ? gain / std::sqrt(static_cast<double>(fan_in)) : 0.0;
    for (float& v : w) v = static_cast<float>(rng_.normal() * std_dev);
    return w;
  }

  Graph graph_;
  Rng rng_;
  std::optional<Error> error_;
  int counter_ = 0;
};

}  // namespace primsel
