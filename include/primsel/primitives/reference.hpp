// The reference implementation of every op: one dispatch from a graph node to the plain-loop NCHW f32 kernels in
// reference/. It is the correctness oracle for every primitive and the dependency-free baseline speed-ups are
// quoted against.
#pragma once

#include <span>
#include <string>

#include "primsel/core/error.hpp"
#include "primsel/core/tensor.hpp"
#include "primsel/graph/graph.hpp"
#include "primsel/graph/shape_inference.hpp"
#include "primsel/primitives/reference/conv.hpp"
#include "primsel/primitives/reference/elementwise.hpp"
#include "primsel/primitives/reference/gemm.hpp"
#include "primsel/primitives/reference/pool.hpp"
#include "primsel/primitives/reference/tensor_ops.hpp"

namespace primsel::reference {

/// Runs node `n` of finalized graph `g`: `inputs` in node order (an empty view for an omitted optional input),
/// `output` preallocated. Every view must be plain-layout f32 with the shape inference gave; otherwise an error
/// names the node and the offending input.
inline Status run_node(const Graph& g, const Node& n, std::span<const ConstTensorView> inputs, TensorView output) {
  // Built only on failure: the network runs the reference for some ops inside run(), which must not allocate.
  auto ctx = [&] { return g.context_of(n); };
  PRIMSEL_CHECK(inputs.size() == n.inputs.size(), ErrorCode::invalid_argument,
                "got " + std::to_string(inputs.size()) + " input views for " + std::to_string(n.inputs.size()) + " inputs",
                ctx());
  auto check = [&](const char* what, ValueId id, const ConstTensorView& v) -> Status {
    const Value& val = g.value(id);
    PRIMSEL_CHECK(v.bytes() != nullptr || v.shape().numel() == 0, ErrorCode::invalid_argument,
                  std::string(what) + " '" + val.name + "' has no data", ctx());
    PRIMSEL_CHECK(v.format() == Format{}, ErrorCode::unsupported,
                  std::string(what) + " '" + val.name + "' is " + to_string(v.format()) + "; the reference runs nchw/f32",
                  ctx());
    PRIMSEL_CHECK(v.shape() == val.shape, ErrorCode::shape_mismatch,
                  std::string(what) + " '" + val.name + "' is " + to_string(v.shape()) + ", the graph says " +
                      to_string(val.shape),
                  ctx());
    return {};
  };
  for (std::size_t i = 0; i < inputs.size(); ++i)
    if (n.inputs[i] != no_value) PRIMSEL_RETURN_IF_ERROR(check("input", n.inputs[i], inputs[i]));
  PRIMSEL_RETURN_IF_ERROR(check("output", n.outputs[0], output));
  auto in = [&](std::size_t i) { return i < inputs.size() && n.inputs[i] != no_value ? inputs[i] : ConstTensorView{}; };
  auto axis_of = [&](const Shape& s) {
    const std::int64_t a = n.get<AxisParams>().axis;
    return a < 0 ? a + s.rank() : a;
  };

  switch (n.op) {
    case OpKind::Conv:
      conv2d(in(0), in(1), in(2).data<float>(), n.get<ConvParams>(), output);
      return {};
    case OpKind::MaxPool:
    case OpKind::AveragePool:
      pool2d(in(0), n.get<PoolParams>(), n.op == OpKind::MaxPool, output);
      return {};
    case OpKind::GlobalAveragePool:
      global_average_pool(in(0), output);
      return {};
    case OpKind::Gemm:
      gemm(in(0), in(1), in(2), n.get<GemmParams>(), output);
      return {};
    case OpKind::MatMul:
      matmul(in(0), in(1), output);
      return {};
    case OpKind::Relu:
      clamp(in(0), Activation::relu(), output);
      return {};
    case OpKind::Clip:
      clamp(in(0), Activation{n.get<ClipParams>().min, n.get<ClipParams>().max}, output);
      return {};
    case OpKind::Sigmoid:
      sigmoid(in(0), output);
      return {};
    case OpKind::Add:
    case OpKind::Mul:
      binary(in(0), in(1), n.op == OpKind::Add ? BinaryOp::add : BinaryOp::mul, output);
      return {};
    case OpKind::Concat:
      concat(inputs, axis_of(in(0).shape()), output);
      return {};
    case OpKind::BatchNormalization:
      batch_norm(in(0), in(1).data<float>(), in(2).data<float>(), in(3).data<float>(), in(4).data<float>(),
                 n.get<BatchNormParams>().epsilon, output);
      return {};
    case OpKind::Softmax:
      softmax(in(0), axis_of(in(0).shape()), output);
      return {};
    case OpKind::Pad:
      pad(in(0), n.get<PadParams>(), output);
      return {};
    case OpKind::Flatten:
    case OpKind::Reshape:
    case OpKind::Dropout:
    case OpKind::Identity:
      copy(in(0), output);
      return {};
  }
  return Error(ErrorCode::unsupported, "the reference has no implementation of this op", ctx());
}

}  // namespace primsel::reference
