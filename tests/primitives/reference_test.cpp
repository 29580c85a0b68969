// Hand-computed cases for every reference op. Each expected value can be checked by hand from the comment.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "primsel/graph/shape_inference.hpp"
#include "primsel/runtime/reference_executor.hpp"

using namespace primsel;

namespace {

std::vector<float> iota(std::int64_t n, float start = 1.0f) {
  std::vector<float> v(static_cast<std::size_t>(n));
  for (auto& x : v) x = start++;
  return v;
}

/// Builds a one-node graph: input x (shape xs), constants for the rest, runs it on `xv`, returns the output.
struct OneNode {
  Graph g{"one"};
  std::vector<ValueId> ins;
  Tensor x;
  OneNode(Shape xs, std::vector<float> xv) : x(Tensor::from(xs, xv)) { ins.push_back(g.add_input("x", xs)); }
  OneNode& constant(Shape s, std::vector<float> v) {
    std::string name = std::to_string(ins.size());  // not "c" + to_string(): GCC 12 -Wrestrict false positive
    ins.push_back(g.add_constant("c" + name, Tensor::from(s, v)));
    return *this;
  }
  OneNode& none() {
    ins.push_back(no_value);
    return *this;
  }
  Tensor run(OpKind op, OpParams params = {}) {
    g.mark_output(g.add_node(op, "node", ins, std::move(params)));
    Status s = finalize(g);
    INFO((s.ok() ? "" : s.error().what()));
    REQUIRE(s.ok());
    auto out = run_reference(g, std::span<const Tensor>(&x, 1));
    INFO((out.ok() ? "" : out.error().what()));
    REQUIRE(out.ok());
    return (*out)[0];
  }
};

std::vector<float> values(const Tensor& t) { return {t.floats().begin(), t.floats().end()}; }

}  // namespace

TEST_CASE("conv: 3x3 input, 2x2 kernel, no padding") {
  // x = [1 2 3; 4 5 6; 7 8 9], w = [1 0; 0 1] -> y = [1+5 2+6; 4+8 5+9] = [6 8; 12 14], + bias 1
  Tensor y = OneNode({1, 1, 3, 3}, iota(9)).constant({1, 1, 2, 2}, {1, 0, 0, 1}).constant({1}, {1}).run(
      OpKind::Conv, ConvParams{.kernel = {2, 2}});
  CHECK(y.shape() == Shape{1, 1, 2, 2});
  CHECK(values(y) == std::vector<float>{7, 9, 13, 15});
}

TEST_CASE("conv: padding, stride and asymmetric pads") {
  // all-ones 3x3 kernel over x = 1..9 with pad 1: corners sum 2x2 blocks, centre sums all (45).
  Tensor y = OneNode({1, 1, 3, 3}, iota(9)).constant({1, 1, 3, 3}, std::vector<float>(9, 1.0f)).run(
      OpKind::Conv, ConvParams{.kernel = {3, 3}, .pads = {1, 1, 1, 1}});
  CHECK(values(y) == std::vector<float>{12, 21, 16, 27, 45, 33, 24, 39, 28});
  // stride 2 keeps the corners of that map: [12 16; 24 28]
  Tensor s = OneNode({1, 1, 3, 3}, iota(9)).constant({1, 1, 3, 3}, std::vector<float>(9, 1.0f)).run(
      OpKind::Conv, ConvParams{.kernel = {3, 3}, .stride = {2, 2}, .pads = {1, 1, 1, 1}});
  CHECK(values(s) == std::vector<float>{12, 16, 24, 28});
  // pad only top and left (1x2 output): windows over rows -1..1 at columns -1..1 and 0..2: 12 and 21
  Tensor a = OneNode({1, 1, 3, 3}, iota(9)).constant({1, 1, 3, 3}, std::vector<float>(9, 1.0f)).run(
      OpKind::Conv, ConvParams{.kernel = {3, 3}, .pads = {1, 1, 0, 0}});
  CHECK(a.shape() == Shape{1, 1, 2, 2});
  CHECK(values(a) == std::vector<float>{12, 21, 27, 45});
}

TEST_CASE("conv: dilation, groups, depthwise, fused clamp") {
  // dilation 2 with a 2x2 ones kernel on 3x3: taps at (0,0),(0,2),(2,0),(2,2) = 1+3+7+9 = 20
  Tensor d = OneNode({1, 1, 3, 3}, iota(9)).constant({1, 1, 2, 2}, {1, 1, 1, 1}).run(
      OpKind::Conv, ConvParams{.kernel = {2, 2}, .dilation = {2, 2}});
  CHECK(values(d) == std::vector<float>{20});
  // 2 groups, 4 input channels (values 1,2,3,4 everywhere on 1x1), 2 outputs, weights [1 1] and [1 -1]:
  // group 0 -> 1+2 = 3, group 1 -> 3-4 = -1
  Tensor g = OneNode({1, 4, 1, 1}, {1, 2, 3, 4}).constant({2, 2, 1, 1}, {1, 1, 1, -1}).run(
      OpKind::Conv, ConvParams{.groups = 2});
  CHECK(values(g) == std::vector<float>{3, -1});
  // depthwise: 2 channels, 1x1 kernels 2 and -3, relu6 clamp: [2*1, 2*2] -> [2, 4]; [-3*3, -3*4] -> [0, 0]
  Tensor dw = OneNode({1, 2, 1, 2}, {1, 2, 3, 4}).constant({2, 1, 1, 1}, {2, -3}).run(
      OpKind::Conv, ConvParams{.groups = 2, .activation = Activation::relu6()});
  CHECK(values(dw) == std::vector<float>{2, 4, 0, 0});
  // batch 2: the second image is the first times 10
  Tensor b = OneNode({2, 1, 1, 2}, {1, 2, 10, 20}).constant({1, 1, 1, 2}, {1, 1}).run(
      OpKind::Conv, ConvParams{.kernel = {1, 2}});
  CHECK(values(b) == std::vector<float>{3, 30});
}

TEST_CASE("max and average pooling") {
  // 4x4 input 1..16, 2x2 stride 2: max = [6 8; 14 16], avg = [3.5 5.5; 11.5 13.5]
  Tensor m = OneNode({1, 1, 4, 4}, iota(16)).run(OpKind::MaxPool, PoolParams{.kernel = {2, 2}, .stride = {2, 2}});
  CHECK(values(m) == std::vector<float>{6, 8, 14, 16});
  Tensor a = OneNode({1, 1, 4, 4}, iota(16)).run(OpKind::AveragePool, PoolParams{.kernel = {2, 2}, .stride = {2, 2}});
  CHECK(values(a) == std::vector<float>{3.5f, 5.5f, 11.5f, 13.5f});
  // 3x3 input 1..9, 2x2 stride 1 with pad 1 top-left: first window covers only x[0][0] = 1.
  // exclude pad: 1/1; include pad: 1/4
  const PoolParams p{.kernel = {2, 2}, .stride = {1, 1}, .pads = {1, 1, 0, 0}};
  Tensor ex = OneNode({1, 1, 3, 3}, iota(9)).run(OpKind::AveragePool, p);
  CHECK(ex.floats()[0] == 1.0f);
  CHECK(ex.floats()[1] == 1.5f);  // (1+2)/2
  PoolParams inc = p;
  inc.count_include_pad = true;
  Tensor in = OneNode({1, 1, 3, 3}, iota(9)).run(OpKind::AveragePool, inc);
  CHECK(in.floats()[0] == 0.25f);
  CHECK(in.floats()[1] == 0.75f);  // (1+2)/4
  // ceil_mode: 3x3 input, 2x2 stride 2 -> 2x2 output, the last windows are clipped: max [5 6; 8 9]
  Tensor c = OneNode({1, 1, 3, 3}, iota(9)).run(OpKind::MaxPool, PoolParams{.kernel = {2, 2}, .stride = {2, 2}, .ceil_mode = true});
  CHECK(values(c) == std::vector<float>{5, 6, 8, 9});
  // ... and averaging the clipped windows divides by what is inside: [3 4.5; 7.5 9]
  Tensor ca = OneNode({1, 1, 3, 3}, iota(9)).run(OpKind::AveragePool, PoolParams{.kernel = {2, 2}, .stride = {2, 2}, .ceil_mode = true});
  CHECK(values(ca) == std::vector<float>{3, 4.5f, 7.5f, 9});
  Tensor g = OneNode({1, 2, 2, 2}, iota(8)).run(OpKind::GlobalAveragePool);
  CHECK(values(g) == std::vector<float>{2.5f, 6.5f});
}

TEST_CASE("gemm and matmul") {
  // A = [1 2 3; 4 5 6], B^T given as [[1 0 1], [0 1 0]] -> A*B = [4 2; 10 5], + C [1 -1] broadcast per row
  Tensor y = OneNode({2, 3}, iota(6)).constant({2, 3}, {1, 0, 1, 0, 1, 0}).constant({2}, {1, -1}).run(
      OpKind::Gemm, GemmParams{.trans_b = true});
  CHECK(values(y) == std::vector<float>{5, 1, 11, 4});
  // alpha 2, beta 0.5, C of shape [2, 1] (per row), relu: 2*[4 2; 10 5] + 0.5*[-20; 2] = [-2 -6; 21 11] -> relu
  Tensor z = OneNode({2, 3}, iota(6)).constant({2, 3}, {1, 0, 1, 0, 1, 0}).constant({2, 1}, {-20, 2}).run(
      OpKind::Gemm, GemmParams{.alpha = 2, .beta = 0.5f, .trans_b = true, .activation = Activation::relu()});
  CHECK(values(z) == std::vector<float>{0, 0, 21, 11});
  // trans_a: A given as [3, 2] = [[1 4], [2 5], [3 6]] is the same A
  Tensor t = OneNode({3, 2}, {1, 4, 2, 5, 3, 6}).constant({3, 2}, {1, 0, 0, 1, 1, 0}).run(
      OpKind::Gemm, GemmParams{.trans_a = true});
  CHECK(values(t) == std::vector<float>{4, 2, 10, 5});
  Tensor m = OneNode({1, 2}, {1, 2}).constant({2, 3}, {1, 2, 3, 4, 5, 6}).run(OpKind::MatMul);
  CHECK(values(m) == std::vector<float>{9, 12, 15});
}

TEST_CASE("element-wise ops") {
  CHECK(values(OneNode({4}, {-2, -0.5f, 0, 3}).run(OpKind::Relu)) == std::vector<float>{0, 0, 0, 3});
  CHECK(values(OneNode({4}, {-2, 1, 6, 9}).run(OpKind::Clip, ClipParams{0, 6})) == std::vector<float>{0, 1, 6, 6});
  Tensor s = OneNode({2}, {0, 2}).run(OpKind::Sigmoid);
  CHECK(s.floats()[0] == 0.5f);
  CHECK(s.floats()[1] == Approx(1.0 / (1.0 + std::exp(-2.0))));
  Tensor nan = OneNode({1}, {std::nanf("")}).run(OpKind::Relu);
  CHECK(std::isnan(nan.floats()[0]));
  // broadcasting: [2,2] + [2] adds per column; [1,2,1,2] * [1,2,1,1] scales per channel (squeeze-excite)
  CHECK(values(OneNode({2, 2}, {1, 2, 3, 4}).constant({2}, {10, 20}).run(OpKind::Add)) ==
        std::vector<float>{11, 22, 13, 24});
  CHECK(values(OneNode({1, 2, 1, 2}, {1, 2, 3, 4}).constant({1, 2, 1, 1}, {2, -1}).run(OpKind::Mul)) ==
        std::vector<float>{2, 4, -3, -4});
  // both sides broadcast: [2,1] + [1,3] -> [2,3]
  CHECK(values(OneNode({2, 1}, {1, 2}).constant({1, 3}, {10, 20, 30}).run(OpKind::Add)) ==
        std::vector<float>{11, 21, 31, 12, 22, 32});
  // batch norm: scale 2, bias 1, mean 3, var 4 - eps: (x - 3) / 2 * 2 + 1 = x - 2
  Tensor bn = OneNode({1, 1, 1, 2}, {3, 7}).constant({1}, {2}).constant({1}, {1}).constant({1}, {3}).constant({1}, {4 - 1e-5f}).run(
      OpKind::BatchNormalization, BatchNormParams{});
  CHECK(bn.floats()[0] == Approx(1.0f));
  CHECK(bn.floats()[1] == Approx(5.0f));
}

TEST_CASE("data movement ops") {
  // concat on axis 1 of [1,1,2] and [1,2,2]; and on the last axis
  CHECK(values(OneNode({1, 1, 2}, {1, 2}).constant({1, 2, 2}, {3, 4, 5, 6}).run(OpKind::Concat, AxisParams{1})) ==
        std::vector<float>{1, 2, 3, 4, 5, 6});
  CHECK(values(OneNode({2, 1}, {1, 2}).constant({2, 2}, {3, 4, 5, 6}).run(OpKind::Concat, AxisParams{-1})) ==
        std::vector<float>{1, 3, 4, 2, 5, 6});
  // softmax over axis 0 of [2,1] with equal logits -> 0.5 each; large logits stay finite
  CHECK(values(OneNode({2, 1}, {1000, 1000}).run(OpKind::Softmax, AxisParams{0})) == std::vector<float>{0.5f, 0.5f});
  Tensor sm = OneNode({1, 3}, {0, std::log(2.0f), std::log(5.0f)}).run(OpKind::Softmax, AxisParams{1});
  CHECK(sm.floats()[0] == Approx(1.0 / 8));
  CHECK(sm.floats()[2] == Approx(5.0 / 8));
  // pad W of [1 2 3] by 2 before and 1 after
  auto pad = [](PadMode mode) {
    return values(OneNode({1, 1, 1, 3}, {1, 2, 3}).run(OpKind::Pad, PadParams{.begin = {0, 0, 0, 2}, .end = {0, 0, 0, 1}, .mode = mode, .value = -1}));
  };
  CHECK(pad(PadMode::constant) == std::vector<float>{-1, -1, 1, 2, 3, -1});
  CHECK(pad(PadMode::edge) == std::vector<float>{1, 1, 1, 2, 3, 3});
  CHECK(pad(PadMode::reflect) == std::vector<float>{3, 2, 1, 2, 3, 2});
  Tensor f = OneNode({1, 2, 1, 2}, iota(4)).run(OpKind::Flatten, AxisParams{1});
  CHECK(f.shape() == Shape{1, 4});
  CHECK(values(f) == iota(4));
  CHECK(values(OneNode({1, 4}, iota(4)).run(OpKind::Dropout)) == iota(4));
  CHECK(OneNode({1, 4}, iota(4)).run(OpKind::Reshape, ReshapeParams{Shape{2, -1}}).shape() == Shape{2, 2});
}

TEST_CASE("run_node rejects views that disagree with the graph") {
  Graph g("t");
  const ValueId x = g.add_input("x", {1, 2, 3, 3});
  g.mark_output(g.add_node(OpKind::Relu, "act", {x}));
  REQUIRE(finalize(g).ok());
  Tensor wrong({1, 2, 3, 4});
  Tensor out({1, 2, 3, 3});
  const ConstTensorView in[] = {wrong.view()};
  Status s = reference::run_node(g, g.nodes()[0], in, out.view());
  REQUIRE_FALSE(s.ok());
  CHECK_THAT(s.error().what(), Catch::Contains("Relu 'act'") && Catch::Contains("input 'x' is 1x2x3x4, the graph says 1x2x3x3"));
  Tensor blocked({1, 2, 3, 3}, Format{Layout::nchw8c});
  const ConstTensorView in2[] = {blocked.view()};
  s = reference::run_node(g, g.nodes()[0], in2, out.view());
  REQUIRE_FALSE(s.ok());
  CHECK_THAT(s.error().what(), Catch::Contains("nchw8c/f32; the reference runs nchw/f32"));
  s = reference::run_node(g, g.nodes()[0], {}, out.view());
  CHECK_THAT(s.error().what(), Catch::Contains("got 0 input views for 1 inputs"));
}
