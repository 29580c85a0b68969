// After bind(), Network::run(views...) must not allocate: inference on a device with a fixed memory budget (and
// firmware with no heap after start) depends on it. This binary counts operator new while armed
// (counting_allocator.hpp).
#include <catch2/catch.hpp>

#include <limits>
#include <string_view>

#include "counting_allocator.hpp"
#include "primsel/runtime/network.hpp"
#include "primsel/search/searchers.hpp"
#include "primsel/zoo/zoo.hpp"
#include "prefer_int8.hpp"
#include "zoo_models.hpp"

using namespace primsel;
using namespace primsel::testing::counting_allocator;

namespace {

using testing::quick;  // tests/test_config.hpp

/// Allocations made by three runs of `net` into preallocated outputs (the first run included: nothing may be
/// allocated lazily either).
template <class Net>
long allocations_during_runs(Net& net, const Tensor& x, std::vector<Tensor>& outs) {
  std::vector<TensorView> out_views;
  for (Tensor& t : outs) out_views.push_back(t.view());
  const ConstTensorView in = x.view();
  allocations = 0;
  armed = true;
  bool ok = true;
  for (int i = 0; i < 3; ++i) ok = ok && net.run(std::span<const ConstTensorView>(&in, 1), out_views).ok();
  armed = false;
  REQUIRE(ok);
  return allocations.load();
}

}  // namespace

TEST_CASE("the counting allocator sees allocations (the check below can fail)") {
  allocations = 0;
  armed = true;
  auto* v = new std::vector<int>(100);
  armed = false;
  delete v;
  CHECK(allocations.load() >= 2);
}

TEST_CASE("run() after bind() allocates nothing, for every primitive and thread count") {
  for (const char* model :
       testing::sweep({"lenet5", "squeezenet1_1", "mobilenet_v2", "googlenet"}, {"lenet5", "squeezenet1_1", "mobilenet_v2"})) {
    for (int threads : {1, 2}) {
      // Reduced: one thread on lenet5 only (the single-thread path is the same for every model), and 32x32 inputs:
      // whether run() allocates does not depend on the image size, and the native run checks the real sizes.
      if (testing::reduced && threads == 1 && std::string_view(model) != "lenet5") continue;
      INFO(model << ", " << threads << " thread(s)");
      auto net = Network<Greedy>::create(testing::test_zoo(model, {}, 32)).value();
      REQUIRE(net.bind({.threads = threads, .measure = quick}).ok());
      const Graph& g = net.graph();
      const Tensor x = zoo::random_input(g.value(g.inputs()[0]).shape, 5);
      std::vector<Tensor> outs;
      for (ValueId v : g.outputs()) outs.emplace_back(g.value(v).shape);
      CHECK(allocations_during_runs(net, x, outs) == 0);
      // Every primitive the model can use, bound everywhere it applies, on the same measurements.
      DefaultConvPrimitives::for_each([&]<class P>() {
        INFO("every conv on " << P::name << " where it applies");
        REQUIRE(net.template bind_with<Fixed<P>>({.threads = threads, .measure = quick}).ok());
        CHECK(allocations_during_runs(net, x, outs) == 0);
      });
    }
  }
}

TEST_CASE("run() of a mixed-precision binding allocates nothing (quantise, int8 layers, dequantise)") {
  // mobilenet_v2: int8 depthwise (on every target), int8 1x1 where the target has an int8 GEMM, u8 Add.
  for (int threads : testing::sweep({1, 2}, {2})) {
    INFO("mobilenet_v2, " << threads << " thread(s)");
    auto net = Network<testing::PreferInt8>::create(testing::test_zoo("mobilenet_v2", {}, 32)).value();
    const Graph& g = net.graph();
    const Shape input_shape = g.value(g.inputs()[0]).shape;
    const std::vector<Tensor> calibration{zoo::random_input(input_shape, 11), zoo::random_input(input_shape, 12)};
    REQUIRE(net.calibrate(calibration).ok());
    const double no_accuracy_check = std::numeric_limits<double>::infinity();
    REQUIRE(net.bind({.threads = threads, .measure = quick, .precision = Precision::mixed,
                      .accuracy_budget = no_accuracy_check}).ok());
    REQUIRE(net.report().int8_layers > 0);
    REQUIRE(net.report().conversions > 0);
    const Tensor x = zoo::random_input(input_shape, 5);
    std::vector<Tensor> outs;
    for (ValueId v : g.outputs()) outs.emplace_back(g.value(v).shape);
    CHECK(allocations_during_runs(net, x, outs) == 0);
  }
}
