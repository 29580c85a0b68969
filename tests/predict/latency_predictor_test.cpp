#include "primsel/predict/latency_predictor.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "primsel/predict/collect.hpp"
#include "primsel/predict/rank_stats.hpp"
#include "primsel/search/greedy.hpp"
#include "primsel/zoo/zoo.hpp"

using namespace primsel;
using namespace primsel::predict;

namespace {

ConvDesc layer(std::int64_t ic, std::int64_t oc, std::int64_t hw, std::int64_t k, std::int64_t stride) {
  std::string s = "mb1ic" + std::to_string(ic) + "ih" + std::to_string(hw) + "oc" + std::to_string(oc) + "kh" +
                  std::to_string(k) + "ph" + std::to_string(k / 2) + "sh" + std::to_string(stride);
  return parse_conv_desc(s).value();
}

/// A made-up device whose times follow a known power law of the layer: ms = c * macs^0.9 * out_bytes^0.15, with c
/// per primitive. log(ms) is then linear in the log-features, which the ridge model must recover.
double power_law_ms(const ConvDesc& d, const std::string& primitive) {
  const double c = primitive == "im2col_gemm" ? 2e-7 : 5e-7;
  return c * std::pow(double(d.macs()), 0.9) * std::pow(double(d.output_elements() * 4), 0.15);
}

std::vector<ConvDesc> test_layers(int salt) {
  std::vector<ConvDesc> out;
  for (std::int64_t ic : {3, 16, 32, 64, 96, 128, 256})
    for (std::int64_t oc : {16, 24, 64, 128, 256})
      for (std::int64_t hw : {7, 14, 28, 56})
        for (std::int64_t k : {1, 3, 5})
          if ((ic + oc + hw + k + salt) % 3 == 0) out.push_back(layer(ic, oc, hw, k, hw > 14 && k == 3 ? 2 : 1));
  return out;
}

std::vector<Sample> power_law_samples(const std::vector<ConvDesc>& ls, double slowdown = 1.0) {
  std::vector<Sample> s;
  for (const ConvDesc& d : ls)
    for (const std::string p : {"im2col_gemm", "direct_nchwc"}) s.push_back({d, p, 1, slowdown * power_law_ms(d, p)});
  return s;
}

/// The header and model numbers of a serialised predictor, as to_cpp_header() would write them.
struct Tables {
  std::vector<double> header;
  std::vector<std::string> names;
  std::vector<std::vector<double>> numbers;
  std::vector<EmbeddedModel> models;
  EmbeddedPredictor view() {
    models.clear();
    for (std::size_t i = 0; i < names.size(); ++i) models.push_back({names[i], numbers[i]});
    return {LatencyPredictor::format_version, header, models};
  }
};
Tables tables_of(const std::string& text) {
  Tables t;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string tag, name;
    ls >> tag;
    if (tag != "header" && tag != "model") continue;
    if (tag == "model") ls >> name;
    std::size_t n = 0;
    ls >> n;
    std::vector<double> v(n);
    for (double& x : v) ls >> x;
    if (tag == "header")
      t.header = v;
    else
      t.names.push_back(name), t.numbers.push_back(v);
  }
  return t;
}

}  // namespace

TEST_CASE("ridge recovers a power law from synthetic samples") {
  const std::vector<Sample> train = power_law_samples(test_layers(0));
  const LatencyPredictor p = LatencyPredictor::train(train, {.kind = PredictorKind::ridge, .lambda = 1e-3}).value();
  CHECK(p.primitives().size() == 2);
  // Held-out layers inside the training range: within 2% (the law is exactly linear in the log-features; what is
  // left is the tiny ridge penalty).
  for (const ConvDesc& d : test_layers(1))
    for (const std::string prim : {"im2col_gemm", "direct_nchwc"}) {
      INFO(to_string(d) << " " << prim);
      const Prediction got = p.predict(d, prim, 1);
      CHECK(got.known_primitive);
      CHECK(got.ms == Approx(power_law_ms(d, prim)).epsilon(0.02));
      CHECK(got.log_sigma < 0.1);
    }
}

TEST_CASE("ridge_knn keeps ridge's accuracy on a power law") {
  const LatencyPredictor p =
      LatencyPredictor::train(power_law_samples(test_layers(0)), {.kind = PredictorKind::ridge_knn, .lambda = 1e-3})
          .value();
  for (const ConvDesc& d : test_layers(1))
    CHECK(p.predict(d, "direct_nchwc", 1).ms == Approx(power_law_ms(d, "direct_nchwc")).epsilon(0.02));
}

TEST_CASE("knn predicts a power law within its neighbours' spread") {
  const LatencyPredictor p =
      LatencyPredictor::train(power_law_samples(test_layers(0)), {.kind = PredictorKind::knn}).value();
  // kNN interpolates between neighbouring layers: correct in order of magnitude, not exactly.
  for (const ConvDesc& d : test_layers(1)) {
    const Prediction got = p.predict(d, "im2col_gemm", 1);
    CHECK(std::abs(std::log(got.ms / power_law_ms(d, "im2col_gemm"))) < 1.0);
  }
}

TEST_CASE("uncertainty is larger for an unknown primitive and away from the training data") {
  for (PredictorKind kind : {PredictorKind::ridge, PredictorKind::knn, PredictorKind::ridge_knn}) {
    const LatencyPredictor p = LatencyPredictor::train(power_law_samples(test_layers(0)), {.kind = kind}).value();
    const ConvDesc d = layer(64, 64, 28, 3, 1);
    const Prediction known = p.predict(d, "im2col_gemm", 1);
    const Prediction unknown = p.predict(d, "mystery_conv", 1);
    CHECK(known.known_primitive);
    CHECK_FALSE(unknown.known_primitive);
    CHECK(unknown.ms > 0);
    CHECK(unknown.log_sigma > known.log_sigma);
    // Only 1-thread samples: 8 threads is extrapolation.
    CHECK(p.predict(d, "im2col_gemm", 8).log_sigma > known.log_sigma);
  }
}

TEST_CASE("calibrate() fixes a constant device slowdown from 5 samples") {
  LatencyPredictor p = LatencyPredictor::train(power_law_samples(test_layers(0)), {.lambda = 1e-3}).value();
  const std::vector<ConvDesc> other = test_layers(2);
  std::vector<double> before;
  for (const ConvDesc& d : other) before.push_back(p.predict(d, "direct_nchwc", 1).ms);
  // The new device is 2.5x slower everywhere; five of its layers (of both primitives) are measured.
  const std::vector<Sample> slow = power_law_samples(other, 2.5);
  REQUIRE(p.calibrate(std::span(slow).first(5)).ok());
  // Within the 2% the trained model itself has (ridge test above).
  for (std::size_t i = 0; i < other.size(); ++i) {
    CHECK(p.predict(other[i], "direct_nchwc", 1).ms ==
          Approx(2.5 * power_law_ms(other[i], "direct_nchwc")).epsilon(0.02));
    CHECK(p.predict(other[i], "im2col_gemm", 1).ms ==
          Approx(2.5 * power_law_ms(other[i], "im2col_gemm")).epsilon(0.02));
  }
  // Calibrating again starts over rather than compounding; an empty set removes it.
  const double once = p.predict(other[0], "direct_nchwc", 1).ms;
  REQUIRE(p.calibrate(std::span(slow).first(5)).ok());
  CHECK(p.predict(other[0], "direct_nchwc", 1).ms == Approx(once).epsilon(1e-12));
  REQUIRE(p.calibrate({}).ok());
  CHECK(p.predict(other[0], "direct_nchwc", 1).ms == Approx(before[0]).epsilon(1e-9));
}

namespace {

/// Mean over `layers` of Kendall's tau between a device's times (`truth`) and p's predictions, both primitives.
template <class Truth>
double mean_tau(const LatencyPredictor& p, const std::vector<ConvDesc>& layers, Truth truth) {
  double sum = 0;
  for (const ConvDesc& d : layers) {
    std::vector<double> measured, predicted;
    for (const std::string prim : {"im2col_gemm", "direct_nchwc"})
      measured.push_back(truth(d, prim)), predicted.push_back(p.predict(d, prim, 1).ms);
    sum += kendall_tau(measured, predicted);
  }
  return sum / double(layers.size());
}

/// Every candidate of the first n layers of `ls` measured on a device.
template <class Truth>
std::vector<Sample> measured_on(const std::vector<ConvDesc>& ls, std::size_t n, Truth truth) {
  std::vector<Sample> s;
  for (std::size_t i = 0; i < n && i < ls.size(); ++i)
    for (const std::string prim : {"im2col_gemm", "direct_nchwc"}) s.push_back({ls[i], prim, 1, truth(ls[i], prim)});
  return s;
}

}  // namespace

TEST_CASE("calibrate() recovers the ranking when primitives slow down by different factors") {
  const LatencyPredictor proxy = LatencyPredictor::train(power_law_samples(test_layers(0)), {.lambda = 1e-3}).value();
  // On the proxy direct_nchwc is 2.5x slower than im2col_gemm; on the target im2col_gemm is 3x slower and
  // direct_nchwc 0.5x: every ranking flips (e.g. a vector width that suits one kernel and not the other).
  auto target = [](const ConvDesc& d, const std::string& prim) {
    return power_law_ms(d, prim) * (prim == "im2col_gemm" ? 3.0 : 0.5);
  };
  const std::vector<ConvDesc> cal_layers = test_layers(2), eval = test_layers(1);
  CHECK(mean_tau(proxy, eval, target) == Approx(-1.0));
  LatencyPredictor p = proxy;
  REQUIRE(p.calibrate(measured_on(cal_layers, 10, target)).ok());  // 10 layers, 20 samples
  CHECK(mean_tau(p, eval, target) == Approx(1.0));
  // Shrunk toward the global rescale (10 samples + 2 prior ones): within ~30% of the truth, not exact.
  for (const ConvDesc& d : eval)
    for (const std::string prim : {"im2col_gemm", "direct_nchwc"}) {
      const double ratio = p.predict(d, prim, 1).ms / target(d, prim);
      CHECK(ratio > 0.7);
      CHECK(ratio < 1.4);
    }
}

TEST_CASE("calibrate() fits a per-primitive slope where a primitive's slowdown grows with the layer") {
  const LatencyPredictor proxy = LatencyPredictor::train(power_law_samples(test_layers(0)), {.lambda = 1e-3}).value();
  // The target's direct_nchwc slows down with the layer's size (cache-bound on large layers): a ranking that
  // flips in the middle of the size range, which one offset per primitive cannot express.
  std::vector<double> macs;
  for (const ConvDesc& d : test_layers(0)) macs.push_back(std::log(double(d.macs())));
  std::sort(macs.begin(), macs.end());
  const double mid = macs[macs.size() / 2];
  auto target = [mid](const ConvDesc& d, const std::string& prim) {
    const double grow = prim == "direct_nchwc" ? std::exp(0.5 * (std::log(double(d.macs())) - mid)) / 2.5 : 1.0;
    return power_law_ms(d, prim) * grow;
  };
  // Calibration layers over the whole size range (every 3rd of the list sorted by MACs).
  std::vector<ConvDesc> sorted = test_layers(2);
  std::sort(sorted.begin(), sorted.end(), [](const ConvDesc& a, const ConvDesc& b) { return a.macs() < b.macs(); });
  std::vector<ConvDesc> cal_layers;
  for (std::size_t i = 1; i < sorted.size() && cal_layers.size() < 10; i += sorted.size() / 10)
    cal_layers.push_back(sorted[i]);
  const std::vector<Sample> cal = measured_on(cal_layers, 10, target);
  const std::vector<ConvDesc> eval = test_layers(1);
  LatencyPredictor offsets = proxy, slopes = proxy;
  REQUIRE(offsets.calibrate(cal).ok());  // the default: offsets only
  REQUIRE(slopes.calibrate(cal, {.min_slope_samples = 5}).ok());
  const double t_offsets = mean_tau(offsets, eval, target), t_slopes = mean_tau(slopes, eval, target);
  INFO("tau, offsets only " << t_offsets << ", with slopes " << t_slopes);
  CHECK(t_offsets < 0.5);
  CHECK(t_slopes > 0.8);
}

TEST_CASE("calibrate() with layer effects: a burst on some layers is not a primitive's offset") {
  const LatencyPredictor proxy = LatencyPredictor::train(power_law_samples(test_layers(0)), {.lambda = 1e-3}).value();
  // The target is the proxy 2x slower; but the three layers that have direct_nchwc candidates were measured during
  // a 3x load burst (all their candidates). Unbalanced: im2col_gemm also has six quiet layers.
  const std::vector<ConvDesc> ls = test_layers(2);
  std::vector<Sample> cal;
  for (std::size_t i = 0; i < 9; ++i) {
    const double burst = i < 3 ? 3.0 : 1.0;
    cal.push_back({ls[i], "im2col_gemm", 1, 2 * burst * power_law_ms(ls[i], "im2col_gemm")});
    if (i < 3) cal.push_back({ls[i], "direct_nchwc", 1, 2 * burst * power_law_ms(ls[i], "direct_nchwc")});
  }
  // The contrast direct_nchwc / im2col_gemm on a new layer should stay the proxy's (no primitive changed).
  const ConvDesc d = test_layers(1).front();
  auto contrast_change = [&](const LatencyPredictor& p) {
    return std::log(p.predict(d, "direct_nchwc", 1).ms / p.predict(d, "im2col_gemm", 1).ms) -
           std::log(proxy.predict(d, "direct_nchwc", 1).ms / proxy.predict(d, "im2col_gemm", 1).ms);
  };
  LatencyPredictor with = proxy, without = proxy;
  REQUIRE(with.calibrate(cal, {.min_slope_samples = 1000}).ok());
  REQUIRE(without.calibrate(cal, {.min_slope_samples = 1000, .layer_effects = false}).ok());
  CHECK(std::abs(contrast_change(with)) < 0.05);
  CHECK(contrast_change(without) > 0.3);  // the burst taken for a slower direct_nchwc
}

TEST_CASE("calibrate() falls back gracefully on few samples") {
  const LatencyPredictor proxy = LatencyPredictor::train(power_law_samples(test_layers(0)), {.lambda = 1e-3}).value();
  const std::vector<ConvDesc> ls = test_layers(2);
  const ConvDesc small = ls.front(), large = ls.back();
  auto log_ratio = [&](const LatencyPredictor& p, const ConvDesc& d, const char* prim) {
    return std::log(p.predict(d, prim, 1).ms / proxy.predict(d, prim, 1).ms);
  };
  SECTION("one sample: a constant slowdown for every primitive") {
    LatencyPredictor p = proxy;
    REQUIRE(p.calibrate(std::vector<Sample>{{small, "direct_nchwc", 1, 3 * power_law_ms(small, "direct_nchwc")}}).ok());
    // The global rescale fits the one sample exactly, leaving the primitive's offset nothing to fit.
    CHECK(log_ratio(p, large, "direct_nchwc") == Approx(std::log(3.0)).epsilon(0.02));
    CHECK(log_ratio(p, large, "im2col_gemm") == Approx(std::log(3.0)).epsilon(0.02));
    CHECK(log_ratio(p, large, "unseen") == Approx(std::log(3.0)).epsilon(0.02));
  }
  SECTION("fewer than min_slope_samples of a primitive: no slope of its own, an offset only") {
    // 4 samples of each primitive where direct_nchwc's slowdown grows with size: its calibrated ratio must not.
    std::vector<Sample> cal;
    for (std::size_t i = 0; i < 4; ++i) {
      const ConvDesc& d = ls[i * ls.size() / 4];
      cal.push_back({d, "im2col_gemm", 1, power_law_ms(d, "im2col_gemm")});
      cal.push_back({d, "direct_nchwc", 1, power_law_ms(d, "direct_nchwc") * std::pow(double(d.macs()), 0.3)});
    }
    LatencyPredictor p = proxy;
    REQUIRE(p.calibrate(cal, {.min_slope_samples = 5}).ok());
    const double direct_growth = log_ratio(p, large, "direct_nchwc") - log_ratio(p, small, "direct_nchwc");
    const double im2col_growth = log_ratio(p, large, "im2col_gemm") - log_ratio(p, small, "im2col_gemm");
    CHECK(direct_growth == Approx(im2col_growth).margin(1e-9));  // both only the global slope
    REQUIRE(p.calibrate(cal, {.min_slope_samples = 4}).ok());
    CHECK(log_ratio(p, large, "direct_nchwc") - log_ratio(p, small, "direct_nchwc") >
          log_ratio(p, large, "im2col_gemm") - log_ratio(p, small, "im2col_gemm") + 0.5);
  }
  SECTION("samples of a primitive the predictor does not know inform the global rescale only") {
    LatencyPredictor p = proxy;
    std::vector<Sample> cal;
    for (std::size_t i = 0; i < 6; ++i) cal.push_back({ls[i], "fancy_conv", 1, 2 * power_law_ms(ls[i], "im2col_gemm")});
    REQUIRE(p.calibrate(cal).ok());
    CHECK(std::isfinite(p.predict(large, "fancy_conv", 1).ms));
    CHECK(std::isfinite(p.predict(large, "direct_nchwc", 1).log_sigma));
  }
}

TEST_CASE("calibrate() rejects bad samples and options, keeping the calibration it had") {
  LatencyPredictor p = LatencyPredictor::train(power_law_samples(test_layers(0))).value();
  const ConvDesc d = test_layers(2).front();
  REQUIRE(p.calibrate(power_law_samples(test_layers(2), 2.0)).ok());
  const double before = p.predict(d, "direct_nchwc", 1).ms;
  auto error_of = [&](std::vector<Sample> s, CalibrationOptions o = {}) {
    const Status st = p.calibrate(s, o);
    return st ? std::string() : std::string(st.error().what());
  };
  for (double ms : {0.0, -1.0, std::nan(""), double(INFINITY)}) {
    INFO(ms);
    CHECK_THAT(error_of({{d, "im2col_gemm", 1, 1.0}, {d, "direct_nchwc", 1, ms}}),
               Catch::Contains("sample direct_nchwc on " + to_string(d) + " needs a positive, finite time"));
  }
  CHECK_THAT(error_of({{d, "im2col_gemm", 0, 1.0}}), Catch::Contains("thread count"));
  CHECK_THAT(error_of({}, {.prior_samples = 0}), Catch::Contains("prior_samples must be positive"));
  CHECK_THAT(error_of({}, {.min_slope_samples = 1}), Catch::Contains("min_slope_samples >= 2"));
  CHECK(p.predict(d, "direct_nchwc", 1).ms == before);
}

TEST_CASE("version 1 predictor tables (no calibration slope) are still read") {
  LatencyPredictor p = LatencyPredictor::train(power_law_samples(test_layers(0))).value();
  REQUIRE(p.calibrate(power_law_samples(test_layers(2), 2.0), {.min_slope_samples = 1000}).ok());  // offsets only
  Tables t = tables_of(p.serialize());
  for (std::vector<double>& v : t.numbers) v.erase(v.begin() + 3);  // version 2 added the slope at index 3
  EmbeddedPredictor v1 = t.view();
  v1.version = 1;
  const LatencyPredictor q = LatencyPredictor::from_embedded(v1).value();
  for (const ConvDesc& d : test_layers(1))
    CHECK(q.predict(d, "direct_nchwc", 1).ms == p.predict(d, "direct_nchwc", 1).ms);
}

TEST_CASE("serialize/parse and the embedded tables give identical predictions") {
  for (PredictorKind kind : {PredictorKind::ridge, PredictorKind::knn, PredictorKind::ridge_knn}) {
    LatencyPredictor p = LatencyPredictor::train(power_law_samples(test_layers(0)), {.kind = kind}).value();
    // The calibration travels too: offsets and, from 5 samples of a primitive on (when asked for), slopes.
    std::vector<Sample> slow = power_law_samples(test_layers(2), 1.7);
    for (std::size_t i = 0; i < slow.size(); ++i) slow[i].ms *= std::pow(1.0 + double(i % 7), 0.2);
    REQUIRE(p.calibrate(std::span(slow).first(12), {.min_slope_samples = 5}).ok());
    const std::string text = p.serialize();
    const LatencyPredictor q = LatencyPredictor::parse(text).value();
    Tables t = tables_of(text);
    const LatencyPredictor e = LatencyPredictor::from_embedded(t.view()).value();
    CHECK(q.serialize() == text);
    CHECK(q.kind() == kind);
    for (const ConvDesc& d : test_layers(1))
      for (const std::string prim : {"im2col_gemm", "direct_nchwc", "unseen"}) {
        const Prediction a = p.predict(d, prim, 1), b = q.predict(d, prim, 1), c = e.predict(d, prim, 1);
        CHECK(a.ms == b.ms);
        CHECK(a.log_sigma == b.log_sigma);
        CHECK(a.ms == c.ms);
        CHECK(a.log_sigma == c.log_sigma);
        CHECK(a.known_primitive == b.known_primitive);
      }
    // The generated header holds the same tables.
    const std::string h = p.to_cpp_header("my_device");
    CHECK(h.find("inline constexpr EmbeddedPredictor my_device{2, my_device_header, my_device_models};") !=
          std::string::npos);
    CHECK(h.find("{\"im2col_gemm\", my_device_model") != std::string::npos);
    CHECK(h.find("{\"*\", my_device_model2}") != std::string::npos);
  }
}

TEST_CASE("corrupt, truncated and wrong-version predictor files are errors, never crashes") {
  const LatencyPredictor p = LatencyPredictor::train(power_law_samples(test_layers(0))).value();
  const std::string text = p.serialize();
  auto error_of = [](std::string_view s) {
    auto r = LatencyPredictor::parse(s);
    return r ? std::string() : std::string(r.error().what());
  };
  CHECK_THAT(error_of(""), Catch::Contains("does not start with"));
  CHECK_THAT(error_of("hello\n"), Catch::Contains("does not start with"));
  std::string v3 = text;
  v3.replace(v3.find(" 2\n"), 3, " 3\n");
  CHECK_THAT(error_of(v3), Catch::Contains("version 3, this build reads versions 1 to 2"));
  CHECK_THAT(error_of(text.substr(0, text.size() / 2)), Catch::Contains("truncated"));
  std::string flipped = text;
  const std::size_t digit = flipped.find_first_of("123456789", flipped.find("model "));
  flipped[digit] = flipped[digit] == '9' ? '8' : '9';
  CHECK_THAT(error_of(flipped), Catch::Contains("checksum mismatch"));
  // Every truncation fails cleanly (short of the final newline, which a complete file may lack).
  for (std::size_t n = 0; n + 1 < text.size(); n += 97) {
    INFO("first " << n << " of " << text.size() << " bytes");
    CHECK_FALSE(error_of(text.substr(0, n)).empty());
  }

  // Tables that pass the checksum but are inconsistent (as a hand-made embedded table might be).
  Tables t = tables_of(text);
  t.header[1] = 3;
  CHECK_THAT(std::string(LatencyPredictor::from_embedded(t.view()).error().what()), Catch::Contains("3 features"));
  t = tables_of(text);
  t.numbers[0].pop_back();
  CHECK_THAT(std::string(LatencyPredictor::from_embedded(t.view()).error().what()),
             Catch::Contains("numbers, its sizes say"));
  t = tables_of(text);
  t.names.pop_back(), t.numbers.pop_back();
  CHECK_THAT(std::string(LatencyPredictor::from_embedded(t.view()).error().what()), Catch::Contains("generic model"));
  t = tables_of(text);
  t.numbers[0][4] = 1e300;
  CHECK_FALSE(LatencyPredictor::from_embedded(t.view()).ok());
  t = tables_of(text);
  t.numbers[0][3] = 7;  // a calibration slope no calibrate() writes
  CHECK_THAT(std::string(LatencyPredictor::from_embedded(t.view()).error().what()),
             Catch::Contains("calibration out of range"));
  EmbeddedPredictor wrong = t.view();
  wrong.version = 7;
  CHECK_THAT(std::string(LatencyPredictor::from_embedded(wrong).error().what()), Catch::Contains("version 7"));
}

TEST_CASE("training needs samples with positive times") {
  CHECK_FALSE(LatencyPredictor::train(std::vector<Sample>{}).ok());
  std::vector<Sample> s = power_law_samples(test_layers(0));
  s[3].ms = 0;
  CHECK_THAT(std::string(LatencyPredictor::train(s).error().what()), Catch::Contains("positive time"));
}

TEST_CASE("collect_samples gives one sample per conv candidate of a measured lenet5") {
  auto net = Network<Greedy>::create(zoo::build("lenet5", {.calibrate = false}).value()).value();
  CHECK(collect_samples(net, 1).empty());  // nothing measured yet
  REQUIRE(net.measure({.measure = {.warmup = 0, .min_runs = 1, .max_runs = 1}}).ok());
  const std::vector<Sample> s = collect_samples(net, 1, "lenet5");
  std::size_t expected = 0;
  const Graph& g = net.graph();
  for (std::size_t i = 0; i < g.nodes().size(); ++i)
    if (g.nodes()[i].op == OpKind::Conv) expected += net.report().layers[i].candidates.size();
  REQUIRE(expected > 0);
  CHECK(s.size() == expected);
  std::size_t at = 0;
  for (std::size_t i = 0; i < g.nodes().size(); ++i) {
    if (g.nodes()[i].op != OpKind::Conv) continue;
    const LayerBinding& l = net.report().layers[i];
    for (std::size_t c = 0; c < l.candidates.size(); ++c, ++at) {
      CHECK(s[at].desc == conv_desc(g, g.nodes()[i]));
      CHECK(s[at].primitive == l.candidates[c]);
      CHECK(s[at].ms == l.ms[c]);
      CHECK(s[at].threads == 1);
      CHECK(s[at].source == "lenet5");
    }
  }
  // The samples file round-trips, and a damaged one names its line.
  const auto back = parse_samples(write_samples(s)).value();
  REQUIRE(back.size() == s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    CHECK(back[i].desc == s[i].desc);
    CHECK(back[i].primitive == s[i].primitive);
    CHECK(back[i].ms == Approx(s[i].ms).epsilon(1e-8));
  }
  CHECK_THAT(std::string(parse_samples("primsel-samples 1\nsample x y 1 -2 mb1ic1ih8oc1kh3\n").error().what()),
             Catch::Contains("line 2"));
  CHECK_FALSE(parse_samples("nonsense").ok());
  // A predictor trains on them.
  CHECK(LatencyPredictor::train(s).ok());
}
