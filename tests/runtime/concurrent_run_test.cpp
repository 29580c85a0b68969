// Thread-safety rules of a bound Network (docs/architecture.md, "Threads"): run(inputs, outputs) uses the
// network's own context and is not reentrant; run(context, ...) only reads the network, so threads may run one
// bound network at once, each with its own RunContext. Run under TSan by the sanitizer build of the test command.
#include <catch2/catch.hpp>

#include <thread>

#include "primsel/runtime/network.hpp"
#include "primsel/search/searchers.hpp"
#include "primsel/zoo/zoo.hpp"
#include "zoo_models.hpp"

using namespace primsel;

namespace {

using testing::quick;  // tests/test_config.hpp

std::vector<Tensor> outputs_of(const Graph& g) {
  std::vector<Tensor> outs;
  for (ValueId v : g.outputs()) outs.emplace_back(g.value(v).shape);
  return outs;
}

std::vector<TensorView> views_of(std::vector<Tensor>& ts) {
  std::vector<TensorView> v;
  for (Tensor& t : ts) v.push_back(t.view());
  return v;
}

bool same(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::equal(a.floats().begin(), a.floats().end(), b.floats().begin());
}

}  // namespace

TEST_CASE("threads running one bound network with their own contexts get the single-threaded result") {
  for (int threads_per_run : {1, 2}) {
    INFO(threads_per_run << " thread(s) per run");
    auto net = Network<Greedy>::create(testing::test_zoo("squeezenet1_1")).value();
    REQUIRE(net.bind({.threads = threads_per_run, .measure = quick}).ok());
    const Graph& g = net.graph();
    const Shape in_shape = g.value(g.inputs()[0]).shape;
    constexpr int callers = 3, runs_each = 4;
    std::vector<Tensor> inputs, expected;
    for (int i = 0; i < callers * runs_each; ++i) {
      inputs.push_back(zoo::random_input(in_shape, 100 + static_cast<std::uint64_t>(i)));
      expected.push_back(net.run(inputs.back()).value()[0]);
    }
    std::vector<RunContext> contexts;
    for (int c = 0; c < callers; ++c) contexts.push_back(net.make_context().value());
    CHECK(contexts[0].threads() == threads_per_run);
    std::vector<std::vector<Tensor>> got(static_cast<std::size_t>(callers * runs_each));
    std::vector<int> failures(callers, 0);
    std::vector<std::thread> workers;
    for (int c = 0; c < callers; ++c)
      workers.emplace_back([&, c] {
        for (int r = 0; r < runs_each; ++r) {
          const std::size_t i = static_cast<std::size_t>(c * runs_each + r);
          got[i] = outputs_of(g);
          std::vector<TensorView> out = views_of(got[i]);
          const ConstTensorView in = inputs[i].view();
          if (!net.run(contexts[static_cast<std::size_t>(c)], std::span<const ConstTensorView>(&in, 1), out).ok())
            ++failures[static_cast<std::size_t>(c)];
        }
      });
    for (std::thread& w : workers) w.join();
    for (int c = 0; c < callers; ++c) CHECK(failures[static_cast<std::size_t>(c)] == 0);
    for (std::size_t i = 0; i < got.size(); ++i) {
      INFO("input " << i);
      CHECK(same(got[i][0], expected[i]));
    }
  }
}

TEST_CASE("a context is refused after a rebind, before binding, and when its memory is too small or misaligned") {
  auto net = Network<Greedy>::create(zoo::build("lenet5").value()).value();
  CHECK_FALSE(net.make_context().ok());  // not bound
  REQUIRE(net.bind({.measure = quick}).ok());
  const Graph& g = net.graph();
  const Tensor x = zoo::random_input(g.value(g.inputs()[0]).shape, 3);
  const ConstTensorView in = x.view();
  std::vector<Tensor> y = outputs_of(g);
  std::vector<TensorView> out = views_of(y);

  RunContext old = net.make_context().value();
  REQUIRE(net.run(old, std::span<const ConstTensorView>(&in, 1), out).ok());
  REQUIRE(net.bind_with<Exact<>>({.measure = quick}).ok());
  const Status stale = net.run(old, std::span<const ConstTensorView>(&in, 1), out);
  REQUIRE_FALSE(stale.ok());
  CHECK_THAT(stale.error().what(), Catch::Contains("an earlier binding"));
  RunContext empty;
  CHECK_THAT(net.run(empty, std::span<const ConstTensorView>(&in, 1), out).error().what(), Catch::Contains("no binding"));

  REQUIRE(net.memory_bytes() > 0);
  std::vector<std::byte> small(net.memory_bytes() / 2);
  auto too_small = net.make_context(1, small);
  REQUIRE_FALSE(too_small.ok());
  CHECK_THAT(too_small.error().what(), Catch::Contains("needs " + std::to_string(net.memory_bytes()) + " bytes"));
  Tensor backing(Shape{static_cast<std::int64_t>(net.memory_bytes() / 4 + 64)});
  CHECK_FALSE(net.make_context(1, std::span<std::byte>(backing.bytes() + 4, net.memory_bytes())).ok());
  CHECK_FALSE(net.make_context(-1).ok());
}

TEST_CASE("the network's own run() can live in the caller's memory (firmware's static arena)") {
  auto probe = Network<Greedy>::create(zoo::build("lenet5").value()).value();
  REQUIRE(probe.bind({.measure = quick}).ok());
  std::vector<std::string_view> names;
  for (const LayerBinding& l : probe.report().layers) names.push_back(l.candidates[static_cast<std::size_t>(l.chosen)]);
  const Tensor x = zoo::random_input({1, 1, 28, 28}, 9);
  const Tensor expected = probe.run(x).value()[0];

  auto net = Network<Greedy>::create(zoo::build("lenet5").value()).value();
  Tensor backing(Shape{static_cast<std::int64_t>(probe.memory_bytes() / 4 + 16)});
  const std::span<std::byte> memory(backing.bytes(), probe.memory_bytes());
  REQUIRE(net.bind_names(names, {.memory = memory}).ok());
  CHECK(net.memory_bytes() == probe.memory_bytes());
  CHECK(same(net.run(x).value()[0], expected));
  // The arena really is the caller's: scribbling over it between runs changes nothing (it is fully rewritten).
  std::fill(backing.floats().begin(), backing.floats().end(), 1e30f);
  CHECK(same(net.run(x).value()[0], expected));

  auto small = Network<Greedy>::create(zoo::build("lenet5").value()).value();
  const Status s = small.bind_names(names, {.memory = memory.first(memory.size() - 64)});
  REQUIRE_FALSE(s.ok());
  CHECK_THAT(s.error().what(), Catch::Contains("bytes of run memory"));
}
