// Cutting a finalized graph into contiguous pieces of its node order: what a pipeline stage runs. A cut before
// position k carries every value *live* across it (produced before k, or a graph input, and read at k or later, or
// a graph output), so a piece [first, last) is a graph of its own whose inputs are the live values it reads and
// whose outputs are the values it produces that are live after it. Skip connections that jump over a piece are not
// its inputs: the pipeline forwards them (see runtime/pipeline.hpp).
//
//   std::vector<ValueId> cut = live_values(g, 5);                  // what crosses a cut before node 5
//   Graph head = extract_subgraph(g, 0, 5).value();                // nodes 0..4; outputs = live_values(g, 5) it makes
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

#include "primsel/core/error.hpp"
#include "primsel/graph/graph.hpp"
#include "primsel/graph/shape_inference.hpp"

namespace primsel {

/// The non-constant values crossing a cut before node `k` (0 <= k <= nodes), in ValueId order: produced by a node
/// before k or a graph input, and read by a node at k or later or a graph output. live_values(g, 0) holds the
/// graph inputs that anything reads; live_values(g, n) the graph outputs.
inline std::vector<ValueId> live_values(const Graph& g, std::size_t k) {
  const std::size_t n = g.nodes().size();
  std::vector<char> before(g.values().size(), 0), after(g.values().size(), 0);
  for (ValueId v : g.inputs()) before[static_cast<std::size_t>(v)] = 1;
  for (std::size_t i = 0; i < std::min(k, n); ++i)
    for (ValueId v : g.nodes()[i].outputs) before[static_cast<std::size_t>(v)] = 1;
  for (std::size_t i = k; i < n; ++i)
    for (ValueId v : g.nodes()[i].inputs)
      if (g.valid(v)) after[static_cast<std::size_t>(v)] = 1;
  for (ValueId v : g.outputs()) after[static_cast<std::size_t>(v)] = 1;
  std::vector<ValueId> live;
  for (std::size_t v = 0; v < g.values().size(); ++v)
    if (before[v] && after[v] && !g.values()[v].is_constant()) live.push_back(static_cast<ValueId>(v));
  return live;
}

/// Nodes [first, last) of a finalized graph as a finalized graph named `name` (default "<graph>[first:last]").
/// Inputs: the non-constant values the range reads and does not produce, in order of first read. Outputs: the
/// values it produces that are live after it (live_values(g, last)), in ValueId order. Value and node names are
/// kept, constants copied (only those the range reads), so the piece runs alone and its outputs match the whole.
inline Expected<Graph> extract_subgraph(const Graph& g, std::size_t first, std::size_t last, std::string name = {}) {
  PRIMSEL_CHECK(g.finalized(), ErrorCode::invalid_argument, "graph '" + g.name() + "' must be finalized to cut it");
  PRIMSEL_CHECK(first < last && last <= g.nodes().size(), ErrorCode::invalid_argument,
                "node range [" + std::to_string(first) + ", " + std::to_string(last) + ") is empty or outside the " +
                    std::to_string(g.nodes().size()) + " nodes of '" + g.name() + "'");
  Graph sub(name.empty() ? g.name() + "[" + std::to_string(first) + ":" + std::to_string(last) + "]" : std::move(name));
  std::vector<ValueId> map(g.values().size(), no_value);
  std::vector<char> inside(g.values().size(), 0);
  for (std::size_t i = first; i < last; ++i)
    for (ValueId v : g.nodes()[i].outputs) inside[static_cast<std::size_t>(v)] = 1;
  for (std::size_t i = first; i < last; ++i) {
    const Node& n = g.nodes()[i];
    std::vector<ValueId> ins;
    for (ValueId v : n.inputs) {
      if (!g.valid(v)) {
        ins.push_back(no_value);
        continue;
      }
      ValueId& m = map[static_cast<std::size_t>(v)];
      if (m == no_value) {
        const Value& val = g.value(v);
        if (val.is_constant())
          m = sub.add_constant(val.name, *val.constant);
        else if (!inside[static_cast<std::size_t>(v)])
          m = sub.add_input(val.name, val.shape, val.dtype);
        else  // produced inside: nodes are in topological order, so its producer was added already
          return Error(ErrorCode::internal, "value '" + val.name + "' read before it is produced", g.context_of(n));
      }
      ins.push_back(m);
    }
    std::vector<ValueId> outs;
    for (ValueId v : n.outputs) {
      const Value& val = g.value(v);
      map[static_cast<std::size_t>(v)] = sub.add_value(val.name, val.shape, val.dtype);
      outs.push_back(map[static_cast<std::size_t>(v)]);
    }
    sub.add_node_with_outputs(n.op, n.name, std::move(ins), std::move(outs), n.params);
  }
  for (ValueId v : live_values(g, last))
    if (inside[static_cast<std::size_t>(v)]) sub.mark_output(map[static_cast<std::size_t>(v)]);
  PRIMSEL_CHECK(!sub.outputs().empty(), ErrorCode::invalid_argument,
                "nodes [" + std::to_string(first) + ", " + std::to_string(last) + ") of '" + g.name() +
                    "' produce nothing that is read later");
  PRIMSEL_RETURN_IF_ERROR(finalize(sub));
  return sub;
}

}  // namespace primsel
