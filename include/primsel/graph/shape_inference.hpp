// Shape inference and validation: computes every node's output shape from its inputs (ONNX semantics) and
// rejects inconsistent graphs with a message naming the node and the shapes. Graph::finalize() runs it.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>

#include "primsel/core/error.hpp"
#include "primsel/graph/graph.hpp"

namespace primsel {

/// Output size of a window op along one axis (conv and pooling, ONNX formula). Returns <= 0 when the window does
/// not fit.
constexpr std::int64_t window_output_size(std::int64_t in, std::int64_t kernel, std::int64_t stride,
                                          std::int64_t pad_begin, std::int64_t pad_end, std::int64_t dilation = 1,
                                          bool ceil_mode = false) noexcept {
  const std::int64_t span = dilation * (kernel - 1) + 1;
  const std::int64_t room = in + pad_begin + pad_end - span;
  if (room < 0 || stride <= 0) return 0;
  std::int64_t out = room / stride + 1;
  if (ceil_mode && room % stride != 0) {
    // ONNX/PyTorch: the last window must start inside the input or the begin padding.
    if ((out)*stride < in + pad_begin) ++out;
  }
  return out;
}

namespace detail {

inline std::int64_t normalize_axis(std::int64_t axis, int rank) { return axis < 0 ? axis + rank : axis; }

/// Numpy broadcasting of two shapes; empty optional if incompatible.
inline std::optional<Shape> broadcast(const Shape& a, const Shape& b) {
  const int r = a.rank() > b.rank() ? a.rank() : b.rank();
  Shape out;
  for (int i = 0; i < r; ++i) {
    const int ia = i - (r - a.rank()), ib = i - (r - b.rank());
    const std::int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    if (da != db && da != 1 && db != 1) return std::nullopt;
    out.push_back(da == 1 ? db : da);
  }
  return out;
}

inline Expected<Shape> infer_node(const Graph& g, const Node& n) {
  const ErrorContext ctx = g.context_of(n);
  auto fail = [&](std::string msg, ErrorCode code = ErrorCode::shape_mismatch) { return Error(code, std::move(msg), ctx); };
  auto need_inputs = [&](std::size_t lo, std::size_t hi) -> Status {
    std::size_t present = 0;
    for (std::size_t i = 0; i < n.inputs.size(); ++i)
      if (n.inputs[i] != no_value) present = i + 1;
    if (present < lo || n.inputs.size() > hi)
      return Error(ErrorCode::invalid_model,
                   "expects " + (lo == hi ? std::to_string(lo) : std::to_string(lo) + " to " + std::to_string(hi)) +
                       " inputs, got " + std::to_string(n.inputs.size()),
                   ctx);
    for (std::size_t i = 0; i < lo; ++i)
      if (n.inputs[i] == no_value) return Error(ErrorCode::invalid_model, "required input " + std::to_string(i) + " is missing", ctx);
    return {};
  };
  auto in = [&](std::size_t i) -> const Shape& { return g.value(n.inputs[i]).shape; };
  auto need_rank = [&](std::size_t i, int rank) -> Status {
    if (in(i).rank() != rank)
      return fail("input " + std::to_string(i) + " must be " + std::to_string(rank) + "-D, got " + to_string(in(i)));
    return {};
  };
  auto params_ok = [&]<class P>() -> Status {
    if (!std::holds_alternative<P>(n.params)) return Error(ErrorCode::internal, "node carries the wrong parameter type", ctx);
    return {};
  };

  // Window and pad sizes beyond 2^31 are nonsense in any model and would overflow the size arithmetic below.
  auto huge = [&](std::initializer_list<std::int64_t> params) -> Status {
    for (std::int64_t v : params)
      if (v > (std::int64_t{1} << 31)) return fail("kernel, stride, dilation or pad " + std::to_string(v) + " is beyond 2^31", ErrorCode::invalid_model);
    return {};
  };

  switch (n.op) {
    case OpKind::Conv: {
      PRIMSEL_RETURN_IF_ERROR(need_inputs(2, 3));
      PRIMSEL_RETURN_IF_ERROR(params_ok.template operator()<ConvParams>());
      PRIMSEL_RETURN_IF_ERROR(need_rank(0, 4));
      PRIMSEL_RETURN_IF_ERROR(need_rank(1, 4));
      const auto& p = n.get<ConvParams>();
      const Shape& x = in(0);
      const Shape& w = in(1);
      PRIMSEL_RETURN_IF_ERROR(huge({p.kernel[0], p.kernel[1], p.stride[0], p.stride[1], p.dilation[0], p.dilation[1], p.pads.top,
                                    p.pads.left, p.pads.bottom, p.pads.right}));
      if (p.groups < 1) return fail("groups must be >= 1, got " + std::to_string(p.groups), ErrorCode::invalid_model);
      if (p.stride[0] < 1 || p.stride[1] < 1 || p.dilation[0] < 1 || p.dilation[1] < 1)
        return fail("stride and dilation must be >= 1", ErrorCode::invalid_model);
      if (p.pads.top < 0 || p.pads.left < 0 || p.pads.bottom < 0 || p.pads.right < 0)
        return fail("pads must be >= 0", ErrorCode::invalid_model);
      if (w[2] != p.kernel[0] || w[3] != p.kernel[1])
        return fail("kernel " + std::to_string(p.kernel[0]) + "x" + std::to_string(p.kernel[1]) +
                    " disagrees with the weight's " + std::to_string(w[2]) + "x" + std::to_string(w[3]));
      if (x.c() % p.groups != 0 || w[0] % p.groups != 0)
        return fail("channels (" + std::to_string(x.c()) + " in, " + std::to_string(w[0]) +
                    " out) are not divisible by groups " + std::to_string(p.groups));
      if (x.c() / p.groups != w[1])
        return fail("input has " + std::to_string(x.c()) + " channels in " + std::to_string(p.groups) +
                    " group(s), weight expects " + std::to_string(w[1]) + " per group");
      if (n.input(2) != no_value && !(in(2).rank() == 1 && in(2)[0] == w[0]))
        return fail("bias must have " + std::to_string(w[0]) + " elements, got " + to_string(in(2)));
      const std::int64_t oh = window_output_size(x.h(), p.kernel[0], p.stride[0], p.pads.top, p.pads.bottom, p.dilation[0]);
      const std::int64_t ow = window_output_size(x.w(), p.kernel[1], p.stride[1], p.pads.left, p.pads.right, p.dilation[1]);
      if (oh <= 0 || ow <= 0) return fail("the kernel does not fit the padded input");
      return Shape{x.n(), w[0], oh, ow};
    }
    case OpKind::MaxPool:
    case OpKind::AveragePool: {
      PRIMSEL_RETURN_IF_ERROR(need_inputs(1, 1));
      PRIMSEL_RETURN_IF_ERROR(params_ok.template operator()<PoolParams>());
      PRIMSEL_RETURN_IF_ERROR(need_rank(0, 4));
      const auto& p = n.get<PoolParams>();
      const Shape& x = in(0);
      PRIMSEL_RETURN_IF_ERROR(huge({p.kernel[0], p.kernel[1], p.stride[0], p.stride[1], p.pads.top, p.pads.left, p.pads.bottom, p.pads.right}));
      if (p.kernel[0] < 1 || p.kernel[1] < 1 || p.stride[0] < 1 || p.stride[1] < 1)
        return fail("kernel and stride must be >= 1", ErrorCode::invalid_model);
      if (p.pads.top < 0 || p.pads.left < 0 || p.pads.bottom < 0 || p.pads.right < 0)
        return fail("pads must be >= 0", ErrorCode::invalid_model);
      if (p.pads.top >= p.kernel[0] || p.pads.bottom >= p.kernel[0] || p.pads.left >= p.kernel[1] || p.pads.right >= p.kernel[1])
        return fail("pads must be smaller than the kernel", ErrorCode::invalid_model);
      const std::int64_t oh = window_output_size(x.h(), p.kernel[0], p.stride[0], p.pads.top, p.pads.bottom, 1, p.ceil_mode);
      const std::int64_t ow = window_output_size(x.w(), p.kernel[1], p.stride[1], p.pads.left, p.pads.right, 1, p.ceil_mode);
      if (oh <= 0 || ow <= 0) return fail("the window does not fit the padded input");
      return Shape{x.n(), x.c(), oh, ow};
    }
    case OpKind::GlobalAveragePool: {
      PRIMSEL_RETURN_IF_ERROR(need_inputs(1, 1));
      PRIMSEL_RETURN_IF_ERROR(need_rank(0, 4));
      return Shape{in(0).n(), in(0).c(), 1, 1};
    }
    case OpKind::Gemm: {
      PRIMSEL_RETURN_IF_ERROR(need_inputs(2, 3));
      PRIMSEL_RETURN_IF_ERROR(params_ok.template operator()<GemmParams>());
      PRIMSEL_RETURN_IF_ERROR(need_rank(0, 2));
      PRIMSEL_RETURN_IF_ERROR(need_rank(1, 2));
      const auto& p = n.get<GemmParams>();
      const std::int64_t m = p.trans_a ? in(0)[1] : in(0)[0], k = p.trans_a ? in(0)[0] : in(0)[1];
      const std::int64_t kb = p.trans_b ? in(1)[1] : in(1)[0], nn = p.trans_b ? in(1)[0] : in(1)[1];
      if (k != kb) return fail("inner dimensions differ: A gives " + std::to_string(k) + ", B gives " + std::to_string(kb));
      if (n.input(2) != no_value && !broadcast(in(2), Shape{m, nn}))
        return fail("C of shape " + to_string(in(2)) + " does not broadcast to " + std::to_string(m) + "x" + std::to_string(nn));
      return Shape{m, nn};
    }
    case OpKind::MatMul: {
      PRIMSEL_RETURN_IF_ERROR(need_inputs(2, 2));
      PRIMSEL_RETURN_IF_ERROR(need_rank(0, 2));
      if (in(1).rank() != 2) return fail("only 2-D MatMul (a fully connected layer) is supported", ErrorCode::unsupported);
      if (in(0)[1] != in(1)[0]) return fail("inner dimensions differ: " + std::to_string(in(0)[1]) + " vs " + std::to_string(in(1)[0]));
      return Shape{in(0)[0], in(1)[1]};
    }
    case OpKind::Relu:
    case OpKind::Sigmoid:
    case OpKind::Dropout:
    case OpKind::Identity:
      PRIMSEL_RETURN_IF_ERROR(need_inputs(1, n.op == OpKind::Dropout ? 3 : 1));
      return in(0);
    case OpKind::Clip: {
      PRIMSEL_RETURN_IF_ERROR(need_inputs(1, 1));
      PRIMSEL_RETURN_IF_ERROR(params_ok.template operator()<ClipParams>());
      const auto& p = n.get<ClipParams>();
      if (p.min > p.max) return fail("min " + std::to_string(p.min) + " exceeds max " + std::to_string(p.max), ErrorCode::invalid_model);
      return in(0);
    }
    case OpKind::Add:
    case OpKind::Mul: {
      PRIMSEL_RETURN_IF_ERROR(need_inputs(2, 2));
      auto out = broadcast(in(0), in(1));
      if (!out) return fail("shapes " + to_string(in(0)) + " and " + to_string(in(1)) + " do not broadcast");
      return *out;
    }
    case OpKind::Concat: {
      PRIMSEL_RETURN_IF_ERROR(params_ok.template operator()<AxisParams>());
      if (n.inputs.empty()) return fail("needs at least one input", ErrorCode::invalid_model);
      for (std::size_t i = 0; i < n.inputs.size(); ++i)
        if (n.inputs[i] == no_value) return fail("input " + std::to_string(i) + " is missing", ErrorCode::invalid_model);
      const int r = in(0).rank();
      const std::int64_t axis = normalize_axis(n.get<AxisParams>().axis, r);
      if (axis < 0 || axis >= r) return fail("axis " + std::to_string(n.get<AxisParams>().axis) + " is out of range for rank " + std::to_string(r), ErrorCode::invalid_model);
      Shape out = in(0);
      for (std::size_t i = 1; i < n.inputs.size(); ++i) {
        const Shape& s = in(i);
        bool same = s.rank() == r;
        for (int d = 0; same && d < r; ++d)
          if (d != axis && s[d] != out[d]) same = false;
        if (!same) return fail("input " + std::to_string(i) + " (" + to_string(s) + ") differs from input 0 (" + to_string(in(0)) + ") outside axis " + std::to_string(axis));
        out[static_cast<int>(axis)] += s[static_cast<int>(axis)];
      }
      return out;
    }
    case OpKind::BatchNormalization: {
      PRIMSEL_RETURN_IF_ERROR(need_inputs(5, 5));
      PRIMSEL_RETURN_IF_ERROR(params_ok.template operator()<BatchNormParams>());
      if (in(0).rank() < 2) return fail("input must have a channel axis");
      for (std::size_t i = 1; i < 5; ++i)
        if (!(in(i).rank() == 1 && in(i)[0] == in(0)[1]))
          return fail("parameter " + std::to_string(i) + " must have " + std::to_string(in(0)[1]) + " elements, got " + to_string(in(i)));
      return in(0);
    }
    case OpKind::Flatten: {
      PRIMSEL_RETURN_IF_ERROR(need_inputs(1, 1));
      PRIMSEL_RETURN_IF_ERROR(params_ok.template operator()<AxisParams>());
      const int r = in(0).rank();
      const std::int64_t axis = normalize_axis(n.get<AxisParams>().axis, r);
      if (axis < 0 || axis > r) return fail("axis out of range for rank " + std::to_string(r), ErrorCode::invalid_model);
      std::int64_t a = 1, b = 1;
      for (int d = 0; d < r; ++d) (d < axis ? a : b) *= in(0)[d];
      return Shape{a, b};
    }
    case OpKind::Reshape: {
      PRIMSEL_RETURN_IF_ERROR(need_inputs(1, 1));
      PRIMSEL_RETURN_IF_ERROR(params_ok.template operator()<ReshapeParams>());
      const Shape& target = n.get<ReshapeParams>().shape;
      Shape out;
      int infer = -1;
      std::int64_t known = 1;
      for (int d = 0; d < target.rank(); ++d) {
        std::int64_t v = target[d];
        if (v == 0) {
          if (d >= in(0).rank()) return fail("shape entry 0 at axis " + std::to_string(d) + " has no input dim to copy", ErrorCode::invalid_model);
          v = in(0)[d];
        }
        if (v == -1) {
          if (infer >= 0) return fail("more than one -1 in the target shape", ErrorCode::invalid_model);
          infer = d;
        } else if (v < 0) {
          return fail("negative target dim " + std::to_string(v), ErrorCode::invalid_model);
        } else {
          known *= v;
        }
        out.push_back(v);
      }
      const std::int64_t total = in(0).numel();
      if (infer >= 0) {
        if (known == 0 || total % known != 0) return fail("cannot infer -1: " + std::to_string(total) + " elements into " + to_string(target));
        out[infer] = total / known;
      }
      if (out.numel() != total) return fail("cannot reshape " + to_string(in(0)) + " into " + to_string(target));
      return out;
    }
    case OpKind::Softmax: {
      PRIMSEL_RETURN_IF_ERROR(need_inputs(1, 1));
      PRIMSEL_RETURN_IF_ERROR(params_ok.template operator()<AxisParams>());
      const std::int64_t axis = normalize_axis(n.get<AxisParams>().axis, in(0).rank());
      if (axis < 0 || axis >= in(0).rank()) return fail("axis out of range", ErrorCode::invalid_model);
      return in(0);
    }
    case OpKind::Pad: {
      PRIMSEL_RETURN_IF_ERROR(need_inputs(1, 1));
      PRIMSEL_RETURN_IF_ERROR(params_ok.template operator()<PadParams>());
      PRIMSEL_RETURN_IF_ERROR(need_rank(0, 4));
      const auto& p = n.get<PadParams>();
      PRIMSEL_RETURN_IF_ERROR(huge({p.begin[0], p.begin[1], p.begin[2], p.begin[3], p.end[0], p.end[1], p.end[2], p.end[3]}));
      Shape out = in(0);
      for (int d = 0; d < 4; ++d) {
        const auto du = static_cast<std::size_t>(d);
        if (p.begin[du] < 0 || p.end[du] < 0) return fail("negative pads (cropping) are not supported", ErrorCode::unsupported);
        if (p.mode == PadMode::reflect && (p.begin[du] >= in(0)[d] || p.end[du] >= in(0)[d]))
          return fail("reflect pads must be smaller than the padded dim", ErrorCode::invalid_model);
        out[d] += p.begin[du] + p.end[du];
      }
      return out;
    }
  }
  return fail("unknown op", ErrorCode::unsupported);
}

}  // namespace detail

/// Fills in the shape of every node output; nodes must already be in topological order.
inline Status infer_shapes(Graph& g) {
  for (const Node& n : g.nodes()) {
    if (n.outputs.size() != 1 && !(n.op == OpKind::Dropout && n.outputs.size() <= 2))
      return Error(ErrorCode::unsupported, "nodes with " + std::to_string(n.outputs.size()) + " outputs are not supported",
                   g.context_of(n));
    for (ValueId v : n.inputs)
      if (v != no_value && g.value(v).shape.checked_numel(max_value_elements) < 0)
        return Error(ErrorCode::invalid_model, "input '" + g.value(v).name + "' has a negative or huge shape", g.context_of(n));
    PRIMSEL_ASSIGN_OR_RETURN(Shape out, detail::infer_node(g, n));
    // Refused here, before any executor sizes a buffer from it: an empty activation (kernels divide work by its
    // size) or one past max_value_elements.
    if (const std::string why = value_shape_problem(out); !why.empty())
      return Error(ErrorCode::invalid_model, "output shape " + to_string(out) + " is unusable: " + why, g.context_of(n));
    for (ValueId o : n.outputs) {
      g.value(o).shape = out;
      g.value(o).dtype = DType::f32;
    }
  }
  return {};
}

/// Checks references, orders nodes topologically and infers every shape. Run after building or importing a graph
/// and after every pass; errors name the node.
inline Status finalize(Graph& g) {
  g.set_finalized(false);
  PRIMSEL_CHECK(!g.inputs().empty(), ErrorCode::invalid_model, "graph '" + g.name() + "' has no inputs");
  PRIMSEL_CHECK(!g.outputs().empty(), ErrorCode::invalid_model, "graph '" + g.name() + "' has no outputs");
  for (ValueId v : g.inputs()) {
    const Value& in = g.value(v);
    const std::string why = input_shape_problem(in.shape);
    PRIMSEL_CHECK(why.empty(), ErrorCode::invalid_model,
                  "graph input '" + in.name + "' has the unusable shape " + to_string(in.shape) + ": " + why);
  }
  PRIMSEL_RETURN_IF_ERROR(g.sort_topologically());
  PRIMSEL_RETURN_IF_ERROR(infer_shapes(g));
  g.set_finalized(true);
  return {};
}

}  // namespace primsel
