// Mixed precision: calibration, int8 candidates priced with their quantise/dequantise edges, the accuracy and
// memory budgets under every searcher, and the digits models' int8 accuracy on their held-out split.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>

#include <unistd.h>

#include "primsel/graph/builder.hpp"
#include "primsel/io/onnx.hpp"
#include "primsel/runtime/network.hpp"
#include "primsel/runtime/reference_executor.hpp"
#include "primsel/search/searchers.hpp"
#include "primsel/select/labelled_set.hpp"
#include "primsel/zoo/calibrate.hpp"
#include "prefer_int8.hpp"
#include "test_config.hpp"

using namespace primsel;
using Catch::Matchers::Contains;

namespace {

using testing::quick;  // tests/test_config.hpp
constexpr double unchecked = std::numeric_limits<double>::infinity();

using testing::PreferInt8;  // prefer_int8.hpp
constexpr auto is_int8 = testing::is_int8_candidate;

/// Activations have half the levels where the int8 GEMM is 7-bit (AVX2 without VNNI).
constexpr bool seven_bit = u8_activation_levels == quant::u8_7bit_range;

/// Conv 3x3, 1x1, depthwise 3x3 and a residual Add: every int8 primitive gets a layer.
Graph small_net() {
  GraphBuilder b("mixed", 3);
  ValueId x = b.input("x", {1, 8, 19, 19});
  ValueId a = b.relu(b.conv(x, {.out_channels = 24, .kernel = 3, .pad = 1}));
  ValueId y = b.relu(b.conv(a, {.out_channels = 24, .kernel = 1}));
  y = b.relu(b.conv(y, {.out_channels = 24, .kernel = 3, .pad = 1, .groups = 24}));
  y = b.conv(y, {.out_channels = 24, .kernel = 1});
  y = b.relu(b.add(y, a));
  y = b.relu(b.conv(y, {.out_channels = 40, .kernel = 3, .stride = 2, .pad = 1}));
  b.output(b.linear(b.flatten(b.global_avg_pool(y)), 10, "fc"));
  Graph g = std::move(b).build().value();
  REQUIRE(zoo::calibrate(g).ok());  // unit-variance activations, as trained BatchNorm would give
  return g;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}

std::vector<Tensor> samples(const Graph& g, int count, std::uint64_t seed) {
  std::vector<Tensor> s;
  for (int i = 0; i < count; ++i) s.push_back(zoo::random_input(g.value(g.inputs()[0]).shape, seed + static_cast<std::uint64_t>(i)));
  return s;
}

template <Searcher S>
Network<S> calibrated(const Graph& g) {
  auto net = Network<S>::create(g);
  REQUIRE(net.ok());
  const auto cal = samples(g, 6, 100);
  REQUIRE(net->calibrate(cal).ok());
  return std::move(*net);
}

/// ||y - reference|| / ||reference|| on fresh inputs (not the calibration samples).
template <class Net>
double error_on_fresh_inputs(Net& net, const Graph& g) {
  std::vector<std::vector<Tensor>> expected, actual;
  for (Tensor& x : samples(g, 4, 900)) {
    auto ref = run_reference(net.graph(), {x});
    REQUIRE(ref.ok());
    auto y = net.run(x);
    REQUIRE(y.ok());
    expected.push_back(std::move(*ref)), actual.push_back(std::move(*y));
  }
  return relative_output_error(expected, actual);
}

}  // namespace

TEST_CASE("restrict_problem keeps the marked candidates and maps them back") {
  SelectionProblem p;
  p.nodes = {{"a", {"x", "y", "z"}, {3, 1, 2}}, {"b", {"u", "v"}, {5, 4}}};
  p.edges = {{0, 1, {0, 1, 2, 3, 4, 5}}};
  std::vector<std::vector<int>> index;
  const SelectionProblem r = restrict_problem(p, {{1, 0, 1}, {0, 1}}, index);
  REQUIRE(r.validate().ok());
  CHECK(r.nodes[0].candidates == std::vector<std::string>{"x", "z"});
  CHECK(r.nodes[1].cost == std::vector<double>{4});
  CHECK(index == std::vector<std::vector<int>>{{0, 2}, {1}});
  CHECK(r.edges[0].cost == std::vector<double>{1, 5});  // (x, v) and (z, v)
  CHECK(r.cost({1, 0}) == p.cost({2, 1}));
}

TEST_CASE("int8 candidates come with calibration and Precision::mixed only") {
  const Graph g = small_net();
  auto net = Network<Greedy>::create(g).value();
  const Status uncalibrated = net.bind({.measure = quick, .precision = Precision::mixed});
  REQUIRE_FALSE(uncalibrated.ok());
  CHECK_THAT(uncalibrated.error().what(), Contains("needs calibrate() on sample inputs first"));

  const auto cal = samples(g, 3, 1);
  REQUIRE(net.calibrate(cal).ok());
  REQUIRE(net.bind({.measure = quick}).ok());
  for (const LayerBinding& l : net.report().layers)
    for (const std::string& c : l.candidates) CHECK_FALSE(is_int8(c));
  CHECK(net.report().int8_layers == 0);

  REQUIRE(net.bind({.measure = quick, .precision = Precision::mixed}).ok());
  int convs = 0, offered = 0;
  for (const LayerBinding& l : net.report().layers) {
    if (l.op != OpKind::Conv) continue;
    ++convs;
    for (const std::string& c : l.candidates) offered += is_int8(c) ? 1 : 0;
  }
  CHECK(convs == 5);
  // Every conv, on every target (7-bit activations where the u8s8 kernel needs them).
  CHECK(offered >= convs);
  for (const auto& q : net.calibration().params)
    if (q) CHECK(q->qmax == u8_activation_levels.hi);
  const LayerBinding& fc = net.report().layers.back();
  REQUIRE(fc.op == OpKind::Gemm);
  CHECK(fc.candidates == std::vector<std::string>{"fully_connected", "fully_connected_u8s8"});

  // Bad calibration input: the shape is named.
  std::vector<Tensor> wrong{Tensor(Shape{1, 8, 20, 20})};
  const Status bad = net.calibrate(wrong);
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(bad.error().what(), Contains("1x8x20x20"));
  const Status none = net.calibrate(std::vector<Tensor>{});
  REQUIRE_FALSE(none.ok());
  CHECK_THAT(none.error().what(), Contains("at least one sample"));
}

TEST_CASE("calibration quantises every activation into the levels this target's int8 GEMM needs") {
  const Graph g = small_net();
  std::vector<std::vector<Tensor>> s;
  for (Tensor& x : samples(g, 2, 5)) s.push_back({std::move(x)});
  for (quant::QRange levels : {quant::u8_range, quant::u8_7bit_range}) {
    auto cal = calibrate_graph(g, s, quant::CalibrationMethod::mse, levels);
    REQUIRE(cal.ok());
    int calibrated = 0;
    for (const auto& q : cal->params)
      if (q) {
        ++calibrated;
        CHECK(q->qmax == levels.hi);
        CHECK(q->zero_point <= levels.hi);
      }
    CHECK(calibrated > 5);
  }
  auto by_default = calibrate_graph(g, s);
  REQUIRE(by_default.ok());
  for (const auto& q : by_default->params)
    if (q) CHECK(q->qmax == u8_activation_levels.hi);
}

TEST_CASE("calibration keeps each activation's channel means, and the bias correction they allow lowers the error") {
  const Graph g = small_net();
  std::vector<std::vector<Tensor>> s;
  for (Tensor& x : samples(g, 3, 5)) s.push_back({std::move(x)});
  auto cal = calibrate_graph(g, s);
  REQUIRE(cal.ok());
  // The input's means, by hand.
  const ValueId input = g.inputs()[0];
  const Shape& shape = g.value(input).shape;
  const std::span<const float> means = cal->mean_of(input);
  REQUIRE(means.size() == static_cast<std::size_t>(shape[1]));
  const std::int64_t plane = shape[2] * shape[3];
  for (std::int64_t c = 0; c < shape[1]; ++c) {
    double sum = 0;
    for (const auto& sample : s)
      for (std::int64_t i = 0; i < plane; ++i) sum += sample[0].data<float>()[c * plane + i];
    CHECK(means[static_cast<std::size_t>(c)] == Approx(sum / static_cast<double>(3 * plane)).margin(1e-6));
  }
  // Every 4-D activation and the classifier's 2-D input have them; constants do not.
  int with_means = 0;
  for (std::size_t v = 0; v < g.values().size(); ++v) {
    const Value& val = g.values()[v];
    const bool expected = !val.is_constant() && (val.shape.rank() == 4 || val.shape.rank() == 2);
    CHECK(cal->mean_of(static_cast<ValueId>(v)).empty() == !expected);
    with_means += expected;
  }
  CHECK(with_means > 8);
  auto without = calibrate_graph(g, s, quant::CalibrationMethod::mse, u8_activation_levels, false);
  REQUIRE(without.ok());
  for (std::size_t v = 0; v < g.values().size(); ++v) CHECK(without->mean_of(static_cast<ValueId>(v)).empty());

  // The same all-int8 binding with and without the correction, on fresh inputs.
  double err[2] = {};
  for (const bool correct : {false, true}) {
    auto net = Network<PreferInt8>::create(g).value();
    REQUIRE(net.calibrate(samples(g, 6, 100), quant::CalibrationMethod::mse, correct).ok());
    REQUIRE(net.bind({.measure = quick, .precision = Precision::mixed, .accuracy_budget = unchecked}).ok());
    err[correct] = error_on_fresh_inputs(net, g);
  }
  INFO("all-int8 relative output error on fresh inputs: " << err[0] << " uncorrected, " << err[1] << " corrected");
  CHECK(err[1] < 0.8 * err[0]);
}

TEST_CASE("an all-int8 binding runs u8 between int8 layers and stays within the quantisation error") {
  const Graph g = small_net();
  auto net = calibrated<PreferInt8>(g);
  REQUIRE(net.bind({.measure = quick, .precision = Precision::mixed, .accuracy_budget = unchecked}).ok());
  const BindReport& r = net.report();
  CHECK(r.output_error < 0);  // unchecked budget: not measured
  int u8_ops = 0, gemm_convs = 0;
  for (const LayerBinding& l : r.layers)
    if (l.op == OpKind::Gemm) {  // int8 weights between f32 edges
      CHECK(l.candidates[static_cast<std::size_t>(l.chosen)] == "fully_connected_u8s8");
      CHECK(l.input_format == Format{});
      CHECK(l.output_format == Format{});
      CHECK(l.weight_bytes == ops::FullyConnectedU8S8::weight_bytes(40, 10, true));
    } else if (l.op == OpKind::Conv) {
      CHECK(l.output_format == Format{Layout::nhwc, DType::u8});
      CHECK(l.weight_bytes > 0);
      // The GEMM-based primitives take the non-depthwise layers on every target, AVX2 without VNNI included.
      const std::string& chosen = l.candidates[static_cast<std::size_t>(l.chosen)];
      if (chosen != "depthwise_u8s8") ++gemm_convs;
    } else if (l.output_format.dtype == DType::u8) {
      CHECK(l.input_format == Format{Layout::nhwc, DType::u8});
      ++u8_ops;
    }
  CHECK(gemm_convs == 4);
  CHECK(u8_ops == 3);  // the residual Add, its Relu and the global pooling stay in u8 between the convs
  CHECK(r.int8_layers == 5 + u8_ops + 1);  // convs, u8 ops, the classifier
  CHECK(r.conversions == 2);  // quantise the input, dequantise before Flatten (reference, f32)
  const double err = error_on_fresh_inputs(net, g);
  INFO("all-int8 relative output error " << err);
  CHECK(err > 1e-5);  // really quantised
  // Five int8 layers of 8-bit (7-bit on AVX2 without VNNI) activations and weights: measured 0.011 and 0.016.
  const double bound = 0.06;
  INFO("levels [0, " << u8_activation_levels.hi << "]");
  CHECK(err < bound);

  // The same binding measured against the budget: the error on the calibration samples is reported.
  REQUIRE(net.bind({.measure = quick, .precision = Precision::mixed, .accuracy_budget = 1.0}).ok());
  CHECK(net.report().int8_layers == 9);
  CHECK(net.report().output_error > 1e-5);
  CHECK(net.report().output_error < bound);
  CHECK(net.report().budget_notes.empty());
}

TEST_CASE("the accuracy budget keeps the most sensitive layers in f32") {
  const Graph g = small_net();
  auto net = calibrated<PreferInt8>(g);
  REQUIRE(net.bind({.measure = quick, .precision = Precision::mixed, .accuracy_budget = 1.0}).ok());
  const double all_int8 = net.report().output_error;
  const int all_int8_layers = net.report().int8_layers;
  REQUIRE(all_int8 > 0);

  SECTION("a budget no int8 layer meets: all f32, each removal noted") {
    REQUIRE(net.bind({.measure = quick, .precision = Precision::mixed, .accuracy_budget = all_int8 * 1e-4}).ok());
    CHECK(net.report().int8_layers == 0);
    CHECK(net.report().budget_notes.size() == static_cast<std::size_t>(all_int8_layers));
    CHECK_THAT(net.report().budget_notes[0], Contains("accuracy:") && Contains("kept in f32 (sensitivity"));
    CHECK(error_on_fresh_inputs(net, g) < 1e-4);
  }
  SECTION("a budget between: some layers stay int8 and the error meets it") {
    const double budget = all_int8 * 0.6;
    REQUIRE(net.bind({.measure = quick, .precision = Precision::mixed, .accuracy_budget = budget}).ok());
    const BindReport& r = net.report();
    INFO("all-int8 error " << all_int8 << ", budget " << budget << ", got " << r.output_error << " with "
                           << r.int8_layers << " int8 layers");
    CHECK(r.int8_layers < all_int8_layers);
    CHECK_FALSE(r.budget_notes.empty());
    if (r.int8_layers > 0) {
      CHECK(r.output_error >= 0);
      CHECK(r.output_error <= budget);
    }
  }
}

TEMPLATE_TEST_CASE("both accuracy trades meet a budget the fastest binding misses, noting each layer sent back", "",
                   Exact<>, Greedy) {
  const Graph g = small_net();
  auto net = calibrated<TestType>(g);
  REQUIRE(net.bind({.measure = quick, .precision = Precision::mixed, .accuracy_budget = 1.0}).ok());
  const BindReport fastest = net.report();
  if (fastest.int8_layers == 0 || fastest.output_error <= 0) {
    WARN("skipped: the timings chose no int8 layer here");
    return;
  }
  auto is_int8_in = [](const BindReport& r, const std::string& node) {
    for (const LayerBinding& l : r.layers)
      if (l.node == node) return is_int8(l.candidates[static_cast<std::size_t>(l.chosen)]);
    FAIL("no layer " << node);
    return false;
  };
  const double budget = fastest.output_error * 0.5;
  for (AccuracyTrade trade : {AccuracyTrade::price, AccuracyTrade::remove}) {
    INFO("trade " << (trade == AccuracyTrade::price ? "price" : "remove") << ", fastest binding's error "
                  << fastest.output_error << " with " << fastest.int8_layers << " int8 layers");
    REQUIRE(net.bind({.measure = quick, .precision = Precision::mixed, .accuracy_budget = budget,
                      .accuracy_trade = trade}).ok());
    const BindReport& r = net.report();
    INFO("got " << r.output_error << " with " << r.int8_layers << " int8 layers");
    CHECK(r.int8_layers < fastest.int8_layers);
    if (r.int8_layers > 0) CHECK(r.output_error <= budget);
    if (r.int8_layers == 0) CHECK(r.output_error < 0);  // all f32: nothing measured, no stale error
    CHECK(error_on_fresh_inputs(net, g) < 3 * budget);
    REQUIRE_FALSE(r.budget_notes.empty());
    for (const std::string& note : r.budget_notes) {
      INFO(note);
      REQUIRE(note.starts_with("accuracy: "));
      const std::string node = note.substr(10, note.find(' ', 10) - 10);
      CHECK(is_int8_in(fastest, node));
      CHECK_FALSE(is_int8_in(r, node));
    }
  }
}

TEST_CASE("a mixed-precision tuning cache carries the calibration: a second start-up needs no samples") {
  const Graph g = small_net();
  const std::string path = std::filesystem::temp_directory_path() /
                           ("primsel_test_" + std::to_string(::getpid()) + "_mixed.cache");
  std::remove(path.c_str());
  const BindOptions with_cache{.measure = quick, .cache_path = path, .precision = Precision::mixed,
                               .accuracy_budget = 1.0};
  auto first = calibrated<PreferInt8>(g);
  REQUIRE(first.bind(with_cache).ok());
  REQUIRE(first.report().int8_layers > 0);
  CHECK_FALSE(first.report().calibration_from_cache);
  const Tensor x = zoo::random_input(g.value(g.inputs()[0]).shape, 77);
  const auto y_first = first.run(x);
  REQUIRE(y_first.ok());

  // A new process: same graph, no calibrate(). The calibration, measurements and binding come from the cache,
  // and the network computes the same outputs bit for bit (same int8 layers, same quantisation).
  auto second = Network<PreferInt8>::create(g).value();
  REQUIRE(second.bind(with_cache).ok());
  const BindReport& r = second.report();
  CHECK(r.calibration_from_cache);
  CHECK(r.measured_from_cache);
  CHECK(r.searched_from_cache);
  CHECK(r.output_error < 0);  // no samples to measure it on
  CHECK(r.int8_layers == first.report().int8_layers);
  CHECK(r.search.binding == first.report().search.binding);
  for (std::size_t v = 0; v < g.values().size(); ++v) CHECK(second.calibration().of(static_cast<ValueId>(v)) == first.calibration().of(static_cast<ValueId>(v)));
  CHECK(second.calibration().means == first.calibration().means);  // the bias corrections too
  CHECK_FALSE(first.calibration().means.empty());
  const auto y_second = second.run(x);
  REQUIRE(y_second.ok());
  REQUIRE(y_second->size() == y_first->size());
  for (std::size_t k = 0; k < y_first->size(); ++k) {
    const auto a = (*y_first)[k].floats(), b = (*y_second)[k].floats();
    CHECK(std::equal(a.begin(), a.end(), b.begin(), b.end()));
  }

  // A search the cache has no binding for cannot check an accuracy budget without samples: a clear error ...
  auto third = Network<Greedy>::create(g).value();
  const Status unchecked_search = third.bind(with_cache);
  REQUIRE_FALSE(unchecked_search.ok());
  CHECK_THAT(unchecked_search.error().what(), Contains("calibration samples") && Contains("greedy") &&
                                                  Contains("call calibrate() first"));
  // ... unless the budget is switched off, or samples are given.
  BindOptions unbudgeted = with_cache;
  unbudgeted.accuracy_budget = unchecked;
  REQUIRE(third.bind(unbudgeted).ok());
  CHECK(third.report().calibration_from_cache);
  REQUIRE(third.calibrate(samples(g, 6, 100)).ok());
  REQUIRE(third.bind(with_cache).ok());
  CHECK_FALSE(third.report().calibration_from_cache);
  CHECK(third.report().output_error >= 0);

  // A cache whose calibration names values this graph does not have: ignored with a note, calibrate() needed.
  GraphBuilder other("other", 3);
  ValueId in = other.input("image", {1, 8, 19, 19});
  other.output(other.relu(other.conv(in, {.out_channels = 8, .kernel = 1})));
  auto stranger = Network<Greedy>::create(std::move(other).build().value()).value();
  const Status foreign = stranger.bind(with_cache);
  REQUIRE_FALSE(foreign.ok());
  CHECK_THAT(foreign.error().what(), Contains("needs calibrate()"));
  CHECK_THAT(stranger.report().cache_note, Contains("is not an activation of 'other'"));

  // A cache whose channel means do not fit the graph's activations: ignored with a note.
  {
    auto edited = parse_tuning_cache(read_file(path));
    REQUIRE(edited.ok());
    REQUIRE(!edited->means.empty());
    edited->means[0].second.push_back(1.0f);
    std::ofstream(path, std::ios::binary | std::ios::trunc) << serialize(*edited);
    auto misfit = Network<PreferInt8>::create(g).value();
    REQUIRE_FALSE(misfit.bind(with_cache).ok());
    CHECK_THAT(misfit.report().cache_note, Contains("channel means of '" + edited->means[0].first + "' do not fit"));
    edited->means[0].second.pop_back();
    std::ofstream(path, std::ios::binary | std::ios::trunc) << serialize(*edited);
  }

  // A cache calibrated for the other level count (written on a machine with VNNI and read on one without, or the
  // reverse; the device key names the vector ISA, not VNNI): its calibration is ignored with a note, never used.
  auto record = parse_tuning_cache(read_file(path));
  REQUIRE(record.ok());
  REQUIRE(!record->quant.empty());
  const std::int32_t other_levels = seven_bit ? 255 : 127;
  for (auto& [name, q] : record->quant) q.qmax = other_levels, q.zero_point = std::min(q.zero_point, other_levels);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << serialize(*record);
  auto fourth = Network<PreferInt8>::create(g).value();
  const Status mismatched = fourth.bind(with_cache);
  REQUIRE_FALSE(mismatched.ok());
  CHECK_THAT(mismatched.error().what(), Contains("needs calibrate()"));
  CHECK_THAT(fourth.report().cache_note, Contains("was quantised into [0, " + std::to_string(other_levels) +
                                                  "], this target's int8 kernels use [0, " +
                                                  std::to_string(u8_activation_levels.hi) + "]"));
  std::remove(path.c_str());
}

TEST_CASE("fully connected layers take int8 weights in a mixed bind only, count as int8, and the budget can undo it") {
  // On every target: without VNNI the rows are quantised to 7 bits for the AVX2 kernel, still well within 0.03.
  GraphBuilder b("fc_only", 5);
  const ValueId x = b.input("x", {2, 8, 3, 3});  // batch 2: the matrix-vector kernel's two-row form
  const ValueId h = b.relu(b.linear(b.flatten(x), 37, "fc1"));
  b.output(b.linear(h, 11, "fc2"));
  Graph g = std::move(b).build().value();
  REQUIRE(zoo::calibrate(g).ok());
  auto net = calibrated<PreferInt8>(g);
  auto chosen = [&](const char* node) {
    for (const LayerBinding& l : net.report().layers)
      if (l.node == node) return l.candidates[static_cast<std::size_t>(l.chosen)];
    return std::string("missing");
  };

  REQUIRE(net.bind({.measure = quick}).ok());  // f32 only: never offered
  for (const LayerBinding& l : net.report().layers)
    for (const std::string& c : l.candidates) CHECK(c != "fully_connected_u8s8");
  CHECK(net.report().int8_layers == 0);
  const std::size_t f32_weights = net.report().weight_bytes;

  REQUIRE(net.bind({.measure = quick, .precision = Precision::mixed, .accuracy_budget = unchecked}).ok());
  CHECK(chosen("fc1") == "fully_connected_u8s8");
  CHECK(chosen("fc2") == "fully_connected_u8s8");
  CHECK(net.report().int8_layers == 2);
  CHECK(net.report().weight_bytes ==
        ops::FullyConnectedU8S8::weight_bytes(72, 37, true) + ops::FullyConnectedU8S8::weight_bytes(37, 11, true));
  CHECK(net.report().weight_bytes < f32_weights / 2);
  const double err = error_on_fresh_inputs(net, g);
  INFO("int8-weight classifier relative output error " << err);
  CHECK(err > 1e-6);  // really quantised
  CHECK(err < 0.03);  // two layers of 8-bit weights and rows

  REQUIRE(net.bind({.measure = quick, .precision = Precision::mixed, .accuracy_budget = 1.0}).ok());
  CHECK(net.report().int8_layers == 2);
  CHECK(net.report().output_error > 1e-6);
  CHECK(net.report().budget_notes.empty());

  REQUIRE(net.bind({.measure = quick, .precision = Precision::mixed, .accuracy_budget = 1e-9}).ok());
  CHECK(chosen("fc1") == "fully_connected");
  CHECK(chosen("fc2") == "fully_connected");
  CHECK(net.report().int8_layers == 0);
  REQUIRE(net.report().budget_notes.size() == 2);
  CHECK_THAT(net.report().budget_notes[0] + net.report().budget_notes[1],
             Contains("accuracy: fc1 kept in f32") && Contains("accuracy: fc2 kept in f32"));
  CHECK(error_on_fresh_inputs(net, g) < 1e-5);
}

TEMPLATE_TEST_CASE("every searcher meets the accuracy and memory budgets", "", Greedy, Exact<>, QLearning<>,
                   RandomSearch<>) {
  const Graph g = small_net();
  auto net = calibrated<TestType>(g);
  const double budget = 0.02;
  REQUIRE(net.bind({.measure = quick, .precision = Precision::mixed, .accuracy_budget = budget}).ok());
  if (net.report().int8_layers > 0) CHECK(net.report().output_error <= budget);
  CHECK(error_on_fresh_inputs(net, g) < 3 * budget);  // fresh inputs: the calibration budget carries over loosely

  // f32 from here on: one measurement, so every bind below searches the same problem.
  REQUIRE(net.bind({.measure = quick}).ok());
  const std::size_t f32_bytes = net.report().total_bytes();
  REQUIRE(f32_bytes == net.report().weight_bytes + net.report().arena_bytes + net.report().workspace_bytes);
  REQUIRE(net.report().weight_bytes > 0);

  // The smallest binding the memory pruning can reach is a bound for what a budget can ask.
  const Status tiny = net.bind({.measure = quick, .memory_budget = 1000});
  REQUIRE_FALSE(tiny.ok());
  CHECK_THAT(tiny.error().what(), Contains("memory budget of 1000 bytes cannot be met for 'mixed'") &&
                                      Contains("weights") && Contains("activations"));
  REQUIRE(net.bind({.measure = quick, .memory_budget = 1000000000}).ok());  // generous: unconstrained
  CHECK(net.report().budget_notes.empty());

  // A budget just under the fastest f32 binding's memory is met by giving up the hungriest choices.
  const std::size_t lean = f32_bytes - f32_bytes / 20;
  const Status fits = net.bind({.measure = quick, .memory_budget = lean});
  if (fits.ok()) {
    CHECK(net.report().total_bytes() <= lean);
    CHECK_THAT(net.report().budget_notes.at(0), Contains("memory:"));
    CHECK(error_on_fresh_inputs(net, g) < 1e-4);  // still all f32
  } else {
    CHECK_THAT(fits.error().what(), Contains("cannot be met"));
  }
}

TEST_CASE("digits: int8 loses at most 1 point of test accuracy against f32 (committed models)", "[digits]") {
  const std::string dir = std::string(PRIMSEL_SOURCE_DIR) + "/data/digits/";
  auto set = select::load_labelled_set(dir + "digits.bin");
  INFO((set.ok() ? "" : set.error().what()));
  REQUIRE(set.ok());
  const auto val = set->part(select::LabelledSet::validation), test = set->part(select::LabelledSet::test);
  auto accuracy = [&](auto& net) {
    int right = 0;
    for (std::size_t i = 0; i < test.size(); ++i) {
      auto y = net.run(test.images[i]);
      REQUIRE(y.ok());
      const auto scores = (*y)[0].floats();
      right += static_cast<int>(std::max_element(scores.begin(), scores.begin() + 10) - scores.begin()) == test.labels[i];
    }
    return static_cast<double>(right) / static_cast<double>(test.size());
  };
  for (const char* name : testing::sweep({"tiny", "small", "medium", "large"}, {"tiny", "small", "medium"})) {
    auto g = io::onnx::load_model(dir + name + ".onnx");
    REQUIRE(g.ok());
    auto net = Network<PreferInt8>::create(std::move(*g)).value();
    REQUIRE(net.bind({.measure = quick}).ok());
    const double f32 = accuracy(net);
    // Calibrated on the validation part (images the models were not trained on), every conv forced to int8.
    REQUIRE(net.calibrate(std::span<const Tensor>(val.images)).ok());
    REQUIRE(net.bind({.measure = quick, .precision = Precision::mixed, .accuracy_budget = unchecked}).ok());
    const int int8_layers = net.report().int8_layers;
    const double int8 = accuracy(net);
    std::printf("digits %-6s test accuracy: f32 %.4f, int8 %.4f (%d layers in int8)\n", name, f32, int8, int8_layers);
    INFO(name << ": f32 " << f32 << ", int8 " << int8);
    CHECK(int8_layers > 0);
    CHECK(int8 >= f32 - 0.01);
  }
}
