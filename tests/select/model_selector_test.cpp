// ModelSelector: contract errors on small built networks, then the digits demonstration end to end on the committed
// models (data/digits/): each network's accuracy matches torch's, and the selector trained on the validation part —
// the accuracy-first premodel and the cost-aware rule — stays within 0.5 points of the most accurate network on the
// held-out test part. Latencies are printed, never
// asserted (examples/model_selection.cpp is the benchmark).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <limits>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "primsel/graph/builder.hpp"
#include "primsel/io/onnx.hpp"
#include "primsel/search/greedy.hpp"
#include "primsel/select/labelled_set.hpp"
#include "primsel/select/model_selector.hpp"
#include "test_config.hpp"

using namespace primsel;
using namespace primsel::select;
using Selector = ModelSelector<Greedy>;
using Catch::Matchers::Contains;

namespace {

using testing::quick;  // tests/test_config.hpp
const Selector::Options quick_selector{.measure = {.warmup = 3, .min_runs = 21, .max_runs = 101, .spread = 0.1, .cap_ms = 20}};
const std::string digits_dir = std::string(PRIMSEL_SOURCE_DIR) + "/data/digits/";

Network<Greedy> built(const char* name, std::int64_t hw, std::int64_t channels) {
  GraphBuilder b(name, 1);
  ValueId x = b.input("x", {1, 1, hw, hw});
  x = b.relu(b.conv(x, {.out_channels = channels, .kernel = 3, .pad = 1}));
  x = b.linear(b.flatten(b.global_avg_pool(x)), 3, "fc");
  b.output(x);
  auto net = Network<Greedy>::create(std::move(b).build().value()).value();
  net.bind({.measure = quick}).value();
  return net;
}

Network<Greedy> digits_network(const std::string& name) {
  auto g = io::onnx::load_model(digits_dir + name + ".onnx");
  INFO((g.ok() ? "" : g.error().what()));
  REQUIRE(g.ok());
  auto net = Network<Greedy>::create(std::move(*g));
  REQUIRE(net.ok());
  REQUIRE(net->bind({.measure = quick}).ok());
  return std::move(*net);
}

/// data/digits/models.txt: torch's test accuracy of each model.
std::map<std::string, double> torch_test_accuracy() {
  std::ifstream f(digits_dir + "models.txt");
  std::map<std::string, double> acc;
  std::string line;
  while (std::getline(f, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream in(line);
    std::string name;
    double macs, params, fit, val, test;
    if (in >> name >> macs >> params >> fit >> val >> test) acc[name] = test;
  }
  return acc;
}

}  // namespace

TEST_CASE("create: networks are ordered by measured cost and must agree on their input", "[select][selector]") {
  std::vector<Selector::Entry> nets;
  nets.push_back({"wide", built("wide", 16, 64)});
  nets.push_back({"narrow", built("narrow", 16, 2)});
  auto sel = Selector::create(std::move(nets), quick_selector);
  REQUIRE(sel.ok());
  CHECK(sel->size() == 2);
  CHECK(sel->name(0) == "narrow");
  CHECK(sel->model_ms(0) <= sel->model_ms(1));
  CHECK(sel->input_shape() == Shape{1, 1, 16, 16});

  std::vector<Selector::Entry> mixed;
  mixed.push_back({"a", built("a", 16, 2)});
  mixed.push_back({"b", built("b", 8, 2)});
  auto bad = Selector::create(std::move(mixed), quick_selector);
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(bad.error().what(), Contains("network 'b' does not take one 1x1x16x16 input like 'a'"));

  std::vector<Selector::Entry> twins;
  twins.push_back({"a", built("a", 8, 2)});
  twins.push_back({"a", built("b", 8, 2)});
  CHECK_THAT(Selector::create(std::move(twins), quick_selector).error().what(), Contains("two networks are named 'a'"));
  CHECK_FALSE(Selector::create({}, quick_selector).ok());
}

TEST_CASE("select before training, wrong inputs and foreign premodels are refused", "[select][selector]") {
  std::vector<Selector::Entry> nets;
  nets.push_back({"a", built("a", 8, 2)});
  nets.push_back({"b", built("b", 8, 8)});
  auto sel = Selector::create(std::move(nets), quick_selector).value();
  const Tensor x(Shape{1, 1, 8, 8});
  CHECK_THAT(sel.select(x.view()).error().what(), Contains("no premodel: train() or load_premodel() first"));

  std::vector<Tensor> inputs;
  std::vector<int> labels;
  Rng rng(2);
  for (int i = 0; i < 12; ++i) {
    Tensor t(Shape{1, 1, 8, 8});
    for (float& v : t.floats()) v = static_cast<float>(rng.uniform());
    inputs.push_back(std::move(t));
    labels.push_back(i % 3);
  }
  REQUIRE(sel.train(inputs, labels, {.k = 3}).ok());
  CHECK(sel.k_trials().empty());
  CHECK(sel.premodel().samples() == 12);
  CHECK(sel.premodel_ms() > 0);
  auto r = sel.run(inputs[0].view());
  REQUIRE(r.ok());
  CHECK(r->model < 2);
  CHECK(r->outputs[0].shape() == Shape{1, 3});
  CHECK_THAT(sel.select(Tensor(Shape{1, 1, 9, 9}).view()).error().what(), Contains("take 1x1x8x8 nchw/f32, got 1x1x9x9"));
  CHECK_FALSE(sel.train(inputs, std::vector<int>{1}).ok());

  // A premodel written for other networks: the error names the file and both model lists.
  const auto path = (std::filesystem::temp_directory_path() / "primsel_select_foreign.premodel").string();
  auto other = KnnPremodel::train(std::vector<float>(InputFeatures::count, 0.5f), InputFeatures::count,
                                  std::vector<std::uint8_t>{1, 0}, {"a", "c"}, input_features_tag()).value();
  REQUIRE(other.save(path).ok());
  const Status foreign = sel.load_premodel(path);
  REQUIRE_FALSE(foreign.ok());
  // The selector orders its networks by measured cost; these two are both microseconds, so either order.
  CHECK_THAT(foreign.error().what(), Contains("premodel '" + path + "': the premodel is for models (a, c), the selector has (") &&
                                         (Contains("has (a, b)") || Contains("has (b, a)")));
  auto features_v0 = KnnPremodel::train(std::vector<float>(3, 0.5f), 3, std::vector<std::uint8_t>{1, 0}, {"a", "b"}, "input-features-0").value();
  REQUIRE(features_v0.save(path).ok());
  CHECK_THAT(sel.load_premodel(path).error().what(), Contains("uses features 'input-features-0' (3)"));
  std::filesystem::remove(path);
}

TEST_CASE("digits: the selector keeps the best network's accuracy (committed models)", "[select][selector][digits]") {
  auto set = load_labelled_set(digits_dir + "digits.bin");
  INFO((set.ok() ? "" : set.error().what()));
  REQUIRE(set.ok());
  REQUIRE(set->size() == 1797);
  const LabelledSet val = set->part(LabelledSet::validation), test = set->part(LabelledSet::test);
  REQUIRE(test.size() == 360);

  std::vector<Selector::Entry> nets;
  for (const char* name : testing::sweep({"large", "tiny", "medium", "small"}, {"tiny", "medium", "small"})) nets.push_back({name, digits_network(name)});
  auto sel = Selector::create(std::move(nets), quick_selector);
  REQUIRE(sel.ok());
  const std::size_t m = sel->size();

  // Each network as primsel runs it classifies the test part as torch did (one borderline image may flip).
  const auto torch_acc = torch_test_accuracy();
  auto right = sel->correctness(test.images, test.labels);
  REQUIRE(right.ok());
  std::vector<double> acc(m, 0.0);
  for (std::size_t i = 0; i < test.size(); ++i)
    for (std::size_t j = 0; j < m; ++j) acc[j] += (*right)[i * m + j] / static_cast<double>(test.size());
  std::size_t best = 0;
  for (std::size_t j = 0; j < m; ++j) {
    INFO(sel->name(j));
    REQUIRE(torch_acc.count(sel->name(j)) == 1);
    CHECK(std::abs(acc[j] - torch_acc.at(sel->name(j))) <= 1.0 / 360 + 1e-4);
    if (acc[j] > acc[best] || (acc[j] == acc[best] && sel->model_ms(j) < sel->model_ms(best))) best = j;
  }

  REQUIRE(sel->train(val.images, val.labels).ok());
  double selected_acc = 0, selected_ms = 0;
  std::vector<int> chosen(m, 0);
  for (std::size_t i = 0; i < test.size(); ++i) {
    auto r = sel->run(test.images[i].view());
    REQUIRE(r.ok());
    const auto y = r->outputs[0].floats();
    selected_acc += (std::max_element(y.begin(), y.end()) - y.begin() == test.labels[i]) / static_cast<double>(test.size());
    selected_ms += (sel->premodel_ms() + sel->model_ms(r->model)) / static_cast<double>(test.size());
    ++chosen[r->model];
  }
  std::printf("digits test part, %zu images (measured costs; a report, not an assertion):\n", test.size());
  for (std::size_t j = 0; j < m; ++j)
    std::printf("  %-7s accuracy %6.2f %%  %8.4f ms  chosen %3d times\n", sel->name(j).c_str(), 100 * acc[j], sel->model_ms(j), chosen[j]);
  std::printf("  selector accuracy %6.2f %%  %8.4f ms (premodel %.4f ms) = %.2fx the best network (%s)\n", 100 * selected_acc,
              selected_ms, sel->premodel_ms(), selected_ms / sel->model_ms(best), sel->name(best).c_str());
  CHECK(selected_acc >= acc[best] - 0.005);

  // The cost-aware rule, fitted on the validation part, keeps the bar on the held-out test part too.
  CHECK_THAT(sel->use_cost_aware(true).error().what(), Contains("no cost-aware rule: fit_cost_aware() first"));
  CHECK_THAT(sel->fit_cost_aware(test.images, test.labels).error().what(),
             Contains("fit_cost_aware: 360 inputs, but the premodel was trained on 432"));
  REQUIRE(sel->fit_cost_aware(val.images, val.labels).ok());
  REQUIRE(sel->cost_aware_active());
  const ThresholdPlan& plan = sel->cost_aware().plan;
  CHECK(plan.accuracy >= plan.required_accuracy);
  CHECK(plan.fit_margin <= 0.005);
  CHECK(sel->cost_aware_trials().size() >= 2);
  double aware_acc = 0;
  std::vector<int> aware_chosen(m, 0);
  for (std::size_t i = 0; i < test.size(); ++i) {
    auto r = sel->run(test.images[i].view());
    REQUIRE(r.ok());
    const auto y = r->outputs[0].floats();
    aware_acc += (std::max_element(y.begin(), y.end()) - y.begin() == test.labels[i]) / static_cast<double>(test.size());
    CHECK(sel->select(test.images[i].view()).value() == r->model);
    ++aware_chosen[r->model];
  }
  std::printf("  cost-aware rule (%s, fitted margin %.2f points): accuracy %6.2f %%, chosen", plan.scores_used ?
              (sel->cost_aware().kind == CascadeKind::premodel ? "premodel thresholds" : "self-confidence thresholds") : "one network alone",
              100 * plan.fit_margin, 100 * aware_acc);
  for (std::size_t j = 0; j < m; ++j) std::printf(" %d", aware_chosen[j]);
  std::printf("\n");
  // The target holds for the demonstration's four networks. Without large (reduced runs) the bar on the validation
  // part is medium's 99.77 % instead of large's 100 %, the rule accepts tiny above 0.826 confidence — just above a
  // validation error — and two tiny errors at 0.85-0.86 on the test part make it 97.78 % (the bar: 98.11 %):
  // 432 validation images cannot see them. Reduced runs check the validation guarantee only.
  if (!testing::reduced) CHECK(aware_acc >= acc[best] - 0.005);
  REQUIRE(sel->use_cost_aware(false).ok());

  // The premodel file round trip selects the same networks; a latency budget keeps out what does not fit.
  const auto path = (std::filesystem::temp_directory_path() / "primsel_select_digits.premodel").string();
  REQUIRE(sel->save_premodel(path).ok());
  std::vector<std::size_t> before;
  for (const Tensor& x : test.images) before.push_back(sel->select(x.view()).value());
  REQUIRE(sel->load_premodel(path).ok());
  for (std::size_t i = 0; i < test.size(); ++i) CHECK(sel->select(test.images[i].view()).value() == before[i]);
  std::filesystem::remove(path);
  CHECK(sel->cost_aware_trials().empty());  // a new premodel forgets the rule fitted to the old one
  sel->set_policy(SelectPolicy::latency_budget(sel->premodel_ms() + sel->model_ms(1) + 1e-9));
  for (const Tensor& x : test.images) CHECK(sel->select(x.view()).value() <= 1);
}

TEST_CASE("top1_confidence is the largest softmax probability", "[select][selector]") {
  CHECK(top1_confidence(std::vector<float>{0, 0}) == Approx(0.5));
  CHECK(top1_confidence(std::vector<float>{3}) == 1.0f);
  CHECK(top1_confidence(std::vector<float>{1000, 0, -1000}) == Approx(1.0));
  CHECK(top1_confidence(std::vector<float>{std::log(3.0f), 0}) == Approx(0.75));
  CHECK(top1_confidence(std::vector<float>{std::numeric_limits<float>::quiet_NaN(), 0}) == 0.0f);
  CHECK(top1_confidence({}) == 0.0f);
}
