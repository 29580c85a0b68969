#include <catch2/catch.hpp>

#include "primsel/primsel.hpp"

using namespace primsel;

namespace {
Graph conv_graph(Shape x, Shape w, ConvParams p) {
  Graph g("t");
  const ValueId in = g.add_input("x", x);
  const ValueId wt = g.add_constant("w", Tensor(w));
  g.mark_output(g.add_node(OpKind::Conv, "conv", {in, wt}, p));
  return g;
}
}  // namespace

TEST_CASE("conv output shape follows the ONNX formula") {
  Graph g = conv_graph({1, 3, 224, 224}, {64, 3, 7, 7},
                       ConvParams{.kernel = {7, 7}, .stride = {2, 2}, .pads = {3, 3, 3, 3}});
  REQUIRE(finalize(g).ok());
  CHECK(g.value(g.outputs()[0]).shape == Shape{1, 64, 112, 112});
}

TEST_CASE("conv with mismatched channels names the node") {
  Graph g = conv_graph({1, 4, 8, 8}, {8, 3, 3, 3}, ConvParams{.kernel = {3, 3}});
  Status s = finalize(g);
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().code() == ErrorCode::shape_mismatch);
  CHECK_THAT(s.error().what(), Catch::Contains("Conv 'conv'") && Catch::Contains("input has 4 channels"));
}
