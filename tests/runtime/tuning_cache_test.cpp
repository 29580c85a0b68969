// The tuning cache: round trip, every corruption rejected with a reason, and Network's use of it (second start-up
// skips measuring and searching; a cache for another device, thread count or model, or a damaged file, is ignored
// with a warning and re-measured).
#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "primsel/runtime/network.hpp"
#include "primsel/runtime/tuning_cache.hpp"
#include "primsel/search/searchers.hpp"
#include "primsel/zoo/zoo.hpp"
#include "zoo_models.hpp"

using namespace primsel;

namespace {

TuningRecord sample() {
  TuningRecord r;
  r.device = "Some CPU 3000|avx2|threads=2|primsel=0.1.0";
  r.model = "0123456789abcdef";
  r.problem.nodes = {{"conv 1", {"im2col_gemm", "winograd_f43"}, {1.5, 0.25}},
                     {"pool", {"reference"}, {0.125}},
                     {"fc\\x", {"a", "b", "c"}, {3, 2, 1}}};
  r.problem.edges = {{0, 1, {0, 0.5}}, {1, 2, {0.1, 0.2, 0.3}}, {0, 2, {1, 2, 3, 4, 5, 6}}};
  r.bindings["qlearning 7"] = {1, 0, 2};
  r.quant = {{"x", {0.0235294122f, 0}}, {"conv 1 out", {1.0f / 3.0f, 128}}, {"y", {7.25e-6f, 255}},
             {"7-bit", {0.5f, 127, 127}}};
  r.means = {{"conv 1 out", {0.1f, -2.5f, 1e-7f, 3.0f / 7.0f}}, {"fc in", {42.0f}}};
  return r;
}

std::string temp_path(const char* name) {
  return (std::filesystem::temp_directory_path() / ("primsel_test_" + std::to_string(::getpid()) + "_" + name)).string();
}

void write(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

std::string read(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}

/// Re-signs edited content so the parser's structural checks (not the checksum) are what rejects it.
std::string resign(std::string body) { return body + "checksum " + hex64(fnv1a(body)) + "\n"; }

std::string body_of(const std::string& text) { return text.substr(0, text.rfind("checksum ")); }

}  // namespace

TEST_CASE("a tuning record survives serialisation exactly, names with spaces and backslashes included") {
  const TuningRecord r = sample();
  auto back = parse_tuning_cache(serialize(r));
  REQUIRE(back.ok());
  CHECK(back->device == r.device);
  CHECK(back->model == r.model);
  REQUIRE(back->problem.size() == 3);
  CHECK(back->problem.nodes[0].name == "conv 1");
  CHECK(back->problem.nodes[2].name == "fc\\x");
  CHECK(back->problem.nodes[0].candidates == r.problem.nodes[0].candidates);
  for (std::size_t i = 0; i < 3; ++i) CHECK(back->problem.nodes[i].cost == r.problem.nodes[i].cost);
  for (std::size_t e = 0; e < 3; ++e) CHECK(back->problem.edges[e].cost == r.problem.edges[e].cost);
  CHECK(back->bindings == r.bindings);
  CHECK(back->quant == r.quant);  // scales exactly, names with spaces too
  CHECK(back->means == r.means);  // channel means exactly
}

TEST_CASE("a version 3 cache (before mean records) is still read, without means") {
  TuningRecord r = sample();
  r.means.clear();
  std::string body = body_of(serialize(r));
  REQUIRE(body.rfind("primsel-tuning-cache 4\n", 0) == 0);
  body.replace(0, 22, "primsel-tuning-cache 3");
  auto back = parse_tuning_cache(resign(body));
  REQUIRE(back.ok());
  CHECK(back->quant == r.quant);
  CHECK(back->means.empty());
}

TEST_CASE("a version 2 cache's quant records (without levels) are whole-byte ones") {
  std::string body = body_of(serialize(sample()));
  body.replace(0, 22, "primsel-tuning-cache 2");
  const std::size_t at = body.find("quant x ");
  REQUIRE(at != std::string::npos);
  const std::size_t end = body.find('\n', at);
  body.replace(at, end - at, "quant x 0.25 7");
  auto back = parse_tuning_cache(resign(body));
  REQUIRE(back.ok());
  CHECK(back->quant[0].second == QuantParams{0.25f, 7, 255});
}

TEST_CASE("a version 1 cache (before quant records) is still read") {
  TuningRecord r = sample();
  r.quant.clear();
  std::string body = body_of(serialize(r));
  REQUIRE(body.rfind("primsel-tuning-cache 4\n", 0) == 0);
  body.replace(0, 22, "primsel-tuning-cache 1");
  auto back = parse_tuning_cache(resign(body));
  REQUIRE(back.ok());
  CHECK(back->bindings == r.bindings);
  CHECK(back->quant.empty());
}

TEST_CASE("every damaged cache is rejected with a reason") {
  const std::string good = serialize(sample());
  auto rejects = [](const std::string& text, const std::string& reason) {
    auto r = parse_tuning_cache(text);
    INFO(text);
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error().what(), Catch::Contains(reason));
  };
  rejects("", "truncated");
  rejects(good.substr(0, good.size() / 2), "truncated");
  rejects(good.substr(0, good.size() - 5), "checksum mismatch");
  std::string flipped = good;
  flipped[flipped.find("1.5")] = '7';
  rejects(flipped, "checksum mismatch");
  rejects("\x7f\x45LF\x02\x01\x01 binary junk", "truncated");
  std::string body = body_of(good);
  rejects(resign("primsel-tuning-cache 5\n"), "version 1 to 4");
  rejects(resign("primsel-tuning-cache 0\n"), "version 1 to 4");
  rejects(resign(body + "mean x\n"), "malformed mean");
  rejects(resign(body + "mean x 0\n"), "malformed mean");
  rejects(resign(body + "mean x 3 1 2\n"), "fewer than 3 finite means");
  rejects(resign(body + "mean x 2 1 nan\n"), "fewer than 2 finite means");
  rejects(resign(body + "mean x 1 1 2\n"), "unexpected");
  rejects(resign(body + "quant x 0 0\n"), "malformed quant");
  rejects(resign(body + "quant x -1 0\n"), "malformed quant");
  rejects(resign(body + "quant x nan 0\n"), "malformed quant");
  rejects(resign(body + "quant x 0.5 256\n"), "malformed quant");
  rejects(resign(body + "quant x 0.5 -1\n"), "malformed quant");
  rejects(resign(body + "quant x 0.5\n"), "malformed quant");
  rejects(resign(body + "quant x 0.5 3 4\n"), "malformed quant");      // levels are 255 or 127
  rejects(resign(body + "quant x 0.5 128 127\n"), "malformed quant");  // the zero point outside them
  rejects(resign(body + "quant x 0.5 3 127 4\n"), "unexpected");
  rejects(resign(body + "edge 2 1 0\n"), "do not exist");
  rejects(resign(body + "node x 3 a 1 b\n"), "fewer candidates");
  rejects(resign(body + "node x 99999999 a 1\n"), "malformed node");
  rejects(resign(body + "edge 0 1 1\n"), "too few costs");
  rejects(resign(body + "node y 1 a -4\n"), "negative");
  rejects(resign(body + "binding greedy\\s1 0 0\n"), "wrong length");
  rejects(resign(body + "binding greedy\\s1 0 5 0\n"), "does not exist");
  rejects(resign(body + "surprise 1\n"), "unknown record");
  rejects(resign(body + "model abc extra\n"), "unexpected");
}

TEST_CASE("load and save report I/O problems") {
  auto missing = load_tuning_cache(temp_path("does_not_exist"));
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code() == ErrorCode::io_error);
  CHECK_FALSE(save_tuning_cache("/nonexistent-dir/x/cache.txt", sample()).ok());
  const std::string path = temp_path("roundtrip");
  REQUIRE(save_tuning_cache(path, sample()).ok());
  auto loaded = load_tuning_cache(path);
  REQUIRE(loaded.ok());
  CHECK(loaded->bindings == sample().bindings);
  std::filesystem::remove(path);
}

TEST_CASE("a second start-up reads the cache instead of measuring and searching") {
  const std::string path = temp_path("network");
  std::filesystem::remove(path);
  std::vector<std::string> warnings;
  const BindOptions o{.threads = 1,
                      .measure = {.warmup = 0, .min_runs = 1, .max_runs = 1},
                      .cache_path = path,
                      .warn = [&](std::string_view w) { warnings.emplace_back(w); }};
  const Tensor x = zoo::random_input({1, 1, 28, 28}, 2);

  auto first = Network<QLearning<>>::create(zoo::build("lenet5").value()).value();
  REQUIRE(first.bind(o).ok());
  CHECK_FALSE(first.report().measured_from_cache);
  CHECK(first.report().cache_note.find("no tuning cache yet") == 0);
  const std::vector<int> binding = first.report().search.binding;
  const Tensor y1 = first.run(x).value()[0];

  auto second = Network<QLearning<>>::create(zoo::build("lenet5").value()).value();
  REQUIRE(second.bind(o).ok());
  CHECK(second.report().measured_from_cache);
  CHECK(second.report().searched_from_cache);
  CHECK(second.report().search.binding == binding);
  CHECK(second.problem().cost(binding) == Approx(first.problem().cost(binding)).epsilon(1e-15));
  const Tensor y2 = second.run(x).value()[0];
  CHECK(std::equal(y1.floats().begin(), y1.floats().end(), y2.floats().begin()));
  // Another searcher on the cached measurements: searched, then remembered too.
  REQUIRE(second.bind_with<Greedy>(o).ok());
  CHECK(second.report().measured_from_cache);
  CHECK_FALSE(second.report().searched_from_cache);
  CHECK(warnings.empty());

  SECTION("another thread count is another device: ignored with a warning") {
    BindOptions two = o;
    two.threads = 2;
    auto net = Network<QLearning<>>::create(zoo::build("lenet5").value()).value();
    REQUIRE(net.bind(two).ok());
    CHECK_FALSE(net.report().measured_from_cache);
    REQUIRE(warnings.size() == 1);
    CHECK_THAT(warnings[0], Catch::Contains("threads=2"));
  }
  SECTION("another model: ignored with a warning") {
    auto net = Network<QLearning<>>::create(testing::test_zoo("squeezenet1_1")).value();
    REQUIRE(net.measure(o).ok());
    CHECK_FALSE(net.report().measured_from_cache);
    REQUIRE(warnings.size() == 1);
    CHECK_THAT(warnings[0], Catch::Contains("another model"));
  }
  SECTION("a truncated or edited file: ignored with a warning, re-measured, rewritten") {
    const std::string text = read(path);
    for (const std::string& damaged : {text.substr(0, text.size() / 3), text.substr(0, text.size() - 3) + "zz\n"}) {
      write(path, damaged);
      warnings.clear();
      auto net = Network<QLearning<>>::create(zoo::build("lenet5").value()).value();
      REQUIRE(net.bind(o).ok());
      CHECK_FALSE(net.report().measured_from_cache);
      REQUIRE(warnings.size() == 1);
      CHECK_THAT(warnings[0], Catch::Contains("ignoring the tuning cache"));
      CHECK(parse_tuning_cache(read(path)).ok());  // rewritten whole
    }
  }
  std::filesystem::remove(path);
}

TEST_CASE("cached bindings are keyed by searcher, Fixed primitive and configuration") {
  const std::string path = temp_path("keys");
  std::filesystem::remove(path);
  const BindOptions o{.measure = {.warmup = 0, .min_runs = 1, .max_runs = 1}, .cache_path = path};
  // Reduced: squeezenet1_1, whose 3x3 layers Winograd binds too, instead of resnet18 (11.7M weights to generate).
  auto net = Network<Greedy>::create(testing::test_zoo(testing::reduced ? "squeezenet1_1" : "resnet18", {.calibrate = false})).value();
  REQUIRE(net.bind_with<Fixed<Im2colGemm>>(o).ok());
  const std::vector<int> im2col = net.report().search.binding;
  CHECK(net.report().searcher == "fixed:im2col_gemm");
  REQUIRE(net.bind_with<Fixed<WinogradF43>>(o).ok());
  CHECK_FALSE(net.report().searched_from_cache);
  CHECK(net.report().search.binding != im2col);
  REQUIRE(net.bind_with<QLearning<>>(o).ok());
  REQUIRE(net.bind_with<QLearning<QConfig{.episodes = 5}>>(o).ok());
  CHECK_FALSE(net.report().searched_from_cache);  // another configuration: searched, not reused
  REQUIRE(net.bind_with<QLearning<>>(o).ok());
  CHECK(net.report().searched_from_cache);
  const auto record = load_tuning_cache(path);
  REQUIRE(record.ok());
  CHECK(record->bindings.size() == 4);
  std::filesystem::remove(path);
}
