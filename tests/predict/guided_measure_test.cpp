#include "primsel/predict/measure_rule.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "primsel/graph/builder.hpp"
#include "primsel/predict/collect.hpp"
#include "primsel/runtime/network.hpp"
#include "primsel/search/exact.hpp"
#include "primsel/search/greedy.hpp"
#include "primsel/zoo/calibrate.hpp"

using namespace primsel;
using namespace primsel::predict;

namespace {

std::vector<Prediction> predictions(std::initializer_list<std::pair<double, double>> ms_sigma) {
  std::vector<Prediction> p;
  for (auto [ms, sigma] : ms_sigma) p.push_back({ms, sigma, true});
  return p;
}

/// Conv layers of several kinds (3x3 stride 1 and 2, 1x1, 5x5, depthwise) so that every conv has several
/// candidates; small enough to measure in well under a second.
Graph small_net() {
  GraphBuilder b("guided", 5);
  ValueId x = b.input("x", {1, 8, 20, 20});
  x = b.relu(b.conv(x, {.out_channels = 16, .kernel = 3, .pad = 1}, "c1"));
  x = b.relu(b.conv(x, {.out_channels = 16, .kernel = 3, .pad = 1}, "c2"));
  x = b.conv(x, {.out_channels = 32, .kernel = 1}, "c3");
  x = b.relu(b.conv(x, {.out_channels = 32, .kernel = 3, .stride = 2, .pad = 1, .groups = 32}, "dw"));
  x = b.conv(x, {.out_channels = 24, .kernel = 5, .pad = 2}, "c5");
  b.output(b.linear(b.flatten(b.global_avg_pool(x)), 10, "fc"));
  return std::move(b).build().value();
}

constexpr MeasureOptions quick{.warmup = 0, .min_runs = 1, .max_runs = 2, .cap_ms = 5};

/// A predictor trained on a full measurement of the same network (as a tuning cache from an earlier start-up
/// would give).
LatencyPredictor trained_on_full_measurement() {
  auto net = Network<Greedy>::create(small_net()).value();
  net.measure({.measure = quick}).value();
  const std::vector<Sample> samples = collect_samples(net, 1, "guided");
  REQUIRE(samples.size() > 10);
  return LatencyPredictor::train(samples).value();
}

bool is_conv(const LayerBinding& l) { return l.op == OpKind::Conv; }

std::string read(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

}  // namespace

TEST_CASE("candidates_to_measure: top-k keeps the k predicted fastest, adaptive stops at the first clear gap") {
  // ms: 3, 1, 2, 10 -> order 1, 2, 0, 3
  const auto p = predictions({{3.0, 0.05}, {1.0, 0.05}, {2.0, 0.05}, {10.0, 0.05}});
  CHECK(candidates_to_measure(p, MeasureRule::all, 1) == std::vector<char>{1, 1, 1, 1});
  CHECK(candidates_to_measure(p, MeasureRule::top_k, 1) == std::vector<char>{0, 1, 0, 0});
  CHECK(candidates_to_measure(p, MeasureRule::top_k, 2) == std::vector<char>{0, 1, 1, 0});
  CHECK(candidates_to_measure(p, MeasureRule::top_k, 3) == std::vector<char>{1, 1, 1, 0});
  CHECK(candidates_to_measure(p, MeasureRule::top_k, 0) == std::vector<char>{0, 1, 0, 0});  // at least one
  // Certain predictions, a 2x gap: only the fastest. Uncertain ones (sigma 1 on log scale): the close ones too.
  CHECK(candidates_to_measure(p, MeasureRule::adaptive, 4) == std::vector<char>{0, 1, 0, 0});
  const auto unsure = predictions({{3.0, 1.0}, {1.0, 1.0}, {2.0, 1.0}, {10.0, 1.0}});
  CHECK(candidates_to_measure(unsure, MeasureRule::adaptive, 2) == std::vector<char>{0, 1, 1, 0});
  CHECK(candidates_to_measure(unsure, MeasureRule::adaptive, 4) == std::vector<char>{1, 1, 1, 0});  // log 10 > 1.41
  CHECK(candidates_to_measure(std::vector<Prediction>{}, MeasureRule::adaptive, 2).empty());
}

TEST_CASE("Guided bind measures a subset of the conv pairs, and every chosen candidate") {
  const LatencyPredictor predictor = trained_on_full_measurement();
  for (const MeasureRule rule : {MeasureRule::top_k, MeasureRule::adaptive}) {
    CAPTURE(to_string(rule));
    auto net = Network<Exact<>>::create(small_net()).value();
    net.bind({.measure = quick, .guide = {.predictor = &predictor, .rule = rule, .k = 1}}).value();
    const BindReport& r = net.report();
    CHECK(r.pairs_measured < r.pairs);
    int pairs = 0, measured = 0;
    for (std::size_t i = 0; i < r.layers.size(); ++i) {
      const LayerBinding& l = r.layers[i];
      CAPTURE(l.node);
      REQUIRE(l.predicted.size() == l.candidates.size());
      CHECK_FALSE(l.predicted[static_cast<std::size_t>(l.chosen)]);  // on demand: never bound on a guess
      std::size_t measured_here = 0;
      for (char p : l.predicted) pairs += 1, measured += p ? 0 : 1, measured_here += p ? 0 : 1;
      if (!is_conv(l)) CHECK(measured_here == l.candidates.size());  // only convs are predicted
      CHECK(measured_here >= 1);
      for (std::size_t c = 0; c < l.ms.size(); ++c) CHECK(l.ms[c] > 0);
    }
    CHECK(pairs == r.pairs);
    CHECK(measured == r.pairs_measured);
    // Predicted pairs are not training data.
    CHECK(collect_samples(net, 1).size() < predictor.primitives().size() + static_cast<std::size_t>(r.pairs));
    for (const Sample& s : collect_samples(net, 1)) CHECK(s.ms > 0);

    // Output matches an unguided binding's (both are the same network, only the choice of primitives differs).
    const Tensor x = zoo::random_input({1, 8, 20, 20}, 3);
    auto ref = Network<Greedy>::create(small_net()).value();
    ref.bind({.measure = quick}).value();
    const Tensor y = net.run(x).value()[0], z = ref.run(x).value()[0];
    for (std::int64_t k = 0; k < y.shape().numel(); ++k) CHECK(y.floats()[k] == Approx(z.floats()[k]).margin(1e-3));
  }
}

TEST_CASE("Unguided bind after a guided one measures the pairs that were predicted") {
  const LatencyPredictor predictor = trained_on_full_measurement();
  auto net = Network<Greedy>::create(small_net()).value();
  net.bind({.measure = quick, .guide = {.predictor = &predictor, .rule = MeasureRule::top_k, .k = 1}}).value();
  REQUIRE(net.report().pairs_measured < net.report().pairs);
  net.bind({.measure = quick}).value();
  CHECK(net.report().pairs_measured == net.report().pairs);
  for (const LayerBinding& l : net.report().layers)
    for (char p : l.predicted) CHECK_FALSE(p);
}

TEST_CASE("Without a predictor, or with rule all, every pair is measured") {
  const LatencyPredictor predictor = trained_on_full_measurement();
  for (const Guidance g : {Guidance{}, Guidance{.predictor = &predictor, .rule = MeasureRule::all}}) {
    auto net = Network<Greedy>::create(small_net()).value();
    net.bind({.measure = quick, .guide = g}).value();
    CHECK(net.report().pairs > 0);
    CHECK(net.report().pairs_measured == net.report().pairs);
  }
}

TEST_CASE("The tuning cache keeps which costs were predicted") {
  const LatencyPredictor predictor = trained_on_full_measurement();
  const std::string path = "guided_measure_test.cache";
  std::remove(path.c_str());
  const Guidance guide{.predictor = &predictor, .rule = MeasureRule::top_k, .k = 1};
  int measured = 0, pairs = 0;
  {
    auto net = Network<Greedy>::create(small_net()).value();
    net.bind({.measure = quick, .guide = guide, .cache_path = path}).value();
    measured = net.report().pairs_measured, pairs = net.report().pairs;
    REQUIRE(measured < pairs);
    CHECK(read(path).find("\npredicted ") != std::string::npos);
  }
  {  // guided again: the cache is used as it is
    auto net = Network<Greedy>::create(small_net()).value();
    net.bind({.measure = quick, .guide = guide, .cache_path = path}).value();
    CHECK(net.report().measured_from_cache);
    CHECK(net.report().pairs_measured == measured);
  }
  {  // every pair asked for: the predicted ones are measured now, and the cache says so
    auto net = Network<Greedy>::create(small_net()).value();
    net.bind({.measure = quick, .cache_path = path}).value();
    CHECK(net.report().measured_from_cache);
    CHECK(net.report().pairs_measured == pairs);
    CHECK(read(path).find("\npredicted ") == std::string::npos);
  }
  std::remove(path.c_str());
}

TEST_CASE("A tuning cache's predicted record is checked") {
  TuningRecord r;
  r.device = "d", r.model = "m";
  r.problem.nodes = {{"a", {"x", "y"}, {1.0, 2.0}}, {"b", {"z"}, {0.5}}};
  r.problem.edges = {{0, 1, {0.0, 0.1}}};
  r.predicted = {{0, 1}, {0}};
  const std::string text = serialize(r);
  REQUIRE(text.find("predicted 0 1\n") != std::string::npos);
  const TuningRecord back = parse_tuning_cache(text).value();
  CHECK(back.predicted == std::vector<std::vector<char>>{{0, 1}, {}});
  auto with = [&](const std::string& line) {
    std::string body = text.substr(0, text.rfind("checksum "));
    body.replace(body.find("predicted 0 1\n"), 14, line);
    return body + "checksum " + hex64(fnv1a(body)) + "\n";
  };
  CHECK_THAT(parse_tuning_cache(with("predicted 7 0\n")).error().what(),
             Catch::Contains("line 6") && Catch::Contains("node that does not exist"));
  CHECK_THAT(parse_tuning_cache(with("predicted 0 2\n")).error().what(),
             Catch::Contains("candidate that does not exist"));
  CHECK_THAT(parse_tuning_cache(with("predicted 0 one\n")).error().what(), Catch::Contains("malformed predicted"));
}
