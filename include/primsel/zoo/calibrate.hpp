// Weight calibration for synthetic (pseudo-random) weights: one forward pass on a seeded random input rescales
// each Conv and Gemm so its output has unit standard deviation, as BatchNorm statistics would. Without it, the
// activations of deep nets drift towards 1e-9 or 1e+9 by the last layer: outputs become meaningless for
// correctness checks, and denormals distort timings.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "primsel/core/random.hpp"
#include "primsel/graph/graph.hpp"
#include "primsel/runtime/reference_executor.hpp"

namespace primsel::zoo {

/// A tensor of the given shape filled with standard normal values from `seed`.
inline Tensor random_input(const Shape& shape, std::uint64_t seed) {
  Tensor t(shape);
  Rng rng(seed);
  for (float& v : t.floats()) v = static_cast<float>(rng.normal());
  return t;
}

/// Rescales every Conv and Gemm of finalized graph `g` in place (see the header comment).
inline Status calibrate(Graph& g, std::uint64_t seed = 1) {
  std::vector<Tensor> inputs;
  for (ValueId v : g.inputs()) inputs.push_back(random_input(g.value(v).shape, seed + inputs.size()));
  auto scaled = run_reference(g, inputs, [&g](std::size_t index, Tensor& out) -> Status {
    const Node& n = g.nodes()[index];
    if (n.op != OpKind::Conv && n.op != OpKind::Gemm) return {};
    double sum = 0, sum_sq = 0;
    for (float v : out.floats()) sum += v, sum_sq += static_cast<double>(v) * v;
    const double count = static_cast<double>(out.numel());
    const double var = sum_sq / count - (sum / count) * (sum / count);
    if (!(var > 1e-30)) return {};  // constant output: nothing sensible to scale by
    const auto k = static_cast<float>(1.0 / std::sqrt(var));
    for (std::size_t i = 1; i < n.inputs.size(); ++i)  // weight and bias
      if (n.inputs[i] != no_value && g.value(n.inputs[i]).is_constant())
        for (float& w : g.value(n.inputs[i]).constant->floats()) w *= k;
    for (float& v : out.floats()) v *= k;
    return {};
  });
  return scaled.status();
}

}  // namespace primsel::zoo
