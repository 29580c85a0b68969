// Pipeline: outputs in submission order whatever the stages' speeds, back-pressure at `depth`, shutdown with
// inputs in flight, a stage's error (or exception) delivered with the input that caused it, and for every zoo
// model the pipelined output equal to the whole network's bit for bit (each stage bound to the same primitives).
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cmath>
#include <stdexcept>
#include <thread>

#include "primsel/runtime/pipeline.hpp"
#include "primsel/search/searchers.hpp"
#include "primsel/zoo/zoo.hpp"
#include "zoo_models.hpp"

using namespace primsel;
using namespace std::chrono_literals;

namespace {

const Shape small{1, 2, 3, 3};

/// A stage worker computing out = in * mul + add, after `delay` (an input's first element may make it fail).
StageWorker affine(float mul, float add, std::chrono::microseconds delay = {}, float fail_on = -1, float throw_on = -1) {
  return {{}, [=] {
            return Expected<StageFn>(StageFn([=](std::span<const ConstTensorView> in, std::span<const TensorView> out) -> Status {
              std::this_thread::sleep_for(delay);
              const float* x = in[0].data<float>();
              PRIMSEL_CHECK(x[0] != fail_on, ErrorCode::unsupported, "cannot take " + std::to_string(x[0]));
              if (x[0] == throw_on) throw std::runtime_error("boom");
              for (std::int64_t i = 0; i < in[0].shape().numel(); ++i) out[0].data<float>()[i] = x[i] * mul + add;
              return {};
            }));
          }};
}

/// x -> stage 0 -> y -> stage 1 -> z, with the given workers per stage.
PipelineSpec two_stages(std::vector<StageWorker> first, std::vector<StageWorker> second) {
  PipelineSpec spec{{"x", "y", "z"}, {small, small, small}, {0}, {2}, {}};
  spec.stages.push_back({"stage 0", {0}, {1}, std::move(first)});
  spec.stages.push_back({"stage 1", {1}, {2}, std::move(second)});
  return spec;
}

Tensor filled(float v) {
  Tensor t(small);
  for (float& f : t.floats()) f = v;
  return t;
}

}  // namespace

TEST_CASE("outputs come back in submission order, through replicas of uneven speed") {
  // Stage 0: three replicas, the middle one slow; stage 1: two. Input i is i, output 2 * (i + 1).
  auto p = Pipeline::create(two_stages({affine(1, 1), affine(1, 1, 3ms), affine(1, 1)}, {affine(2, 0, 1ms), affine(2, 0)}),
                            {.depth = 6});
  REQUIRE(p.ok());
  constexpr int n = 40;
  int ids_in_order = 0;  // Catch2 assertions stay on the main thread
  std::thread producer([&] {
    for (int i = 0; i < n; ++i) {
      auto id = p->submit(filled(static_cast<float>(i)));
      ids_in_order += id.ok() && *id == static_cast<std::uint64_t>(i);
    }
    p->close();
  });
  Tensor y(small);
  const TensorView yv = y.view();
  for (int i = 0; i < n; ++i) {
    auto c = p->receive(std::span<const TensorView>(&yv, 1));
    REQUIRE(c.ok());
    CHECK(c->id == static_cast<std::uint64_t>(i));
    CHECK(c->status.ok());
    CHECK(y.floats()[5] == 2.0f * static_cast<float>(i + 1));
  }
  producer.join();
  CHECK(ids_in_order == n);
  auto drained = p->receive(std::span<const TensorView>(&yv, 1));
  REQUIRE(!drained.ok());
  CHECK(std::string(drained.error().what()).find("closed and drained") != std::string::npos);
  CHECK(!p->submit(filled(0)).ok());  // closed
}

TEST_CASE("submit blocks while `depth` inputs are in flight and resumes when one is received") {
  std::atomic<bool> open{false};
  StageWorker gate{{}, [&] {
                     return Expected<StageFn>(StageFn([&](std::span<const ConstTensorView> in, std::span<const TensorView> out) {
                       while (!open.load()) std::this_thread::sleep_for(1ms);
                       std::memcpy(out[0].bytes(), in[0].bytes(), static_cast<std::size_t>(in[0].shape().numel()) * 4);
                       return Status{};
                     }));
                   }};
  auto p = Pipeline::create(two_stages({gate}, {affine(1, 0)}), {.depth = 2});
  REQUIRE(p.ok());
  CHECK(p->depth() == 2);
  const Tensor x = filled(1);
  const ConstTensorView xv = x.view();
  REQUIRE(p->submit(x).ok());
  REQUIRE(p->submit(x).ok());
  CHECK(p->in_flight() == 2);
  auto full = p->try_submit(std::span<const ConstTensorView>(&xv, 1));
  REQUIRE(full.ok());
  CHECK(!full->has_value());
  std::atomic<bool> third_in{false};
  std::thread producer([&] { third_in = p->submit(x).ok(); });
  std::this_thread::sleep_for(50ms);
  CHECK(!third_in.load());  // held back: nothing was received
  open = true;
  REQUIRE(p->receive().ok());
  producer.join();
  CHECK(third_in.load());
  REQUIRE(p->receive().ok());
  REQUIRE(p->receive().ok());
  CHECK(p->in_flight() == 0);
}

TEST_CASE("destroying or closing a pipeline with inputs in flight neither hangs nor loses order") {
  SECTION("destroyed with inputs queued and a stage mid-input") {
    auto p = Pipeline::create(two_stages({affine(1, 1, 20ms)}, {affine(1, 1, 20ms)}), {.depth = 4});
    REQUIRE(p.ok());
    for (int i = 0; i < 4; ++i) REQUIRE(p->submit(filled(static_cast<float>(i))).ok());
    const auto t0 = std::chrono::steady_clock::now();
    { Pipeline gone = std::move(*p); }
    CHECK(std::chrono::steady_clock::now() - t0 < 1s);  // at most the inputs being computed finish
  }
  SECTION("closed, then every input still arrives") {
    auto p = Pipeline::create(two_stages({affine(1, 1, 2ms)}, {affine(1, 1, 2ms)}), {.depth = 4});
    REQUIRE(p.ok());
    for (int i = 0; i < 4; ++i) REQUIRE(p->submit(filled(static_cast<float>(i))).ok());
    p->close();
    for (int i = 0; i < 4; ++i) {
      auto y = p->receive();
      REQUIRE(y.ok());
      CHECK((*y)[0].floats()[0] == static_cast<float>(i + 2));
    }
    CHECK(!p->receive().ok());
  }
  SECTION("a submit blocked on a full pipeline resumes when another thread receives") {
    auto p = Pipeline::create(two_stages({affine(1, 1, 50ms)}, {affine(1, 1)}), {.depth = 1});
    REQUIRE(p.ok());
    REQUIRE(p->submit(filled(0)).ok());
    bool received = false;
    std::thread consumer([&] {
      std::this_thread::sleep_for(20ms);
      received = p->receive().ok();  // frees the slot the blocked submit waits for
    });
    CHECK(p->submit(filled(1)).ok());
    consumer.join();
    CHECK(received);
  }
}

TEST_CASE("a stage's error or exception comes back with the input that caused it; the others run") {
  auto p = Pipeline::create(two_stages({affine(1, 1, {}, /*fail_on=*/3)}, {affine(1, 0, {}, -1, /*throw_on=*/6)}), {.depth = 3});
  REQUIRE(p.ok());
  std::thread producer([&] {
    for (int i = 0; i < 8; ++i) (void)p->submit(filled(static_cast<float>(i)));
    p->close();
  });
  Tensor y(small);
  const TensorView yv = y.view();
  for (int i = 0; i < 8; ++i) {
    INFO("input " << i);
    auto c = p->receive(std::span<const TensorView>(&yv, 1));
    REQUIRE(c.ok());
    CHECK(c->id == static_cast<std::uint64_t>(i));
    if (i == 3) {
      REQUIRE(!c->status.ok());
      CHECK(c->status.error().code() == ErrorCode::unsupported);
      CHECK(std::string(c->status.error().what()).find("stage 0 failed on input #3: cannot take 3") != std::string::npos);
    } else if (i == 5) {  // 5 + 1 reaches stage 1 as 6
      REQUIRE(!c->status.ok());
      CHECK(std::string(c->status.error().what()).find("stage 1 failed on input #5: threw: boom") != std::string::npos);
    } else {
      CHECK(c->status.ok());
      CHECK(y.floats()[0] == static_cast<float>(i + 1));
    }
  }
  producer.join();
}

TEST_CASE("a stage that cannot start fails create() with its name, and bad specs and calls are refused") {
  StageWorker broken{{}, [] { return Expected<StageFn>(Error(ErrorCode::out_of_memory, "no room for weights")); }};
  auto p = Pipeline::create(two_stages({affine(1, 1)}, {affine(1, 1), broken}));
  REQUIRE(!p.ok());
  CHECK(std::string(p.error().what()).find("stage 1 could not start: no room for weights") != std::string::npos);

  PipelineSpec backwards = two_stages({affine(1, 1)}, {affine(1, 1)});
  std::swap(backwards.stages[0], backwards.stages[1]);
  CHECK(!Pipeline::create(std::move(backwards)).ok());

  auto ok = Pipeline::create(two_stages({affine(1, 1)}, {affine(1, 1)}));
  REQUIRE(ok.ok());
  const Tensor wrong(Shape{1, 2, 3, 4});
  auto bad = ok->submit(wrong);
  REQUIRE(!bad.ok());
  CHECK(std::string(bad.error().what()).find("input 'x' must be 1x2x3x3") != std::string::npos);
  // Views of the right shape without data are refused before anything is copied (as Network::run does), and
  // refused receives leave the result queued for a good one.
  const ConstTensorView no_input[] = {ConstTensorView(nullptr, small)};
  auto empty = ok->submit(no_input);
  REQUIRE(!empty.ok());
  CHECK(std::string(empty.error().what()).find("input 'x' has no data") != std::string::npos);
  REQUIRE(ok->submit(filled(2)).ok());
  const TensorView no_output[] = {TensorView(nullptr, small)};
  auto nowhere = ok->receive(no_output);
  REQUIRE(!nowhere.ok());
  CHECK(std::string(nowhere.error().what()).find("output 'z' has no data") != std::string::npos);
  Tensor wrong_out(Shape{1, 2, 3, 4});
  const TensorView wrong_outputs[] = {wrong_out.view()};
  auto misfit = ok->receive(wrong_outputs);
  REQUIRE(!misfit.ok());
  CHECK(std::string(misfit.error().what()).find("output 'z' must be 1x2x3x3 nchw/f32, got 1x2x3x4") != std::string::npos);
  auto result = ok->receive();
  REQUIRE(result.ok());
  CHECK(result->at(0).floats()[0] == 4.0f);  // 2 * 1 + 1, twice
}

namespace {

/// Three stages at thirds of the node order, one core each, the middle one as two replicas; every stage bound to
/// the whole network's primitives, so the output must match bit for bit.
void check_zoo_model(std::string_view model) {
  INFO(model);
  // The model at 64x64 (tests/zoo_models.hpp), so binding and running it takes milliseconds.
  auto net = Network<Greedy>::create(testing::zoo_at(model, 64, {.calibrate = false})).value();
  REQUIRE(net.bind({.threads = 1, .measure = {.warmup = 0, .min_runs = 1, .max_runs = 1}}).ok());
  const std::size_t n = net.graph().nodes().size();
  const std::vector<CoreCluster> host = host_clusters();
  const std::vector<int>& cpus = host[0].cpus;
  PipelinePlan plan;
  const std::size_t cuts[] = {0, n / 3, 2 * n / 3, n};
  for (int s = 0; s < 3; ++s) {
    PlanStage st{cuts[s], cuts[s + 1], 0, 1, s == 1 ? 2 : 1, 0, {}, {}};
    for (int r = 0; r < st.replicas; ++r) st.cpus.push_back({cpus[static_cast<std::size_t>(s + r) % cpus.size()]});
    for (std::size_t i = st.first; i < st.last; ++i) {
      const LayerBinding& l = net.report().layers[i];
      st.binding.push_back(l.candidates[static_cast<std::size_t>(l.chosen)]);
    }
    plan.stages.push_back(std::move(st));
  }
  auto p = make_pipeline<Greedy>(net.graph(), plan);
  INFO((p.ok() ? "" : p.error().what()));
  REQUIRE(p.ok());
  const Shape in = net.graph().value(net.graph().inputs()[0]).shape;
  std::vector<Tensor> xs;
  for (std::uint64_t seed = 1; seed <= 4; ++seed) xs.push_back(zoo::random_input(in, seed));
  for (const Tensor& x : xs) REQUIRE(p->submit(x).ok());
  for (const Tensor& x : xs) {
    auto got = p->receive();
    REQUIRE(got.ok());
    const std::vector<Tensor> want = net.run(x).value();
    REQUIRE(got->size() == want.size());
    for (std::size_t k = 0; k < want.size(); ++k)
      CHECK(std::equal(want[k].floats().begin(), want[k].floats().end(), (*got)[k].floats().begin(), (*got)[k].floats().end()));
  }
}

}  // namespace

TEST_CASE("a pipelined zoo model equals the whole network exactly (the models that build in under a second)") {
  for (std::string_view model : testing::sweep<std::string_view>({"lenet5", "squeezenet1_1", "mobilenet_v2", "googlenet"},
                                                                {"lenet5"}))
    check_zoo_model(model);
}

// resnet18/50 and vgg16 spend seconds to tens of seconds generating their weights; run with `[slow]`.
TEST_CASE("a pipelined zoo model equals the whole network exactly (every zoo model)", "[.][slow]") {
  for (std::string_view model : zoo::names()) check_zoo_model(model);
}
