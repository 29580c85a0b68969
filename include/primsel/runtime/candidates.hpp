// The ways one graph node can run, type-erased so the network can time, compare and call them alike: every
// convolution primitive of the list whose supports() holds (weights planned once), and for the other ops each
// layout their implementation handles. Ops without a fast implementation run the reference kernel in nchw.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "primsel/graph/conv_desc.hpp"
#include "primsel/graph/graph.hpp"
#include "primsel/primitives/concept.hpp"
#include "primsel/primitives/reference.hpp"

namespace primsel {

/// A planned candidate: inputs are one view per node input (constants included, empty for an omitted optional
/// input); it owns whatever it planned (packed weights).
using Runner = std::function<void(std::span<const ConstTensorView> inputs, TensorView output, const Context& ctx)>;

/// One way to run one node. Every data (non-constant) input is read in `input_layout`; constants as stored.
/// `instantiate` plans it (packs weights): the network plans a candidate to time it, drops it, and plans again
/// only the chosen one, so memory never holds every primitive's weights at once.
struct Candidate {
  std::string name;
  Layout input_layout = Layout::nchw;
  Layout output_layout = Layout::nchw;
  std::size_t workspace_bytes = 0;
  std::function<Expected<Runner>()> instantiate;
};

namespace detail {

template <ConvPrimitive P>
Candidate conv_candidate(const ConvDesc& d, const ConvWeights& w, int threads, ErrorContext ctx) {
  return Candidate{std::string(P::name), P::input_format(d).layout, P::output_format(d).layout,
                   P::workspace_bytes(d, threads), [d, w, ctx]() -> Expected<Runner> {
                     auto plan = P::plan(d, w);
                     if (!plan) return Error(std::move(plan).error()).with_context(ctx);
                     auto shared = std::make_shared<typename P::Plan>(std::move(*plan));
                     return Runner([shared](std::span<const ConstTensorView> in, TensorView out, const Context& c) {
                       P::run(*shared, in[0], out, c);
                     });
                   }};
}

}  // namespace detail

/// The candidates for node `index` of finalized graph `g` (which must outlive them). For a Conv: the supporting
/// primitives of `Primitives`, planned for `threads`; an error when none supports it. Other ops: the reference.
template <class Primitives>
Expected<std::vector<Candidate>> node_candidates(const Graph& g, std::size_t index, int threads) {
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
    Primitives::for_each([&]<class P>() {
      if (P::supports(d)) out.push_back(detail::conv_candidate<P>(d, w, threads, g.context_of(n)));
    });
    PRIMSEL_CHECK(!out.empty(), ErrorCode::unsupported, "no primitive in the list supports " + to_string(d),
                  g.context_of(n));
    return out;
  }
  const Graph* graph = &g;
  out.push_back(Candidate{"reference", Layout::nchw, Layout::nchw, 0, [graph, index]() -> Expected<Runner> {
                            return Runner([graph, index](std::span<const ConstTensorView> in, TensorView y, const Context&) {
                              // Shapes and formats were checked when the network was bound.
                              (void)reference::run_node(*graph, graph->nodes()[index], in, y);
                            });
                          }});
  return out;
}

}  // namespace primsel
