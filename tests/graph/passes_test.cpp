#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "primsel/graph/builder.hpp"
#include "primsel/graph/passes.hpp"
#include "primsel/runtime/reference_executor.hpp"
#include "primsel/zoo/zoo.hpp"
#include "zoo_models.hpp"

using namespace primsel;

namespace {
int count(const Graph& g, OpKind op) {
  int n = 0;
  for (const Node& node : g.nodes()) n += node.op == op;
  return n;
}

// Largest |a - b| relative to max |a|.
double relative_error(const Tensor& a, const Tensor& b) {
  double diff = 0, scale = 1e-30;
  for (std::size_t i = 0; i < a.floats().size(); ++i) {
    diff = std::max(diff, std::abs(static_cast<double>(a.floats()[i]) - b.floats()[i]));
    scale = std::max(scale, std::abs(static_cast<double>(a.floats()[i])));
  }
  return diff / scale;
}

// Sets BN statistics to something other than identity, so folding has real work to do.
void randomize_bn(Graph& g) {
  Rng rng(5);
  for (const Node& n : g.nodes()) {
    if (n.op != OpKind::BatchNormalization) continue;
    for (std::size_t k = 1; k < 5; ++k)
      for (float& v : g.value(n.inputs[k]).constant->floats())
        v = static_cast<float>(k == 4 ? rng.uniform(0.5, 2.0) : rng.uniform(-0.5, 0.5) + (k == 1 ? 1.0 : 0.0));
  }
}
}  // namespace

// Folding reorders float operations (w*k summed vs. summed then scaled): agreement to a few ulps of the output's
// magnitude per layer, compounding over depth, so 1e-4 relative is a generous but meaningful bound.
constexpr double fold_tolerance = 1e-4;

TEST_CASE("optimize folds BN, fuses activations, drops dropout, and keeps the output") {
  GraphBuilder b("block", 3);
  ValueId x = b.input("x", {1, 3, 9, 7});
  ValueId y = b.relu(b.batch_norm(b.conv(x, {.out_channels = 8, .kernel = 3, .pad = 1, .bias = false}, "c1"), "bn1"));
  y = b.relu6(b.batch_norm(b.conv(y, {.out_channels = 8, .kernel = 3, .pad = 1}, "c2"), "bn2"));
  y = b.dropout(y, "drop");
  y = b.linear(b.flatten(b.global_avg_pool(y)), 4, "fc");
  b.output(b.relu(y, "out"));
  auto g = std::move(b).build();
  REQUIRE(g.ok());
  randomize_bn(*g);
  const Tensor in = zoo::random_input({1, 3, 9, 7}, 1);
  const Tensor before = run_reference(*g, in).value()[0];
  Graph opt = *g;
  REQUIRE(optimize(opt).ok());
  CHECK(count(opt, OpKind::BatchNormalization) == 0);
  CHECK(count(opt, OpKind::Relu) == 0);
  CHECK(count(opt, OpKind::Clip) == 0);
  CHECK(count(opt, OpKind::Dropout) == 0);
  CHECK(opt.nodes().size() == 5);  // conv, conv, gap, flatten, gemm
  CHECK(opt.value(opt.outputs()[0]).name == "out");
  CHECK(opt.nodes()[1].get<ConvParams>().activation == Activation::relu6());
  CHECK(opt.nodes().back().get<GemmParams>().activation == Activation::relu());
  const Tensor after = run_reference(opt, in).value()[0];
  CHECK(relative_error(before, after) < fold_tolerance);
}

TEST_CASE("a BN or activation whose input has other readers stays") {
  GraphBuilder b("shared", 3);
  ValueId x = b.input("x", {1, 4, 5, 5});
  ValueId c = b.conv(x, {.out_channels = 4, .kernel = 1}, "c");
  ValueId bn = b.batch_norm(c, "bn");
  ValueId r = b.relu(c, "r");  // c has two readers
  b.output(b.add(bn, r, "sum"));
  auto g = std::move(b).build();
  REQUIRE(g.ok());
  REQUIRE(optimize(*g).ok());
  CHECK(count(*g, OpKind::BatchNormalization) == 1);
  CHECK(count(*g, OpKind::Relu) == 1);
}

TEST_CASE("a Relu after an Add is not fused into a conv") {
  GraphBuilder b("res", 3);
  ValueId x = b.input("x", {1, 4, 5, 5});
  ValueId c = b.conv(x, {.out_channels = 4, .kernel = 3, .pad = 1}, "c");
  b.output(b.relu(b.add(c, x, "add"), "relu"));
  auto g = std::move(b).build();
  REQUIRE(g.ok());
  REQUIRE(fuse_activations(*g).ok());
  CHECK(count(*g, OpKind::Relu) == 1);
  CHECK(g->nodes()[0].get<ConvParams>().activation.is_none());
}

TEST_CASE("passes need a finalized graph") {
  Graph g("raw");
  const ValueId x = g.add_input("x", {1, 2});
  g.mark_output(g.add_node(OpKind::Relu, "r", {x}));
  CHECK_THAT(optimize(g).error().what(), Catch::Contains("needs a finalized graph"));
}

TEST_CASE("optimized zoo models compute what the originals compute") {
  for (const char* name : testing::sweep({"resnet18", "mobilenet_v2", "googlenet", "squeezenet1_1"},
                                         {"mobilenet_v2", "squeezenet1_1"})) {
    INFO(name);
    Graph g = testing::test_zoo(name, {.calibrate = false});
    randomize_bn(g);
    REQUIRE(zoo::calibrate(g).ok());
    const Tensor in = zoo::random_input(g.value(g.inputs()[0]).shape, 7);
    const Tensor before = run_reference(g, in).value()[0];
    Graph opt = g;
    REQUIRE(optimize(opt).ok());
    CHECK(count(opt, OpKind::BatchNormalization) == 0);
    CHECK(count(opt, OpKind::Dropout) == 0);
    CHECK(relative_error(before, run_reference(opt, in).value()[0]) < fold_tolerance);
  }
}
