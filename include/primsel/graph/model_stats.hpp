// Model statistics: multiply-accumulates and parameters, counted the way published figures count them: MACs of
// Conv and Gemm/MatMul only; parameters are the elements of constants, except BatchNorm's running statistics.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "primsel/graph/graph.hpp"

namespace primsel {

struct NodeStats {
  std::string name;
  OpKind op;
  std::int64_t macs = 0;
  std::int64_t params = 0;  ///< elements of the constants this node reads
};

struct ModelStats {
  std::int64_t macs = 0;
  std::int64_t params = 0;
  std::vector<NodeStats> nodes;
};

/// Statistics of a finalized graph.
inline ModelStats stats(const Graph& g) {
  ModelStats s;
  std::vector<bool> counted(g.values().size(), false);
  for (const Node& n : g.nodes()) {
    NodeStats ns{n.name, n.op};
    const Shape& out = g.value(n.outputs[0]).shape;
    if (n.op == OpKind::Conv) {
      const Shape& w = g.value(n.inputs[1]).shape;  // [OC, IC/g, KH, KW]: each output element costs IC/g*KH*KW
      ns.macs = out.numel() * w[1] * w[2] * w[3];
    } else if (n.op == OpKind::Gemm || n.op == OpKind::MatMul) {
      const Shape& a = g.value(n.inputs[0]).shape;
      const bool trans_a = n.op == OpKind::Gemm && n.get<GemmParams>().trans_a;
      ns.macs = out.numel() * (trans_a ? a[0] : a[1]);
    }
    for (std::size_t i = 0; i < n.inputs.size(); ++i) {
      const ValueId v = n.inputs[i];
      if (v == no_value || !g.value(v).is_constant()) continue;
      // BatchNorm's running mean and variance are buffers, not parameters (as torchvision counts).
      if (n.op == OpKind::BatchNormalization && i >= 3) continue;
      ns.params += g.value(v).shape.numel();
      if (!counted[static_cast<std::size_t>(v)]) s.params += g.value(v).shape.numel();
      counted[static_cast<std::size_t>(v)] = true;
    }
    s.macs += ns.macs;
    s.nodes.push_back(std::move(ns));
  }
  return s;
}

}  // namespace primsel
