#include <catch2/catch.hpp>

#include <vector>

#include "primsel/graph/shape_inference.hpp"
#include "primsel/runtime/reference_executor.hpp"

using namespace primsel;

namespace {
// x -> conv(1x1, weight 2) -> relu -> add(x) : a residual block on one channel; output = relu(2x) + x.
Graph residual() {
  Graph g("res");
  const ValueId x = g.add_input("x", {1, 1, 2, 2});
  const ValueId w = g.add_constant("w", Tensor::from({1, 1, 1, 1}, std::vector<float>{2}));
  const ValueId c = g.add_node(OpKind::Conv, "conv", {x, w}, ConvParams{});
  const ValueId r = g.add_node(OpKind::Relu, "relu", {c});
  g.mark_output(g.add_node(OpKind::Add, "add", {r, x}));
  g.mark_output(c);  // an intermediate that is also a graph output
  REQUIRE(finalize(g).ok());
  return g;
}
}  // namespace

TEST_CASE("a residual graph runs end to end and returns every output") {
  const Graph g = residual();
  const Tensor x = Tensor::from({1, 1, 2, 2}, std::vector<float>{-1, 0, 1, 2});
  auto out = run_reference(g, std::span<const Tensor>(&x, 1));
  REQUIRE(out.ok());
  REQUIRE(out->size() == 2);
  CHECK(std::vector<float>((*out)[0].floats().begin(), (*out)[0].floats().end()) == std::vector<float>{-1, 0, 3, 6});
  CHECK(std::vector<float>((*out)[1].floats().begin(), (*out)[1].floats().end()) == std::vector<float>{-2, 0, 2, 4});
}

TEST_CASE("the observer sees every node and may rescale outputs") {
  const Graph g = residual();
  const Tensor x = Tensor::from({1, 1, 2, 2}, std::vector<float>{1, 1, 1, 1});
  std::vector<std::size_t> seen;
  auto out = run_reference(g, std::span<const Tensor>(&x, 1), [&](std::size_t n, Tensor& t) -> Status {
    seen.push_back(n);
    if (g.nodes()[n].name == "conv")
      for (float& v : t.floats()) v *= 10;
    return {};
  });
  REQUIRE(out.ok());
  CHECK(seen == std::vector<std::size_t>{0, 1, 2});
  CHECK((*out)[0].floats()[0] == 21.0f);  // relu(2 * 10) + 1
  auto stopped = run_reference(g, std::span<const Tensor>(&x, 1), [](std::size_t, Tensor&) -> Status {
    return Error(ErrorCode::internal, "stop here");
  });
  REQUIRE_FALSE(stopped.ok());
  CHECK_THAT(stopped.error().what(), Catch::Contains("stop here"));
}

TEST_CASE("bad calls to the executor name what is wrong") {
  Graph g = residual();
  SECTION("input shape") {
    const Tensor x({1, 1, 3, 2});
    auto out = run_reference(g, std::span<const Tensor>(&x, 1));
    REQUIRE_FALSE(out.ok());
    CHECK(out.error().code() == ErrorCode::shape_mismatch);
    CHECK_THAT(out.error().what(), Catch::Contains("input 'x' must be 1x1x2x2, got 1x1x3x2"));
  }
  SECTION("input count") {
    auto out = run_reference(g, std::span<const Tensor>{});
    CHECK_THAT(out.error().what(), Catch::Contains("takes 1 input(s), got 0"));
  }
  SECTION("input format") {
    const Tensor x({1, 1, 2, 2}, Format{Layout::nhwc});
    auto out = run_reference(g, std::span<const Tensor>(&x, 1));
    CHECK_THAT(out.error().what(), Catch::Contains("must be nchw/f32, got nhwc/f32"));
  }
  SECTION("unfinalized graph") {
    g.add_node(OpKind::Relu, "late", {g.outputs()[0]});
    const Tensor x({1, 1, 2, 2});
    auto out = run_reference(g, std::span<const Tensor>(&x, 1));
    CHECK_THAT(out.error().what(), Catch::Contains("is not finalized"));
  }
}

TEST_CASE("denormals are flushed during the run and the mode is restored") {
  // 1e-39 is denormal in f32; times 1 through a 1x1 conv it must come out as 0 with FTZ/DAZ on.
  Graph g("tiny");
  const ValueId x = g.add_input("x", {1, 1, 1, 1});
  const ValueId w = g.add_constant("w", Tensor::from({1, 1, 1, 1}, std::vector<float>{1}));
  g.mark_output(g.add_node(OpKind::Conv, "conv", {x, w}, ConvParams{}));
  REQUIRE(finalize(g).ok());
  const Tensor in = Tensor::from({1, 1, 1, 1}, std::vector<float>{1e-39f});
  auto out = run_reference(g, std::span<const Tensor>(&in, 1));
  REQUIRE(out.ok());
  if (ScopedFlushDenormals::supported()) CHECK((*out)[0].floats()[0] == 0.0f);
  volatile float tiny = 1e-39f;
  CHECK(tiny * 1.0f != 0.0f);  // outside the run, denormals are back
}
