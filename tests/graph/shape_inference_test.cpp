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

namespace {
// Finalizes and returns the error message ("" on success).
std::string finalize_error(Graph& g) {
  Status s = finalize(g);
  return s.ok() ? std::string() : std::string(s.error().what());
}
}  // namespace

TEST_CASE("window_output_size matches ONNX, including ceil_mode") {
  CHECK(window_output_size(224, 7, 2, 3, 3) == 112);
  CHECK(window_output_size(112, 3, 2, 1, 1) == 56);
  CHECK(window_output_size(9, 3, 1, 2, 2, 2) == 9);  // dilation 2: span 5
  CHECK(window_output_size(6, 3, 2, 0, 0, 1, false) == 2);
  CHECK(window_output_size(6, 3, 2, 0, 0, 1, true) == 3);    // squeezenet-style ceil pooling
  CHECK(window_output_size(5, 2, 2, 0, 1, 1, true) == 3);    // last window starts at 4, inside the input
  CHECK(window_output_size(4, 2, 2, 0, 1, 1, true) == 2);    // a window starting in the end padding is dropped
  CHECK(window_output_size(2, 5, 1, 0, 0) == 0);
}

TEST_CASE("shapes of every op kind") {
  Graph g("ops");
  const ValueId x = g.add_input("x", {2, 6, 9, 7});
  const ValueId pool = g.add_node(OpKind::MaxPool, "pool", {x},
                                  PoolParams{.kernel = {3, 3}, .stride = {2, 2}, .ceil_mode = true});
  const ValueId avg = g.add_node(OpKind::AveragePool, "avg", {x}, PoolParams{.kernel = {2, 2}, .stride = {1, 1}, .pads = {1, 0, 0, 0}});
  const ValueId gap = g.add_node(OpKind::GlobalAveragePool, "gap", {x});
  const ValueId pad = g.add_node(OpKind::Pad, "pad", {x}, PadParams{.begin = {0, 0, 1, 2}, .end = {0, 0, 3, 0}});
  const ValueId cat = g.add_node(OpKind::Concat, "cat", {x, x}, AxisParams{1});
  const ValueId flat = g.add_node(OpKind::Flatten, "flat", {gap}, AxisParams{1});
  const ValueId fc_w = g.add_constant("fc.w", Tensor({10, 6}));
  const ValueId fc_b = g.add_constant("fc.b", Tensor({10}));
  const ValueId fc = g.add_node(OpKind::Gemm, "fc", {flat, fc_w, fc_b}, GemmParams{.trans_b = true});
  const ValueId mm_w = g.add_constant("mm.w", Tensor({10, 4}));
  const ValueId mm = g.add_node(OpKind::MatMul, "mm", {fc, mm_w});
  const ValueId sm = g.add_node(OpKind::Softmax, "sm", {mm}, AxisParams{-1});
  const ValueId scale = g.add_node(OpKind::Sigmoid, "sig", {gap});
  const ValueId se = g.add_node(OpKind::Mul, "se", {x, scale});
  const ValueId rs = g.add_node(OpKind::Reshape, "rs", {se}, ReshapeParams{Shape{0, -1, 7}});
  for (ValueId v : {pool, avg, pad, cat, sm, rs}) g.mark_output(v);
  REQUIRE(finalize_error(g).empty());
  CHECK(g.value(pool).shape == Shape{2, 6, 4, 3});
  CHECK(g.value(avg).shape == Shape{2, 6, 9, 6});
  CHECK(g.value(gap).shape == Shape{2, 6, 1, 1});
  CHECK(g.value(pad).shape == Shape{2, 6, 13, 9});
  CHECK(g.value(cat).shape == Shape{2, 12, 9, 7});
  CHECK(g.value(flat).shape == Shape{2, 6});
  CHECK(g.value(fc).shape == Shape{2, 10});
  CHECK(g.value(mm).shape == Shape{2, 4});
  CHECK(g.value(se).shape == Shape{2, 6, 9, 7});
  CHECK(g.value(rs).shape == Shape{2, 54, 7});
}

TEST_CASE("graph structure errors name the node") {
  SECTION("cycle") {
    Graph g("cyc");
    const ValueId x = g.add_input("x", {1, 2});
    const ValueId a = g.add_value("a");
    const ValueId b = g.add_value("b");
    g.add_node_with_outputs(OpKind::Add, "first", {x, b}, {a});
    g.add_node_with_outputs(OpKind::Relu, "second", {a}, {b});
    g.mark_output(b);
    CHECK_THAT(finalize_error(g), Catch::Contains("cycle") && Catch::Contains("'first'"));
  }
  SECTION("dangling input") {
    Graph g("dangle");
    const ValueId x = g.add_input("x", {1, 2});
    const ValueId ghost = g.add_value("ghost");
    g.mark_output(g.add_node(OpKind::Add, "sum", {x, ghost}));
    CHECK_THAT(finalize_error(g), Catch::Contains("'ghost' is not produced") && Catch::Contains("Add 'sum'"));
  }
  SECTION("unknown value id") {
    Graph g("bad id");
    const ValueId x = g.add_input("x", {1, 2});
    g.mark_output(g.add_node(OpKind::Add, "sum", {x, 99}));
    CHECK_THAT(finalize_error(g), Catch::Contains("unknown value") && Catch::Contains("'sum'"));
  }
  SECTION("value written twice") {
    Graph g("twice");
    const ValueId x = g.add_input("x", {1, 2});
    const ValueId y = g.add_value("y");
    g.add_node_with_outputs(OpKind::Relu, "r1", {x}, {y});
    g.add_node_with_outputs(OpKind::Sigmoid, "r2", {x}, {y});
    g.mark_output(y);
    CHECK_THAT(finalize_error(g), Catch::Contains("more than one node"));
  }
  SECTION("no inputs or outputs") {
    Graph g("empty");
    CHECK_THAT(finalize_error(g), Catch::Contains("has no inputs"));
    g.add_input("x", {1});
    CHECK_THAT(finalize_error(g), Catch::Contains("has no outputs"));
  }
  SECTION("negative input shape") {
    Graph g("neg");
    const ValueId x = g.add_input("x", {1, -3});
    g.mark_output(g.add_node(OpKind::Relu, "r", {x}));
    CHECK_THAT(finalize_error(g), Catch::Contains("'x'") && Catch::Contains("negative"));
  }
}

TEST_CASE("inconsistent shapes are rejected with the node and shapes") {
  Graph g("bad");
  const ValueId x = g.add_input("x", {1, 4, 8, 8});
  const ValueId y = g.add_input("y", {1, 3, 8, 8});
  SECTION("add does not broadcast") {
    g.mark_output(g.add_node(OpKind::Add, "res", {x, y}));
    CHECK_THAT(finalize_error(g), Catch::Contains("Add 'res'") && Catch::Contains("1x4x8x8 and 1x3x8x8 do not broadcast"));
  }
  SECTION("concat off-axis mismatch") {
    const ValueId z = g.add_input("z", {1, 3, 8, 9});
    g.mark_output(g.add_node(OpKind::Concat, "cat", {x, z}, AxisParams{1}));
    CHECK_THAT(finalize_error(g), Catch::Contains("Concat 'cat'") && Catch::Contains("outside axis 1"));
  }
  SECTION("gemm inner dimension") {
    const ValueId w = g.add_constant("w", Tensor({5, 7}));
    const ValueId f = g.add_node(OpKind::Flatten, "flat", {x}, AxisParams{1});
    g.mark_output(g.add_node(OpKind::Gemm, "fc", {f, w}, GemmParams{}));
    CHECK_THAT(finalize_error(g), Catch::Contains("Gemm 'fc'") && Catch::Contains("inner dimensions differ: A gives 256, B gives 5"));
  }
  SECTION("reshape element count") {
    g.mark_output(g.add_node(OpKind::Reshape, "rs", {x}, ReshapeParams{Shape{3, -1}}));
    CHECK_THAT(finalize_error(g), Catch::Contains("Reshape 'rs'") && Catch::Contains("cannot infer -1"));
  }
  SECTION("kernel larger than the input") {
    const ValueId w = g.add_constant("w", Tensor({2, 4, 9, 9}));
    g.mark_output(g.add_node(OpKind::Conv, "big", {x, w}, ConvParams{.kernel = {9, 9}}));
    CHECK_THAT(finalize_error(g), Catch::Contains("Conv 'big'") && Catch::Contains("does not fit"));
  }
  SECTION("bias of the wrong size") {
    const ValueId w = g.add_constant("w", Tensor({2, 4, 3, 3}));
    const ValueId b = g.add_constant("b", Tensor({3}));
    g.mark_output(g.add_node(OpKind::Conv, "c", {x, w, b}, ConvParams{.kernel = {3, 3}}));
    CHECK_THAT(finalize_error(g), Catch::Contains("bias must have 2 elements"));
  }
  SECTION("batch norm parameters") {
    const ValueId p = g.add_constant("p", Tensor({3}));
    g.mark_output(g.add_node(OpKind::BatchNormalization, "bn", {x, p, p, p, p}, BatchNormParams{}));
    CHECK_THAT(finalize_error(g), Catch::Contains("BatchNormalization 'bn'") && Catch::Contains("must have 4 elements"));
  }
  SECTION("missing inputs") {
    g.mark_output(g.add_node(OpKind::Conv, "c", {x}, ConvParams{}));
    CHECK_THAT(finalize_error(g), Catch::Contains("Conv 'c'") && Catch::Contains("expects 2 to 3 inputs, got 1"));
  }
  SECTION("wrong rank") {
    const ValueId f = g.add_node(OpKind::Flatten, "flat", {x}, AxisParams{1});
    g.mark_output(g.add_node(OpKind::MaxPool, "pool", {f}, PoolParams{.kernel = {2, 2}}));
    CHECK_THAT(finalize_error(g), Catch::Contains("MaxPool 'pool'") && Catch::Contains("must be 4-D, got 1x256"));
  }
}

TEST_CASE("window and pad sizes beyond 2^31 are refused before they can overflow (found by the ONNX fuzzer)") {
  const std::int64_t huge = std::int64_t{1} << 62;
  const auto one_node = [&](OpKind op, OpParams params, bool weights) {
    Graph g("huge");
    const ValueId x = g.add_input("x", {1, 2, 8, 8});
    std::vector<ValueId> inputs{x};
    if (weights) inputs.push_back(g.add_constant("w", Tensor({2, 2, 1, 1})));
    g.mark_output(g.add_node(op, "n", inputs, params));
    return finalize_error(g);
  };
  CHECK_THAT(one_node(OpKind::Pad, PadParams{.begin = {0, 0, huge, 0}, .end = {0, 0, huge, 0}}, false), Catch::Contains("Pad 'n'") && Catch::Contains("beyond 2^31"));
  CHECK_THAT(one_node(OpKind::Conv, ConvParams{.dilation = {huge, 1}}, true), Catch::Contains("Conv 'n'") && Catch::Contains("beyond 2^31"));
  CHECK_THAT(one_node(OpKind::Conv, ConvParams{.pads = {huge, 0, huge, 0}}, true), Catch::Contains("beyond 2^31"));
  CHECK_THAT(one_node(OpKind::MaxPool, PoolParams{.kernel = {2, 2}, .stride = {huge, 1}}, false), Catch::Contains("MaxPool 'n'") && Catch::Contains("beyond 2^31"));
}
