// The convolution layers of a zoo model as the benchmarks time them: each distinct layer once (by its problem
// string), in network order, after the graph passes (BN folded, activations fused) and with the weights it has.
#pragma once

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "primsel/graph/conv_desc.hpp"
#include "primsel/graph/passes.hpp"
#include "primsel/zoo/zoo.hpp"

namespace primsel::bench {

struct ZooConvLayer {
  std::string model;
  ConvDesc desc;
  Tensor weight, bias;  ///< bias empty when the layer has none
};

/// Distinct conv layers of zoo model `model` for which `keep` holds.
inline std::vector<ZooConvLayer> zoo_conv_layers(const char* model,
                                                 const std::function<bool(const ConvDesc&)>& keep = {}) {
  Graph g = zoo::build(model, {.calibrate = false}).value();
  optimize(g).value();
  std::vector<ZooConvLayer> out;
  std::set<std::string> seen;
  for (const Node& n : g.nodes()) {
    if (n.op != OpKind::Conv) continue;
    const ConvDesc d = conv_desc(g, n);
    if ((keep && !keep(d)) || !seen.insert(to_string(d)).second) continue;
    Tensor bias = n.input(2) != no_value ? *g.value(n.inputs[2]).constant : Tensor();
    out.push_back({model, d, *g.value(n.inputs[1]).constant, std::move(bias)});
  }
  return out;
}

}  // namespace primsel::bench
