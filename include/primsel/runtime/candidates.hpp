// The ways one graph node can run, type-erased so the network can time, compare and call them alike: every
// convolution primitive of the list whose supports() holds (weights planned once) — and, when the graph is
// calibrated, every int8 primitive too, on u8 NHWC activations — and for the other ops each layout their
// implementation handles (and, in a mixed-precision bind, a fully connected layer with int8 weights on its f32
// edges). Ops without a fast implementation run the reference kernel in nchw.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "primsel/graph/conv_desc.hpp"
#include "primsel/graph/graph.hpp"
#include "primsel/primitives/concept.hpp"
#include "primsel/primitives/depthwise.hpp"
#include "primsel/primitives/int8/fully_connected_u8s8.hpp"
#include "primsel/primitives/int8/ops_u8.hpp"
#include "primsel/primitives/int8/quant_concept.hpp"
#include "primsel/primitives/ops/concat.hpp"
#include "primsel/primitives/ops/eltwise.hpp"
#include "primsel/primitives/ops/fully_connected.hpp"
#include "primsel/primitives/ops/pooling.hpp"
#include "primsel/primitives/ops/softmax.hpp"
#include "primsel/primitives/reference.hpp"
#include "primsel/runtime/calibration.hpp"

namespace primsel {

/// A planned candidate: inputs are one view per node input (constants included, empty for an omitted optional
/// input); it owns whatever it planned (packed weights).
using Runner = std::function<void(std::span<const ConstTensorView> inputs, TensorView output, const Context& ctx)>;

/// One way to run one node. Every data (non-constant) input is read in `input_format`; constants as stored.
/// `instantiate` plans it (packs weights): the network plans a candidate to time it, drops it, and plans again
/// only the chosen one, so memory never holds every primitive's weights at once. A u8 input or output carries the
/// calibrated parameters of its value (Calibration), which the network gives the tensors it converts into.
struct Candidate {
  std::string name;
  Format input_format{};
  Format output_format{};
  std::size_t workspace_bytes = 0;
  std::size_t weight_bytes = 0;  ///< what the planned candidate keeps (packed weights, bias, requantisation)
  std::function<Expected<Runner>()> instantiate;
  /// Computes in int8 between f32 edges (fully_connected_u8s8: s8 weights, rows quantised per call).
  bool int8_inside = false;

  /// An int8 candidate: it writes u8 or computes in int8 (and so counts against the accuracy budget: the budget
  /// may send it back to f32, and BindReport::int8_layers counts it).
  bool quantized() const noexcept { return output_format.dtype == DType::u8 || int8_inside; }
};

namespace detail {

/// Bytes of P's plan for layer d: P::weight_bytes(d) where the primitive states it (transformed or quantised
/// weights), else the f32 weights and bias as given (what packing keeps, up to panel padding).
template <class P>
std::size_t plan_weight_bytes(const ConvDesc& d) {
  if constexpr (requires { { P::weight_bytes(d) } -> std::convertible_to<std::size_t>; }) {
    return P::weight_bytes(d);
  } else {
    return static_cast<std::size_t>(d.weight_elements() + (d.has_bias ? d.oc : 0)) * sizeof(float);
  }
}

/// A convolution primitive P as a candidate; `plan()` returns P's Expected<Plan> for the layer (the f32 and the
/// int8 families differ only in what their plan() takes).
template <class P, class PlanFn>
Candidate planned_candidate(const ConvDesc& d, int threads, ErrorContext ctx, PlanFn plan_fn) {
  return Candidate{std::string(P::name), P::input_format(d), P::output_format(d), P::workspace_bytes(d, threads),
                   plan_weight_bytes<P>(d), [plan_fn, ctx]() -> Expected<Runner> {
                     auto plan = plan_fn();
                     if (!plan) return Error(std::move(plan).error()).with_context(ctx);
                     auto shared = std::make_shared<typename P::Plan>(std::move(*plan));
                     return Runner([shared](std::span<const ConstTensorView> in, TensorView out, const Context& c) {
                       P::run(*shared, in[0], out, c);
                     });
                   }};
}

template <ConvPrimitive P>
Candidate conv_candidate(const ConvDesc& d, const ConvWeights& w, int threads, ErrorContext ctx) {
  return planned_candidate<P>(d, threads, std::move(ctx), [d, w] { return P::plan(d, w); });
}

/// An int8 primitive for a layer whose input and output values are calibrated (q): it quantises the weights in
/// plan() and reads and writes u8 NHWC.
template <QuantConvPrimitive P>
Candidate quant_conv_candidate(const ConvDesc& d, const ConvWeights& w, const ConvQuant& q, int threads,
                               ErrorContext ctx) {
  return planned_candidate<P>(d, threads, std::move(ctx), [d, w, q] { return P::plan(d, w, q); });
}

/// A layout-preserving op (pooling, eltwise, concat) in layout `l`: named "<op>_nchw" or "<op>_nchwc" (the
/// native blocked layout, 8 or 16 channels by ISA: names stay the same across ISAs, so saved bindings do too).
inline Candidate op_candidate(std::string_view op, Layout l, Runner run) {
  std::string name(op);
  name += l == Layout::nchw ? "_nchw" : "_nchwc";
  return Candidate{std::move(name), Format{l}, Format{l}, 0, 0, [run = std::move(run)]() -> Expected<Runner> { return run; }};
}

/// A non-convolution op on u8 NHWC (primitives/int8/ops_u8.hpp), named "<op>_u8".
inline Candidate u8_op_candidate(std::string_view op, Runner run) {
  return Candidate{std::string(op) + "_u8", u8_nhwc, u8_nhwc, 0, 0,
                   [run = std::move(run)]() -> Expected<Runner> { return run; }};
}

/// The u8 versions of a 4-D non-convolution node whose data inputs and output are all calibrated: pooling,
/// Relu/Clip, same-shape Add and channel Concat stay in u8 between int8 convolutions instead of dequantising.
inline void append_u8_op_candidates(const Graph& g, const Node& n, const Calibration& quant, std::vector<Candidate>& out) {
  for (ValueId v : n.inputs)
    if (v != no_value && !g.value(v).is_constant() && (g.value(v).shape.rank() != 4 || !quant.of(v))) return;
  const auto y = quant.of(n.outputs[0]);
  if (!y || g.value(n.outputs[0]).shape.rank() != 4) return;
  switch (n.op) {
    case OpKind::MaxPool:
    case OpKind::AveragePool: {
      const PoolParams p = n.get<PoolParams>();
      if (n.op == OpKind::MaxPool) {
        if (!ops::MaxPoolU8::supports(p)) break;
        out.push_back(u8_op_candidate("maxpool", [p](std::span<const ConstTensorView> in, TensorView t, const Context& c) {
          ops::MaxPoolU8::run(in[0], p, t, c.pool);
        }));
      } else {
        if (!ops::AveragePoolU8::supports(p)) break;
        out.push_back(u8_op_candidate("avgpool", [p](std::span<const ConstTensorView> in, TensorView t, const Context& c) {
          ops::AveragePoolU8::run(in[0], p, t, c.pool);
        }));
      }
      break;
    }
    case OpKind::GlobalAveragePool:
      if (!ops::GlobalAveragePoolU8::supports(g.value(n.inputs[0]).shape)) break;
      out.push_back(u8_op_candidate("gap", [](std::span<const ConstTensorView> in, TensorView t, const Context& c) {
        ops::GlobalAveragePoolU8::run(in[0], t, c.pool);
      }));
      break;
    case OpKind::Relu:
    case OpKind::Clip: {
      const Activation a = n.op == OpKind::Relu ? Activation::relu()
                                                : Activation{n.get<ClipParams>().min, n.get<ClipParams>().max};
      out.push_back(u8_op_candidate("clamp", [a](std::span<const ConstTensorView> in, TensorView t, const Context& c) {
        ops::ClampU8::run(in[0], t, a, c.pool);
      }));
      break;
    }
    case OpKind::Add:
      if (n.inputs.size() != 2 || !ops::AddU8::supports(*quant.of(n.inputs[0]), *quant.of(n.inputs[1]), *y)) break;
      out.push_back(u8_op_candidate("add", [](std::span<const ConstTensorView> in, TensorView t, const Context& c) {
        ops::AddU8::run(in[0], in[1], t, Activation{}, c.pool);
      }));
      break;
    case OpKind::Concat:
      out.push_back(u8_op_candidate("concat", [](std::span<const ConstTensorView> in, TensorView t, const Context& c) {
        ops::ConcatU8::run(in, t, c.pool);
      }));
      break;
    default:
      break;
  }
}

/// The fast implementations of a non-convolution node, one candidate per layout they run in; empty when the
/// node needs the reference (an op or an attribute they do not cover). `quant`: a mixed-precision bind's
/// calibration, whose fully connected layers may also take int8 weights (their f32 edges need no calibrated
/// parameters; the input's means, when taken, correct their bias).
inline std::vector<Candidate> op_candidates(const Graph& g, const Node& n, int threads, const Calibration* quant = nullptr) {
  const bool mixed = quant != nullptr;
  std::vector<Candidate> out;
  const Shape& x = g.value(n.inputs[0]).shape;
  std::vector<Layout> layouts{Layout::nchw};
  if (x.rank() == 4) layouts.push_back(native_blocked_layout);
  auto all_inputs_are_data = [&] {
    for (ValueId v : n.inputs)
      if (v == no_value || g.value(v).is_constant()) return false;
    return true;
  };
  switch (n.op) {
    case OpKind::MaxPool:
    case OpKind::AveragePool: {
      if (x.rank() != 4) break;
      const PoolParams p = n.get<PoolParams>();
      const bool max = n.op == OpKind::MaxPool;
      for (Layout l : layouts)
        out.push_back(op_candidate(max ? "maxpool" : "avgpool", l,
                                   [p, max](std::span<const ConstTensorView> in, TensorView y, const Context& c) {
                                     if (max)
                                       ops::MaxPool::run(in[0], p, y, c.pool);
                                     else
                                       ops::AveragePool::run(in[0], p, y, c.pool);
                                   }));
      break;
    }
    case OpKind::GlobalAveragePool:
      if (x.rank() != 4) break;
      for (Layout l : layouts)
        out.push_back(op_candidate("gap", l, [](std::span<const ConstTensorView> in, TensorView y, const Context& c) {
          ops::GlobalAveragePool::run(in[0], y, c.pool);
        }));
      break;
    case OpKind::Relu:
    case OpKind::Clip: {
      const Activation a = n.op == OpKind::Relu ? Activation::relu()
                                                : Activation{n.get<ClipParams>().min, n.get<ClipParams>().max};
      for (Layout l : layouts)
        out.push_back(op_candidate("clamp", l, [a](std::span<const ConstTensorView> in, TensorView y, const Context& c) {
          ops::Clamp::run(in[0], y, a, c.pool);
        }));
      break;
    }
    case OpKind::Add:
      // Same-shape adds (residual connections); broadcasting adds stay on the reference.
      if (n.inputs.size() != 2 || !all_inputs_are_data() || g.value(n.inputs[1]).shape != x) break;
      for (Layout l : layouts)
        out.push_back(op_candidate("add", l, [](std::span<const ConstTensorView> in, TensorView y, const Context& c) {
          ops::Add::run(in[0], in[1], y, Activation{}, c.pool);
        }));
      break;
    case OpKind::Concat: {
      const std::int64_t axis = n.get<AxisParams>().axis;
      if (x.rank() != 4 || (axis != 1 && axis != -3) || !all_inputs_are_data()) break;
      for (Layout l : layouts)
        out.push_back(op_candidate("concat", l, [](std::span<const ConstTensorView> in, TensorView y, const Context& c) {
          ops::Concat::run(in, y, c.pool);
        }));
      break;
    }
    case OpKind::Softmax: {
      const std::int64_t axis = n.get<AxisParams>().axis;
      if (!(x.rank() == 2 && (axis == 1 || axis == -1)) && !(x.rank() == 4 && (axis == 1 || axis == -3))) break;
      for (Layout l : layouts)
        out.push_back(op_candidate("softmax", l, [](std::span<const ConstTensorView> in, TensorView y, const Context& c) {
          ops::Softmax::run(in[0], y, c.pool);
        }));
      break;
    }
    case OpKind::Gemm: {
      const GemmParams gp = n.get<GemmParams>();
      if (gp.trans_a || x.rank() != 2 || n.inputs.size() < 2 || !g.value(n.inputs[1]).is_constant()) break;
      const bool has_c = n.inputs.size() > 2 && n.inputs[2] != no_value;
      if (has_c && !g.value(n.inputs[2]).is_constant()) break;
      const ConstTensorView b = g.value(n.inputs[1]).constant->view();
      const ConstTensorView cview = has_c ? ConstTensorView(g.value(n.inputs[2]).constant->view()) : ConstTensorView{};
      const std::int64_t batch = x[0];
      const std::int64_t outs = g.value(n.outputs[0]).shape[1];
      const ErrorContext ctx = g.context_of(n);
      Candidate c{"fully_connected", Format{}, Format{}, 0, 0, {}};
      // Workspace depends on the plan only through its feature counts.
      ops::FullyConnected::Plan sizing;
      sizing.in_features = x[1], sizing.out_features = outs;
      c.workspace_bytes = ops::FullyConnected::workspace_bytes(sizing, batch, threads);
      c.weight_bytes = static_cast<std::size_t>(b.shape().numel() + (has_c ? cview.shape().numel() : 0)) * sizeof(float);
      c.instantiate = [gp, b, cview, ctx]() -> Expected<Runner> {
        auto plan = ops::FullyConnected::plan_gemm(gp, b, cview);
        if (!plan) return Error(std::move(plan).error()).with_context(ctx);
        auto shared = std::make_shared<ops::FullyConnected::Plan>(std::move(*plan));
        return Runner([shared](std::span<const ConstTensorView> in, TensorView y, const Context& cx) {
          ops::FullyConnected::run(*shared, in[0], y, cx);
        });
      };
      out.push_back(std::move(c));
      if (mixed && x[1] <= gemm::u8s8_max_k) {
        using FC8 = ops::FullyConnectedU8S8;
        Candidate q{"fully_connected_u8s8", Format{}, Format{}, 0, 0, {}};
        q.workspace_bytes = FC8::workspace_bytes(x[1], outs, batch, threads);
        q.weight_bytes = FC8::weight_bytes(x[1], outs, has_c);
        q.int8_inside = true;
        const std::span<const float> mean = quant->mean_of(n.inputs[0]);
        q.instantiate = [gp, b, cview, ctx, mean = std::vector<float>(mean.begin(), mean.end())]() -> Expected<Runner> {
          auto plan = FC8::plan_gemm(gp, b, cview, mean);
          if (!plan) return Error(std::move(plan).error()).with_context(ctx);
          auto shared = std::make_shared<FC8::Plan>(std::move(*plan));
          return Runner([shared](std::span<const ConstTensorView> in, TensorView y, const Context& cx) {
            FC8::run(*shared, in[0], y, cx);
          });
        };
        out.push_back(std::move(q));
      }
      break;
    }
    default:
      break;
  }
  return out;
}

}  // namespace detail

/// The candidates for node `index` of finalized graph `g` (which must outlive them). For a Conv: the supporting
/// primitives of `Primitives`, planned for `threads`, and with a calibration `quant` whose parameters cover the
/// layer's input and output, the supporting primitives of `Int8Primitives`; an error when none supports it. Other
/// ops: their fast implementation in each layout it runs in, else the reference in nchw.
template <class Primitives, class Int8Primitives = PrimitiveList<>>
Expected<std::vector<Candidate>> node_candidates(const Graph& g, std::size_t index, int threads,
                                                 const Calibration* quant = nullptr) {
  const Node& n = g.nodes()[index];
  std::vector<Candidate> out;
  if (n.op == OpKind::Conv) {
    const ConvDesc d = conv_desc(g, n);
    const Value& weight = g.value(n.inputs[1]);
    PRIMSEL_CHECK(weight.is_constant(), ErrorCode::unsupported, "convolution weights must be constants",
                  g.context_of(n));
    const bool has_bias = n.inputs.size() > 2 && n.inputs[2] != no_value;
    PRIMSEL_CHECK(!has_bias || g.value(n.inputs[2]).is_constant(), ErrorCode::unsupported,
                  "convolution bias must be a constant", g.context_of(n));
    const ConvWeights w{weight.constant->view(),
                        has_bias ? ConstTensorView(g.value(n.inputs[2]).constant->view()) : ConstTensorView{}};
    std::string declined;  // "winograd_f43: kernel is not 3x3; ...": what the error says when nothing is left
    Primitives::for_each([&]<class P>() {
      if (const Support s = P::supports(d); s) {
        out.push_back(detail::conv_candidate<P>(d, w, threads, g.context_of(n)));
      } else {
        if (!declined.empty()) declined += "; ";
        declined += std::string(P::name) + ": " + std::string(s.why);
      }
    });
    const auto in_q = quant ? quant->of(n.inputs[0]) : std::nullopt;
    const auto out_q = quant ? quant->of(n.outputs[0]) : std::nullopt;
    if (in_q && out_q) {
      const std::span<const float> mean = quant->mean_of(n.inputs[0]);
      const ConvQuant q{*in_q, *out_q, {mean.begin(), mean.end()}};
      Int8Primitives::for_each([&]<class P>() {
        if (P::supports(d)) out.push_back(detail::quant_conv_candidate<P>(d, w, q, threads, g.context_of(n)));
      });
    }
    PRIMSEL_CHECK(!out.empty(), ErrorCode::unsupported,
                  "no primitive in the list supports " + to_string(d) + " (" +
                      (declined.empty() ? std::string("the list is empty") : declined) + ")",
                  g.context_of(n));
    return out;
  }
  out = detail::op_candidates(g, n, threads, quant);
  // Only beside an f32 implementation (which checked the attributes, e.g. a same-shape Add, a channel Concat).
  if (!out.empty() && quant) detail::append_u8_op_candidates(g, n, *quant, out);
  if (!out.empty()) return out;
  const Graph* graph = &g;
  out.push_back(Candidate{"reference", Format{}, Format{}, 0, 0, [graph, index]() -> Expected<Runner> {
                            return Runner([graph, index](std::span<const ConstTensorView> in, TensorView y, const Context&) {
                              // Shapes and formats were checked when the network was bound.
                              (void)reference::run_node(*graph, graph->nodes()[index], in, y);
                            });
                          }});
  return out;
}

}  // namespace primsel
