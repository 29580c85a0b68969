// Zoo models as the whole-network tests use them. `zoo_at(name, hw)` is a zoo model on a smaller input (the same
// layers, the classifier's weight cut to the features that remain), so binding and running it takes milliseconds;
// `test_zoo(name)` is the model at its real input size, or at 64x64 in a reduced run (test_config.hpp).
#pragma once

#include <catch2/catch.hpp>

#include <cstdint>
#include <string_view>

#include "primsel/graph/shape_inference.hpp"
#include "primsel/zoo/zoo.hpp"
#include "test_config.hpp"

namespace primsel::testing {

/// Zoo model `name` with inputs of 224x224 or more cut to hw x hw (smaller ones, LeNet-5's 28x28, stay). Weights are
/// calibrated on the cut input when options.calibrate is set.
inline Graph zoo_at(std::string_view name, std::int64_t hw, zoo::ZooOptions options = {}) {
  Graph g = zoo::build(name, {.seed = options.seed, .calibrate = false}).value();
  Shape in = g.value(g.inputs()[0]).shape;
  if (in[2] >= 224) in = Shape{1, in[1], hw, hw};
  g.value(g.inputs()[0]).shape = in;
  for (const Node& n : g.nodes()) {
    if (n.op == OpKind::Gemm) {  // vgg16's classifier reads 512 x 7 x 7 features at 224 x 224; fewer remain
      const std::int64_t features = g.value(n.inputs[0]).shape[1];
      const Value& w = g.value(n.inputs[1]);
      if (w.shape[1] != features) {
        Tensor cut(Shape{w.shape[0], features});
        for (std::int64_t o = 0; o < w.shape[0]; ++o)
          for (std::int64_t i = 0; i < features; ++i)
            cut.floats()[static_cast<std::size_t>(o * features + i)] =
                w.constant->floats()[static_cast<std::size_t>(o * w.shape[1] + i)];
        g.value(n.inputs[1]).constant = std::move(cut);
        g.value(n.inputs[1]).shape = Shape{w.shape[0], features};
      }
    }
    g.value(n.outputs[0]).shape = detail::infer_node(g, n).value();
  }
  REQUIRE(finalize(g).ok());
  if (options.calibrate) REQUIRE(zoo::calibrate(g, options.seed + 1).ok());
  return g;
}

/// Input size of the whole-network tests' zoo models in a reduced run: 12x less work than 224x224, and the deepest
/// layers of every model keep a spatial extent of 2x2 or more.
inline constexpr std::int64_t reduced_zoo_hw = 64;

/// zoo::build(name, options), or in a reduced run the same model at reduced_hw x reduced_hw (64 unless a test whose
/// check does not depend on image size asks for less).
inline Graph test_zoo(std::string_view name, zoo::ZooOptions options = {}, std::int64_t reduced_hw = reduced_zoo_hw) {
  if (reduced) return zoo_at(name, reduced_hw, options);
  return zoo::build(name, options).value();
}

}  // namespace primsel::testing
