// Graph passes that keep semantics and shrink the work primitives see: fold BatchNormalization into the preceding
// Conv (scale the weights per output channel, shift the bias), fuse Relu/Clip into the Conv or Gemm before them,
// and drop inference identities (Dropout, Identity). Each leaves a finalized graph; optimize() runs them in order.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "primsel/core/error.hpp"
#include "primsel/graph/graph.hpp"
#include "primsel/graph/shape_inference.hpp"

namespace primsel {

namespace detail {

/// Replaces every use of `from` (node inputs and graph outputs) by `to`.
inline void replace_uses(Graph& g, ValueId from, ValueId to) {
  for (Node& n : g.nodes())
    for (ValueId& v : n.inputs)
      if (v == from) v = to;
  for (ValueId& v : g.outputs())
    if (v == from) v = to;
}

/// Removes the nodes marked dead and finalizes. When a removed node wrote a graph output, the surviving producer's
/// value takes the output's name, so callers see stable output names.
inline Status erase_nodes(Graph& g, const std::vector<bool>& dead) {
  std::vector<Node> kept;
  for (std::size_t i = 0; i < g.nodes().size(); ++i)
    if (!dead[i]) kept.push_back(std::move(g.nodes()[i]));
  g.nodes() = std::move(kept);
  for (ValueId v = 0; g.valid(v); ++v) g.value(v).producer = -1;
  for (std::size_t i = 0; i < g.nodes().size(); ++i)
    for (ValueId o : g.nodes()[i].outputs) g.value(o).producer = static_cast<int>(i);
  return finalize(g);
}

/// The single node reading `v`, or -1 if there are none or several, or `v` is a graph output.
inline int sole_reader(const Graph& g, const std::vector<std::vector<int>>& readers, ValueId v) {
  for (ValueId o : g.outputs())
    if (o == v) return -1;
  const auto& r = readers[static_cast<std::size_t>(v)];
  return r.size() == 1 ? r[0] : -1;
}

/// Moves a removed node's output name onto the value replacing it, if the removed one was a graph output.
inline void keep_output_name(Graph& g, ValueId removed, ValueId replacement) {
  for (ValueId o : g.outputs())
    if (o == removed) {
      g.swap_names(removed, replacement);
      return;
    }
}

}  // namespace detail

/// Folds each BatchNormalization whose input is a Conv output read by nothing else into that Conv:
/// w' = w * k, b' = (b - mean) * k + beta with k = gamma / sqrt(var + eps). Other BatchNorms stay.
inline Status fold_batch_norm(Graph& g) {
  PRIMSEL_CHECK(g.finalized(), ErrorCode::invalid_argument, "fold_batch_norm needs a finalized graph");
  const auto readers = g.consumers();
  std::vector<bool> dead(g.nodes().size(), false);
  for (std::size_t i = 0; i < g.nodes().size(); ++i) {
    Node& bn = g.nodes()[i];
    if (bn.op != OpKind::BatchNormalization) continue;
    const Value& x = g.value(bn.inputs[0]);
    if (x.producer < 0) continue;
    Node& conv = g.nodes()[static_cast<std::size_t>(x.producer)];
    if (conv.op != OpKind::Conv || dead[static_cast<std::size_t>(x.producer)] ||
        detail::sole_reader(g, readers, bn.inputs[0]) != static_cast<int>(i) ||
        !conv.get<ConvParams>().activation.is_none())
      continue;
    bool constant = g.value(conv.inputs[1]).is_constant() &&
                    (conv.input(2) == no_value || g.value(conv.inputs[2]).is_constant());
    for (std::size_t k = 1; k < 5; ++k) constant = constant && g.value(bn.inputs[k]).is_constant();
    if (!constant) continue;
    const auto gamma = g.value(bn.inputs[1]).constant->floats(), beta = g.value(bn.inputs[2]).constant->floats();
    const auto mean = g.value(bn.inputs[3]).constant->floats(), var = g.value(bn.inputs[4]).constant->floats();
    const float eps = bn.get<BatchNormParams>().epsilon;
    // Write new constants (the originals may be shared with other nodes).
    Tensor w = *g.value(conv.inputs[1]).constant;
    const std::int64_t oc = w.shape()[0], per_channel = w.numel() / oc;
    Tensor b({oc});
    if (conv.input(2) != no_value) b = *g.value(conv.inputs[2]).constant;
    for (std::int64_t c = 0; c < oc; ++c) {
      const auto cu = static_cast<std::size_t>(c);
      const double k = static_cast<double>(gamma[cu]) / std::sqrt(static_cast<double>(var[cu]) + eps);
      for (std::int64_t j = 0; j < per_channel; ++j) w.floats()[cu * static_cast<std::size_t>(per_channel) + static_cast<std::size_t>(j)] *= static_cast<float>(k);
      b.floats()[cu] = static_cast<float>((static_cast<double>(b.floats()[cu]) - mean[cu]) * k + beta[cu]);
    }
    const std::string conv_name = conv.name;
    const ValueId new_w = g.add_constant(conv_name + ".weight.folded", std::move(w));
    const ValueId new_b = g.add_constant(conv_name + ".bias.folded", std::move(b));
    Node& c2 = g.nodes()[static_cast<std::size_t>(g.value(g.nodes()[i].inputs[0]).producer)];
    c2.inputs.resize(3);
    c2.inputs[1] = new_w;
    c2.inputs[2] = new_b;
    const ValueId bn_out = g.nodes()[i].outputs[0], conv_out = g.nodes()[i].inputs[0];
    detail::keep_output_name(g, bn_out, conv_out);
    detail::replace_uses(g, bn_out, conv_out);
    dead[i] = true;
  }
  return detail::erase_nodes(g, dead);
}

/// Fuses Relu and Clip into the Conv or Gemm before them when nothing else reads the Conv/Gemm output. Clamps
/// compose, so Conv -> Relu -> Clip(0, 6) becomes one Conv with [0, 6].
inline Status fuse_activations(Graph& g) {
  PRIMSEL_CHECK(g.finalized(), ErrorCode::invalid_argument, "fuse_activations needs a finalized graph");
  const auto readers = g.consumers();
  std::vector<bool> dead(g.nodes().size(), false);
  for (std::size_t i = 0; i < g.nodes().size(); ++i) {
    const Node& act = g.nodes()[i];
    if (act.op != OpKind::Relu && act.op != OpKind::Clip) continue;
    const Activation a = act.op == OpKind::Relu ? Activation::relu()
                                                : Activation{act.get<ClipParams>().min, act.get<ClipParams>().max};
    const ValueId in = act.inputs[0];
    const int p = g.value(in).producer;
    if (p < 0 || detail::sole_reader(g, readers, in) != static_cast<int>(i)) continue;
    Node& prod = g.nodes()[static_cast<std::size_t>(p)];
    Activation* target = prod.op == OpKind::Conv   ? &prod.get<ConvParams>().activation
                         : prod.op == OpKind::Gemm ? &prod.get<GemmParams>().activation
                                                   : nullptr;
    if (!target) continue;
    // clamp(clamp(x, l1, h1), l2, h2) == clamp(x, max(l1, l2), min(h1, h2)) when the ranges overlap.
    const float lo = std::max(target->lo, a.lo), hi = std::min(target->hi, a.hi);
    if (lo > hi) continue;
    *target = Activation{lo, hi};
    const ValueId out = act.outputs[0];
    detail::keep_output_name(g, out, in);
    detail::replace_uses(g, out, in);
    dead[i] = true;
  }
  return detail::erase_nodes(g, dead);
}

/// Removes Dropout and Identity nodes (identities at inference), rewiring their readers.
inline Status drop_identities(Graph& g) {
  PRIMSEL_CHECK(g.finalized(), ErrorCode::invalid_argument, "drop_identities needs a finalized graph");
  std::vector<bool> dead(g.nodes().size(), false);
  for (std::size_t i = 0; i < g.nodes().size(); ++i) {
    const Node& n = g.nodes()[i];
    if (n.op != OpKind::Dropout && n.op != OpKind::Identity) continue;
    const ValueId in = n.inputs[0], out = n.outputs[0];
    if (g.is_input(in) || g.value(in).is_constant()) {
      bool is_output = false;
      for (ValueId o : g.outputs()) is_output = is_output || o == out;
      if (is_output) continue;  // a graph output must stay a computed value
    } else {
      detail::keep_output_name(g, out, in);
    }
    detail::replace_uses(g, out, in);
    dead[i] = true;
  }
  return detail::erase_nodes(g, dead);
}

/// All passes in order: identities first (they hide Conv -> BN pairs), then BN folding, then activation fusion.
inline Status optimize(Graph& g) {
  PRIMSEL_RETURN_IF_ERROR(drop_identities(g));
  PRIMSEL_RETURN_IF_ERROR(fold_batch_norm(g));
  return fuse_activations(g);
}

}  // namespace primsel
