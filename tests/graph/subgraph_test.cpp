// Cutting a graph: the live set at a cut carries skip connections, and the pieces run in sequence equal the whole
// graph bit for bit (the reference executor on each piece, fed by the pieces before it).
#include <catch2/catch.hpp>

#include <map>

#include "primsel/graph/builder.hpp"
#include "primsel/graph/subgraph.hpp"
#include "primsel/runtime/reference_executor.hpp"
#include "primsel/zoo/calibrate.hpp"

using namespace primsel;

namespace {

/// conv -> relu -> (conv -> add with the relu's output) -> gap -> fc: a residual block, so cuts inside it carry
/// two values.
Graph residual() {
  GraphBuilder b("residual", 3);
  ValueId x = b.input("input", {1, 3, 8, 8});
  ValueId a = b.relu(b.conv(x, {.out_channels = 8, .kernel = 3, .pad = 1}, "conv1"), "relu1");
  ValueId c = b.conv(a, {.out_channels = 8, .kernel = 3, .pad = 1}, "conv2");
  ValueId s = b.add(c, a, "add");
  b.output(b.linear(b.flatten(b.global_avg_pool(s, "gap"), "flatten"), 4, "fc"));
  return std::move(b).build().value();
}

std::vector<std::string> names(const Graph& g, const std::vector<ValueId>& vs) {
  std::vector<std::string> out;
  for (ValueId v : vs) out.push_back(g.value(v).name);
  return out;
}

}  // namespace

TEST_CASE("the live set at a cut holds every value that crosses it, skip connections included") {
  const Graph g = residual();
  REQUIRE(g.nodes().size() == 7);  // conv1 relu1 conv2 add gap flatten fc
  CHECK(names(g, live_values(g, 0)) == std::vector<std::string>{"input"});
  CHECK(names(g, live_values(g, 2)) == std::vector<std::string>{"relu1"});
  CHECK(names(g, live_values(g, 3)) == std::vector<std::string>{"relu1", "conv2"});
  CHECK(names(g, live_values(g, 7)) == std::vector<std::string>{"fc"});
}

TEST_CASE("pieces of a graph, run one after another, equal the whole graph exactly") {
  const Graph g = residual();
  const Tensor x = zoo::random_input({1, 3, 8, 8}, 1);
  const Tensor whole = run_reference(g, x).value()[0];
  for (std::size_t cut1 = 1; cut1 < g.nodes().size(); ++cut1)
    for (std::size_t cut2 = cut1 + 1; cut2 < g.nodes().size(); ++cut2) {
      INFO("cuts at " << cut1 << " and " << cut2);
      std::map<std::string, Tensor> values{{"input", x}};
      const std::size_t bounds[] = {0, cut1, cut2, g.nodes().size()};
      for (int s = 0; s < 3; ++s) {
        auto piece = extract_subgraph(g, bounds[s], bounds[s + 1]);
        REQUIRE(piece.ok());
        std::vector<Tensor> ins;
        for (ValueId v : piece->inputs()) ins.push_back(values.at(piece->value(v).name));
        auto outs = run_reference(*piece, ins);
        REQUIRE(outs.ok());
        CHECK(names(*piece, piece->outputs()) == names(g, [&] {  // what it hands on is what is live after it
                std::vector<ValueId> produced;
                for (ValueId v : live_values(g, bounds[s + 1]))
                  if (g.value(v).producer >= static_cast<int>(bounds[s])) produced.push_back(v);
                return produced;
              }()));
        for (std::size_t k = 0; k < outs->size(); ++k) values[piece->value(piece->outputs()[k]).name] = (*outs)[k];
      }
      const Tensor& got = values.at("fc");
      REQUIRE(got.shape() == whole.shape());
      CHECK(std::equal(got.floats().begin(), got.floats().end(), whole.floats().begin()));
    }
}

TEST_CASE("a bad range is refused with the graph's name") {
  const Graph g = residual();
  auto empty = extract_subgraph(g, 3, 3);
  REQUIRE(!empty.ok());
  CHECK(std::string(empty.error().what()).find("'residual'") != std::string::npos);
  CHECK(!extract_subgraph(g, 0, 8).ok());
}
