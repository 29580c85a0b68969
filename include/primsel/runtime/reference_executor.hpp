// Runs a whole graph on the reference ops: the end-to-end oracle for every bound network and the
// dependency-free baseline latency. Intermediate tensors are freed after their last reader.
//
//   Expected<std::vector<Tensor>> out = run_reference(graph, {input});
#pragma once

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "primsel/core/denormals.hpp"
#include "primsel/core/error.hpp"
#include "primsel/core/tensor.hpp"
#include "primsel/graph/graph.hpp"
#include "primsel/primitives/reference.hpp"

namespace primsel {

/// Called after each node with the node's index and its output; may modify the output (calibration does) and
/// may stop the run by returning an error.
using NodeObserver = std::function<Status(std::size_t node_index, Tensor& output)>;

/// Runs finalized graph `g` on `inputs` (one per graph input, in order, nchw/f32); returns the graph outputs in
/// g.outputs() order. Denormals are flushed to zero during the run where the CPU supports it.
inline Expected<std::vector<Tensor>> run_reference(const Graph& g, std::span<const Tensor> inputs,
                                                   const NodeObserver& observe = {}) {
  PRIMSEL_CHECK(g.finalized(), ErrorCode::invalid_argument,
                "graph '" + g.name() + "' is not finalized: call finalize(graph) first");
  PRIMSEL_CHECK(inputs.size() == g.inputs().size(), ErrorCode::invalid_argument,
                "graph '" + g.name() + "' takes " + std::to_string(g.inputs().size()) + " input(s), got " +
                    std::to_string(inputs.size()));
  std::vector<std::optional<Tensor>> live(g.values().size());
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const Value& v = g.value(g.inputs()[i]);
    PRIMSEL_CHECK(inputs[i].shape() == v.shape, ErrorCode::shape_mismatch,
                  "input '" + v.name + "' must be " + to_string(v.shape) + ", got " + to_string(inputs[i].shape()));
    PRIMSEL_CHECK(inputs[i].format() == Format{}, ErrorCode::unsupported,
                  "input '" + v.name + "' must be nchw/f32, got " + to_string(inputs[i].format()));
  }
  // Last reader of each value, so intermediates die as early as possible; graph outputs never die.
  std::vector<int> last_use(g.values().size(), -1);
  for (std::size_t n = 0; n < g.nodes().size(); ++n)
    for (ValueId v : g.nodes()[n].inputs)
      if (v != no_value) last_use[static_cast<std::size_t>(v)] = static_cast<int>(n);
  for (ValueId v : g.outputs()) last_use[static_cast<std::size_t>(v)] = static_cast<int>(g.nodes().size());

  auto view_of = [&](ValueId id) -> ConstTensorView {
    const Value& v = g.value(id);
    if (v.is_constant()) return v.constant->view();
    if (g.is_input(id))
      for (std::size_t i = 0; i < inputs.size(); ++i)
        if (g.inputs()[i] == id) return inputs[i].view();
    return live[static_cast<std::size_t>(id)]->view();
  };

  ScopedFlushDenormals flush;
  std::vector<ConstTensorView> views;
  for (std::size_t n = 0; n < g.nodes().size(); ++n) {
    const Node& node = g.nodes()[n];
    views.clear();
    for (ValueId v : node.inputs) views.push_back(v == no_value ? ConstTensorView{} : view_of(v));
    const ValueId out_id = node.outputs[0];
    PRIMSEL_ASSIGN_OR_RETURN(Tensor out, Tensor::create(g.value(out_id).shape));
    PRIMSEL_RETURN_IF_ERROR(reference::run_node(g, node, views, out.view()));
    if (observe) PRIMSEL_RETURN_IF_ERROR(observe(n, out));
    live[static_cast<std::size_t>(out_id)] = std::move(out);
    for (ValueId v : node.inputs)
      if (v != no_value && last_use[static_cast<std::size_t>(v)] == static_cast<int>(n) && !g.value(v).is_constant())
        live[static_cast<std::size_t>(v)].reset();
    // An output nobody reads (and that is not a graph output) dies at once.
    if (last_use[static_cast<std::size_t>(out_id)] < 0) live[static_cast<std::size_t>(out_id)].reset();
  }
  std::vector<Tensor> results;
  for (ValueId v : g.outputs()) {
    if (live[static_cast<std::size_t>(v)]) {
      results.push_back(*live[static_cast<std::size_t>(v)]);
    } else {  // a graph output that is an input or constant
      const ConstTensorView src = view_of(v);
      Tensor t(src.shape());
      reference::copy(src, t.view());
      results.push_back(std::move(t));
    }
  }
  return results;
}

/// Single-input convenience: `run_reference(graph, image)`.
inline Expected<std::vector<Tensor>> run_reference(const Graph& g, const Tensor& input, const NodeObserver& observe = {}) {
  return run_reference(g, std::span<const Tensor>(&input, 1), observe);
}

}  // namespace primsel
