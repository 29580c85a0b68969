// Bad input everywhere (issue 11): wrong inputs to run(), NaN and infinities through every primitive and through
// int8, zero, negative and huge declared shapes (builder and ONNX), damaged, foreign or unwritable tuning caches,
// damaged predictor files, bad budgets, and a primitive list that supports none of a layer. Each gets a clear error
// naming what and where, or one warning and a working bind: never a crash, never silent garbage.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include <unistd.h>

#include "io/onnx_model_bytes.hpp"
#include "primsel/primsel.hpp"
#include "test_config.hpp"

using namespace primsel;
using Catch::Matchers::Contains;

namespace {

using testing::quick;  // tests/test_config.hpp

constexpr float bad_nan = std::numeric_limits<float>::quiet_NaN();
constexpr float bad_inf = std::numeric_limits<float>::infinity();

Tensor bad_filled(const Shape& s, float v) {
  Tensor t(s);
  std::fill(t.floats().begin(), t.floats().end(), v);
  return t;
}

/// Bit for bit (NaN == NaN when the payloads agree), unlike operator== on floats.
bool bad_same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.size_bytes() == b.size_bytes() &&
         std::memcmp(a.bytes(), b.bytes(), a.size_bytes()) == 0;
}

std::int64_t bad_count_if(const Tensor& t, bool (*pred)(float)) {
  return std::count_if(t.floats().begin(), t.floats().end(), pred);
}
bool bad_is_nan(float v) { return std::isnan(v); }
bool bad_is_finite(float v) { return std::isfinite(v); }

std::string bad_temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("primsel_bad_" + std::to_string(::getpid()) + "_" + name)).string();
}
std::string bad_read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}
void bad_write_file(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

/// Conv 3x3 on 3 channels, 3x3 on 16, 1x1, depthwise 3x3: with lenet5's 5x5 layers every default primitive gets a
/// layer it supports.
Graph bad_small_net() {
  GraphBuilder b("bad_small", 11);
  ValueId x = b.input("image", {1, 3, 14, 14});
  x = b.relu(b.conv(x, {.out_channels = 16, .kernel = 3, .pad = 1}, "first"));
  x = b.relu(b.conv(x, {.out_channels = 16, .kernel = 3, .pad = 1}, "three"));
  x = b.max_pool(x, {.kernel = 2});
  x = b.relu(b.conv(x, {.out_channels = 24, .kernel = 1}, "pointwise"));
  x = b.relu(b.conv(x, {.out_channels = 24, .kernel = 3, .pad = 1, .groups = 24}, "dw"));
  b.output(b.linear(b.flatten(b.global_avg_pool(x)), 10, "fc"));
  Graph g = std::move(b).build().value();
  REQUIRE(zoo::calibrate(g).ok());
  return g;
}

/// Takes the cheapest int8 candidate wherever there is one: the input is then quantised before the first conv.
struct BadInt8First {
  static constexpr std::string_view name = "bad-int8-first";
  static bool int8(std::string_view c) { return c.ends_with("_u8s8") || c.ends_with("_u8"); }
  static SearchResult search(const SelectionProblem& p, const SearchOptions& = {}) {
    SearchResult r;
    for (const SearchNode& n : p.nodes) {
      std::size_t best = 0;
      for (std::size_t c = 1; c < n.cost.size(); ++c) {
        const bool kind_better = int8(n.candidates[c]) && !int8(n.candidates[best]);
        const bool same_kind = int8(n.candidates[c]) == int8(n.candidates[best]);
        if (kind_better || (same_kind && n.cost[c] < n.cost[best])) best = c;
      }
      r.binding.push_back(static_cast<int>(best));
    }
    r.cost = p.cost(r.binding);
    return r;
  }
};

/// The input value of graph `g` as a shape.
Shape bad_input_shape(const Graph& g) { return g.value(g.inputs()[0]).shape; }

/// Runs the bound network on poisoned inputs: all NaN, all +Inf, all -Inf, and one NaN pixel in the middle.
/// Every logit must come out non-finite (NaN for NaN in), and a clean run afterwards must equal the clean run
/// before bit for bit: nothing inside the binding (arena, workspace, padding) keeps the poison.
template <class Net>
void bad_check_poison(Net& net, const std::string& label) {
  INFO(label);
  const Shape shape = bad_input_shape(net.graph());
  const Tensor clean = zoo::random_input(shape, 5);
  auto before = net.run(clean);
  REQUIRE(before.ok());
  const Tensor& y0 = (*before)[0];
  REQUIRE(bad_count_if(y0, bad_is_finite) == y0.numel());
  Tensor one_nan = clean;
  one_nan.floats()[static_cast<std::size_t>(shape.numel() / 2 + shape[3] / 2)] = bad_nan;
  const std::pair<const char*, Tensor> poisons[] = {{"all NaN", bad_filled(shape, bad_nan)},
                                                    {"all +Inf", bad_filled(shape, bad_inf)},
                                                    {"all -Inf", bad_filled(shape, -bad_inf)},
                                                    {"one NaN pixel", one_nan}};
  for (const auto& [what, x] : poisons) {
    INFO(what);
    auto y = net.run(x);
    REQUIRE(y.ok());
    CHECK(bad_count_if((*y)[0], bad_is_finite) == 0);
    if (std::isnan(x.floats()[static_cast<std::size_t>(shape.numel() / 2 + shape[3] / 2)]))
      CHECK(bad_count_if((*y)[0], bad_is_nan) == (*y)[0].numel());
    auto after = net.run(clean);
    REQUIRE(after.ok());
    CHECK(bad_same_bits((*after)[0], y0));
  }
}

}  // namespace

TEST_CASE("run() refuses wrong inputs, naming the input and the expected and given shapes") {
  auto net = Network<Greedy>::create(zoo::build("lenet5").value()).value();
  REQUIRE(net.bind({.measure = quick}).ok());
  const Tensor x = zoo::random_input({1, 1, 28, 28}, 3);
  const Tensor y = net.run(x).value()[0];
  auto error_of = [&](const Tensor& in) {
    auto r = net.run(in);
    return r.ok() ? std::string() : std::string(r.error().what());
  };

  const std::string wrong_size = error_of(Tensor({1, 1, 32, 32}));
  CHECK_THAT(wrong_size, Contains("input 'input' must be 1x1x28x28 nchw/f32, got 1x1x32x32 nchw/f32"));
  CHECK_THAT(error_of(Tensor({28, 28})), Contains("got 28x28"));
  CHECK_THAT(error_of(Tensor({1, 1, 28, 28}, Format{native_blocked_layout})),
             Contains("got 1x1x28x28 " + to_string(Format{native_blocked_layout})));
  CHECK_THAT(error_of(Tensor({1, 1, 28, 28}, Format{Layout::nhwc, DType::u8})), Contains("got 1x1x28x28 nhwc/u8"));

  // Counts: the message says what the network takes and what it got.
  Tensor out({1, 10});
  const TensorView outs[] = {out.view()};
  const ConstTensorView two[] = {x.view(), x.view()};
  const Status too_many = net.run(two, outs);
  REQUIRE_FALSE(too_many.ok());
  CHECK(too_many.error().code() == ErrorCode::invalid_argument);
  CHECK_THAT(too_many.error().what(), Contains("takes 1 input(s) and 1 output(s), got 2 and 1"));
  const Status none = net.run(std::span<const ConstTensorView>{}, outs);
  REQUIRE_FALSE(none.ok());
  CHECK_THAT(none.error().what(), Contains("got 0 and 1"));
  // An output of the wrong shape, and views without data.
  Tensor wrong_out({1, 11});
  const TensorView wrong_outs[] = {wrong_out.view()};
  const ConstTensorView one[] = {x.view()};
  const Status bad_out = net.run(one, wrong_outs);
  REQUIRE_FALSE(bad_out.ok());
  CHECK_THAT(bad_out.error().what(), Contains("must be 1x10 nchw/f32, got 1x11 nchw/f32"));
  const ConstTensorView no_data[] = {ConstTensorView(nullptr, Shape{1, 1, 28, 28})};
  const Status empty_in = net.run(no_data, outs);
  REQUIRE_FALSE(empty_in.ok());
  CHECK_THAT(empty_in.error().what(), Contains("input 'input' has no data"));
  const TensorView no_out[] = {TensorView(nullptr, Shape{1, 10})};
  const Status empty_out = net.run(one, no_out);
  REQUIRE_FALSE(empty_out.ok());
  CHECK_THAT(empty_out.error().what(), Contains("has no data"));

  // None of it disturbed the binding.
  CHECK(bad_same_bits(net.run(x).value()[0], y));
}

TEST_CASE("NaN and infinities propagate through every default primitive on 1 and 2 threads and poison nothing") {
  std::vector<std::string> exercised;
  for (const char* model : {"lenet5", "bad_small"}) {
    for (int threads : {1, 2}) {
      if (!PRIMSEL_HAS_THREADS && threads > 1) continue;
      Graph g = std::string(model) == "lenet5" ? zoo::build("lenet5").value() : bad_small_net();
      auto net = Network<Greedy>::create(std::move(g)).value();
      const BindOptions o{.threads = threads, .measure = quick};
      REQUIRE(net.measure(o).ok());
      const std::string where = std::string(model) + " on " + std::to_string(threads) + " thread(s)";
      REQUIRE(net.bind_with<Greedy>(o).ok());
      bad_check_poison(net, where + ", greedy");
      DefaultConvPrimitives::for_each([&]<class P>() {
        bool offered = false;
        for (const LayerBinding& l : net.report().layers)
          offered = offered || std::find(l.candidates.begin(), l.candidates.end(), P::name) != l.candidates.end();
        if (!offered) return;
        REQUIRE(net.template bind_with<Fixed<P>>(o).ok());
        int chosen = 0;
        for (const LayerBinding& l : net.report().layers) chosen += l.candidates[static_cast<std::size_t>(l.chosen)] == P::name;
        REQUIRE(chosen > 0);  // the poison really went through P
        exercised.emplace_back(P::name);
        bad_check_poison(net, where + ", fixed " + std::string(P::name));
      });
    }
  }
  // Each default primitive was on the poisoned path at least once.
  DefaultConvPrimitives::for_each([&]<class P>() {
    INFO(P::name);
    CHECK(std::find(exercised.begin(), exercised.end(), P::name) != exercised.end());
  });
}

TEST_CASE("u8 quantisation maps NaN and -Inf to the calibrated low end and +Inf to the high end, in every lane") {
  // Scalar rule (quant/quantize.hpp): compare in float before converting, so NaN never reaches an int conversion.
  const QuantParams p{0.05f, 100};
  CHECK(quant::quantize(bad_nan, p, quant::u8_range) == 0);
  CHECK(quant::quantize(-bad_inf, p, quant::u8_range) == 0);
  CHECK(quant::quantize(bad_inf, p, quant::u8_range) == 255);
  CHECK(quant::quantize(-1e30f, p, quant::u8_range) == 0);
  CHECK(quant::quantize(1e30f, p, quant::u8_range) == 255);

  // The vector conversion the network inserts (quant/convert.hpp), from every f32 layout, poison in every lane
  // position (19 channels: full vectors and a tail), agrees with the scalar rule.
  const Shape s{1, 19, 3, 5};
  Tensor x(s);
  const float pattern[] = {bad_nan, bad_inf, -bad_inf, 1.0f, -2.0f, 1e30f, -1e30f};
  for (std::size_t i = 0; i < x.floats().size(); ++i) x.floats()[i] = pattern[(i * 5 + i / 7) % std::size(pattern)];
  for (Layout from : {Layout::nchw, Layout::nhwc, native_blocked_layout}) {
    INFO(to_string(from));
    Tensor xl(s, Format{from});
    REQUIRE(convert(x.view(), xl.view()).ok());
    Tensor q(s, Format{Layout::nhwc, DType::u8}, p);
    REQUIRE(convert_format(xl.view(), q.view()).ok());
    int mismatches = 0;
    for (std::int64_t c = 0; c < s.c(); ++c)
      for (std::int64_t hw = 0; hw < s.h() * s.w(); ++hw) {
        const float v = x.floats()[static_cast<std::size_t>(c * s.h() * s.w() + hw)];
        const auto got = q.data<std::uint8_t>()[hw * s.c() + c];
        mismatches += got != quant::quantize(v, p, quant::u8_range);
      }
    CHECK(mismatches == 0);
  }
}

TEST_CASE("a mixed-precision binding quantises NaN and infinities deterministically: saturated, not undefined") {
  const Graph g = zoo::build("lenet5").value();
  auto net = Network<BadInt8First>::create(g).value();
  std::vector<Tensor> samples;
  for (std::uint64_t seed = 1; seed <= 4; ++seed) samples.push_back(zoo::random_input(bad_input_shape(g), seed));
  REQUIRE(net.calibrate(samples).ok());
  REQUIRE(net.bind({.measure = quick, .precision = Precision::mixed,
                    .accuracy_budget = std::numeric_limits<double>::infinity()})
              .ok());
  const LayerBinding& first = net.report().layers[0];
  if (first.input_format.dtype != DType::u8) {
    WARN("skipped: no int8 primitive takes lenet5's first layer on this target (" +
         first.candidates[static_cast<std::size_t>(first.chosen)] + ")");
    return;
  }
  const Shape shape = bad_input_shape(g);
  auto run = [&](float v) { return net.run(bad_filled(shape, v)).value()[0]; };
  const Tensor clean = zoo::random_input(shape, 9);
  const Tensor y0 = net.run(clean).value()[0];
  // The input is quantised before anything else reads it: NaN and -Inf become the calibrated low end (u8 0), as
  // a very negative finite input does; +Inf the high end (u8 255), as a very large one does.
  const Tensor low = run(-1e30f), high = run(1e30f);
  CHECK(bad_count_if(low, bad_is_finite) == low.numel());
  CHECK(bad_count_if(high, bad_is_finite) == high.numel());
  CHECK(bad_same_bits(run(bad_nan), low));
  CHECK(bad_same_bits(run(-bad_inf), low));
  CHECK(bad_same_bits(run(bad_inf), high));
  CHECK(bad_same_bits(net.run(clean).value()[0], y0));
}

TEST_CASE("zero, negative and huge declared shapes are refused by the builder before anything is allocated") {
  auto build_error = [](auto&& add_layers) {
    GraphBuilder b("bad_shapes");
    add_layers(b);
    auto g = std::move(b).build();
    return g.ok() ? std::string() : std::string(g.error().what());
  };
  const std::int64_t big = std::int64_t{1} << 20;
  auto input_only = [](Shape s) {
    return [s](GraphBuilder& b) { b.output(b.relu(b.input("x", s))); };
  };
  CHECK_THAT(build_error(input_only({1, 0, 8, 8})), Contains("graph input 'x'") && Contains("dimension 1 is 0"));
  CHECK_THAT(build_error(input_only({1, 3, -8, 8})), Contains("dimension 2 is negative (-8)"));
  CHECK_THAT(build_error(input_only({1, 1, big, big})), Contains("1x1x1048576x1048576 has more than 2^31 elements"));
  CHECK_THAT(build_error(input_only({})), Contains("no dimensions"));
  // A layer whose weights or output would be huge: refused at that layer, before He-initialising 2^40 weights.
  CHECK_THAT(build_error([&](GraphBuilder& b) {
               b.output(b.conv(b.input("x", {1, 1024, 8, 8}), {.out_channels = big * 4, .kernel = 3}, "wide"));
             }),
             Contains("Conv 'wide'") && Contains("more than 2^31"));
  CHECK_THAT(build_error([&](GraphBuilder& b) {
               b.output(b.linear(b.flatten(b.input("x", {1, 1 << 16, 8, 8})), big * big, "fc"));
             }),
             Contains("Gemm 'fc'") && Contains("more than 2^31"));
  CHECK_THAT(build_error([&](GraphBuilder& b) {
               b.output(b.conv(b.input("x", {1, 1, 1 << 15, 1 << 15}), {.out_channels = 8, .kernel = 1}, "grow"));
             }),
             Contains("Conv 'grow'") && Contains("output shape 1x8x32768x32768 is unusable"));
  CHECK_THAT(build_error([&](GraphBuilder& b) { b.relu(b.input("x", {1, 3, 8, 8})); }), Contains("has no outputs"));

  // A Graph put together by hand meets the same checks in finalize() (which Network::create requires).
  Graph g("by_hand");
  const ValueId x = g.add_input("x", {1, 3, big, big});
  const ValueId y = g.add_node(OpKind::Relu, "relu", {x});
  const Status no_outputs = finalize(g);
  REQUIRE_FALSE(no_outputs.ok());
  CHECK_THAT(no_outputs.error().what(), Contains("graph 'by_hand' has no outputs"));
  g.mark_output(y);
  const Status huge = finalize(g);
  REQUIRE_FALSE(huge.ok());
  CHECK(huge.error().code() == ErrorCode::invalid_model);
  CHECK_THAT(huge.error().what(), Contains("graph input 'x'") && Contains("more than 2^31"));
  CHECK_FALSE(Network<Greedy>::create(std::move(g)).ok());
}

TEST_CASE("zero, negative and huge shapes in an ONNX file are refused naming the input and dimension") {
  using namespace onnx_bytes;
  // dim_value for every dim, negative ones included (value_info() would write a negative dim as a dim_param).
  auto fixed_dims = [](const std::string& name, const std::vector<std::int64_t>& dims) {
    Writer shape;
    for (std::int64_t d : dims) {
      Writer dim;
      dim.varint(1, static_cast<std::uint64_t>(d));
      shape.bytes(1, dim.str());
    }
    Writer tensor, type, w;
    tensor.varint(1, 1).bytes(2, shape.str());
    type.bytes(1, tensor.str());
    w.bytes(1, name).bytes(2, type.str());
    return w.str();
  };
  auto relu_model = [](const std::string& input) {
    return model(graph({node("Relu", {"x"}, {"y"}, {}, "relu")}, {}, {input}, {value_info("y", {1})}));
  };
  auto error_of = [](const std::string& bytes, const io::onnx::LoadOptions& o = {}) {
    auto g = io::onnx::parse_model(bytes, o);
    return g.ok() ? std::string() : std::string(g.error().what());
  };
  REQUIRE(error_of(relu_model(fixed_dims("x", {1, 3, 8, 8}))).empty());
  CHECK_THAT(error_of(relu_model(fixed_dims("x", {1, 0, 8, 8}))), Contains("graph input 'x' dimension 1 is 0"));
  CHECK_THAT(error_of(relu_model(fixed_dims("x", {1, 3, 8, -4}))), Contains("graph input 'x' dimension 3 is -4"));
  // A batch the file fixes at 0 or -1 is read as the dynamic batch (exporters write either for "any batch").
  for (std::int64_t batch : {0, -1}) {
    auto any_batch = io::onnx::parse_model(relu_model(fixed_dims("x", {batch, 3, 8, 8})), {.batch = 2});
    REQUIRE(any_batch.ok());
    CHECK(any_batch->value(any_batch->inputs()[0]).shape == Shape{2, 3, 8, 8});
  }
  CHECK_THAT(error_of(relu_model(fixed_dims("x", {1, 0, 8, 8})), {.input_shapes = {{"x", {1, 3, 8, 8}}}}),
             Contains("dimension 1 is 0"));
  CHECK_THAT(error_of(relu_model(fixed_dims("x", {1, 1, 1 << 20, 1 << 20}))),
             Contains("graph input 'x'") && Contains("more than 2^31"));
  // Symbolic dims chosen by the options: a zero or negative choice is refused the same way.
  const std::string dynamic = relu_model(value_info("x", {-1, 3, 8, 8}));
  REQUIRE(error_of(dynamic).empty());
  CHECK_THAT(error_of(dynamic, {.batch = 0}), Contains("LoadOptions::batch must be positive, got 0"));
  CHECK_THAT(error_of(dynamic, {.input_shapes = {{"x", {0, 3, 8, 8}}}}), Contains("dimension 0 is 0"));
  CHECK_THAT(error_of(dynamic, {.input_shapes = {{"x", {1 << 30, 3, 8, 8}}}}), Contains("more than 2^31"));
  // An output that would be huge, from small weights: refused at the node.
  const std::string grow =
      model(graph({node("Conv", {"x", "w"}, {"y"}, {}, "grow")}, {float_tensor("w", {16, 1, 1, 1}, std::vector<float>(16, 1.0f))},
                  {fixed_dims("x", {1, 1, 1 << 15, 1 << 15})}, {value_info("y", {1})}));
  CHECK_THAT(error_of(grow), Contains("Conv 'grow'") && Contains("1x16x32768x32768 is unusable"));
  // No outputs at all.
  CHECK_THAT(error_of(model(graph({node("Relu", {"x"}, {"y"})}, {}, {fixed_dims("x", {1, 3, 8, 8})}, {}))),
             Contains("no outputs"));
}

TEST_CASE("a truncated, edited or foreign tuning cache is ignored with one warning naming it, and rewritten") {
  const std::string path = bad_temp_path("cache");
  std::filesystem::remove(path);
  std::vector<std::string> warnings;
  const BindOptions o{.measure = quick, .cache_path = path,
                      .warn = [&](std::string_view w) { warnings.emplace_back(w); }};
  {
    auto net = Network<Greedy>::create(zoo::build("lenet5").value()).value();
    REQUIRE(net.bind(o).ok());
  }
  REQUIRE(warnings.empty());
  const std::string good = bad_read_file(path);
  REQUIRE(parse_tuning_cache(good).ok());
  const std::string body = good.substr(0, good.rfind("checksum "));
  auto resign = [](const std::string& b) { return b + "checksum " + hex64(fnv1a(b)) + "\n"; };
  auto replaced = [](std::string text, const std::string& from, const std::string& to) {
    const auto at = text.find(from);
    REQUIRE(at != std::string::npos);
    return text.replace(at, from.size(), to);
  };
  const std::size_t cost_at = good.find(' ', good.find(' ', good.find(' ', good.find("\nnode ") + 6) + 1) + 1) + 1;
  std::string edited = good;
  edited[cost_at] = edited[cost_at] == '7' ? '8' : '7';
  std::string garbage_cost = body;
  garbage_cost.replace(cost_at, 1, "x");

  struct Damage {
    const char* what;
    std::string text;
    std::string reason;
  };
  const Damage damages[] = {
      {"empty", "", "truncated"},
      {"truncated in half", good.substr(0, good.size() / 2), "truncated"},
      {"truncated in the checksum", good.substr(0, good.size() - 4), "checksum mismatch"},
      {"a cost edited", edited, "checksum mismatch"},
      {"binary junk", std::string("\x7f" "ELF\x02\x01\x01\0\0\0", 10), "truncated"},
      {"a cost made garbage, re-signed", resign(garbage_cost), "tuning cache line 4"},
      {"a garbage line, re-signed", resign(body + "garbage 1 2 3\n"), "unknown record 'garbage'"},
      {"format version 5", resign(replaced(body, "primsel-tuning-cache 4", "primsel-tuning-cache 5")),
       "line 1: not a primsel tuning cache of version 1 to 4"},
      {"another primsel version", resign(replaced(body, "primsel=" + std::string(version_string), "primsel=0.0.0")),
       "primsel=0.0.0"},
  };
  for (const Damage& d : damages) {
    INFO(d.what);
    bad_write_file(path, d.text);
    warnings.clear();
    auto net = Network<Greedy>::create(zoo::build("lenet5").value()).value();
    REQUIRE(net.bind(o).ok());
    CHECK_FALSE(net.report().measured_from_cache);
    REQUIRE(warnings.size() == 1);
    CHECK_THAT(warnings[0], Contains("ignoring the tuning cache") && Contains(path) && Contains(d.reason));
    CHECK(net.report().cache_note == warnings[0]);
    CHECK(net.run(zoo::random_input({1, 1, 28, 28}, 1)).ok());
    // Rewritten whole, with what this bind measured; no temporary left.
    auto rewritten = parse_tuning_cache(bad_read_file(path));
    REQUIRE(rewritten.ok());
    CHECK(rewritten->problem.size() == net.graph().nodes().size());
    CHECK_FALSE(std::filesystem::exists(path + ".tmp"));
  }
  std::filesystem::remove(path);
}

TEST_CASE("an unwritable tuning cache path warns once per bind, the bind works, and no temporary file is left") {
  const std::string dir = bad_temp_path("cache_dir");
  std::filesystem::create_directories(dir);
  std::vector<std::string> warnings;
  struct Unwritable {
    const char* what;
    std::string path;
    const char* reason;
  };
  const Unwritable paths[] = {
      {"a directory", dir, "Is a directory"},
      {"a missing directory", dir + "/missing/cache.txt", "cannot write tuning cache"},
      {"under /proc", "/proc/primsel_bad_input_cache", "cannot write tuning cache"},
  };
  for (const Unwritable& u : paths) {
    INFO(u.what);
    const BindOptions o{.measure = quick, .cache_path = u.path,
                        .warn = [&](std::string_view w) { warnings.emplace_back(w); }};
    warnings.clear();
    auto net = Network<Greedy>::create(zoo::build("lenet5").value()).value();
    // Saved after measuring and again after searching; read once: still one warning.
    REQUIRE(net.bind(o).ok());
    REQUIRE(warnings.size() == 1);
    CHECK_THAT(warnings[0], Contains(u.path) && Contains(u.reason));
    CHECK_FALSE(net.report().cache_note.empty());
    CHECK(net.run(zoo::random_input({1, 1, 28, 28}, 1)).ok());
    CHECK_FALSE(std::filesystem::exists(u.path + ".tmp"));
    // The next bind is another bind: one more warning, not zero, not two.
    REQUIRE(net.bind_with<Exact<>>(o).ok());
    CHECK(warnings.size() == 2);
    CHECK_FALSE(std::filesystem::exists(u.path + ".tmp"));
  }
  CHECK(std::filesystem::is_directory(dir));  // never replaced by a file
  std::filesystem::remove_all(dir);
}

TEST_CASE("a truncated, edited or foreign predictor file is an error saying which, never a crash") {
  std::vector<predict::Sample> samples;
  for (std::int64_t c : {8, 16, 32, 64})
    for (std::int64_t hw : {7, 14, 28})
      for (const char* prim : {"im2col_gemm", "direct_nchwc"}) {
        const ConvDesc d = parse_conv_desc("mb1ic" + std::to_string(c) + "ih" + std::to_string(hw) + "oc" +
                                           std::to_string(c) + "kh3ph1")
                               .value();
        samples.push_back({d, prim, 1, 1e-6 * static_cast<double>(d.macs()) * (prim[0] == 'i' ? 1.0 : 1.5)});
      }
  const std::string good = predict::LatencyPredictor::train(samples).value().serialize();
  const std::string path = bad_temp_path("predictor.txt");
  auto load_error = [&](const std::string& text) {
    bad_write_file(path, text);
    auto p = predict::LatencyPredictor::parse(bad_read_file(path));
    return p.ok() ? std::string() : std::string(p.error().what());
  };
  REQUIRE(load_error(good).empty());
  const std::string body = good.substr(0, good.rfind("checksum "));
  auto resign = [](const std::string& b) { return b + "checksum " + hex64(fnv1a(b)) + "\n"; };
  CHECK_THAT(load_error(good.substr(0, good.size() / 3)), Contains("truncated"));
  std::string edited = good;
  edited[edited.find_first_of("123456789", edited.find("\nmodel "))] ^= 1;
  CHECK_THAT(load_error(edited), Contains("checksum mismatch"));
  std::string v9 = good;
  const std::string version = std::to_string(predict::LatencyPredictor::format_version);
  const std::string version_line = "primsel-latency-predictor " + version + "\n";
  REQUIRE(v9.starts_with(version_line));
  v9.replace(0, version_line.size(), "primsel-latency-predictor 9\n");
  CHECK_THAT(load_error(v9), Contains("version 9, this build reads versions 1 to " + version));
  // Edited and re-signed, so the numbers themselves must be checked.
  std::string nan_body = body;
  const std::size_t number = nan_body.rfind(' ', nan_body.find('\n', nan_body.find("\nmodel ") + 1)) + 1;
  nan_body.replace(number, nan_body.find('\n', number) - number, "nan");
  CHECK_THAT(load_error(resign(nan_body)), Contains("is not a finite number"));
  CHECK_THAT(load_error(resign(body + "surprise 3 1 2 3\n")), Contains("unknown record 'surprise'"));
  std::string dropped = body;
  dropped.erase(dropped.rfind("\nmodel ") + 1);
  CHECK_THAT(load_error(resign(dropped)), Contains("generic model"));  // it is the last line
  std::filesystem::remove(path);
}

TEST_CASE("budgets: 0 means none; a negative or NaN one is refused by every bind entry point, naming the option") {
  auto net = Network<Greedy>::create(zoo::build("lenet5").value()).value();
  REQUIRE(net.bind({.measure = quick, .budget_ms = 0}).ok());
  CHECK_FALSE(net.report().budget_exceeded);  // 0 is no budget, not an exhausted one
  CHECK(net.report().pairs_measured == net.report().pairs);
  const Tensor x = zoo::random_input({1, 1, 28, 28}, 4);
  const Tensor y = net.run(x).value()[0];
  const std::vector<int> saved = net.report().search.binding;
  std::vector<std::string> names;
  for (const LayerBinding& l : net.report().layers) names.push_back(l.candidates[static_cast<std::size_t>(l.chosen)]);
  const std::vector<std::string_view> name_views(names.begin(), names.end());

  auto every_entry_point = [&](const BindOptions& o, const std::string& option) {
    const std::pair<const char*, Status> results[] = {
        {"bind", net.bind(o)},
        {"bind_with", net.bind_with<Exact<>>(o)},
        {"measure", net.measure(o)},
        {"bind_binding", net.bind_binding({.binding = saved}, "saved", o)},
        {"bind_names", net.bind_names(name_views, o)},
    };
    for (const auto& [entry, s] : results) {
      INFO(entry << " with " << option);
      REQUIRE_FALSE(s.ok());
      CHECK(s.error().code() == ErrorCode::invalid_argument);
      CHECK_THAT(s.error().what(), Contains(option));
    }
  };
  for (double bad : {-1.0, -std::numeric_limits<double>::infinity(), std::nan("")})
    every_entry_point({.measure = quick, .budget_ms = bad}, "BindOptions::budget_ms");
  every_entry_point({.measure = quick, .accuracy_budget = std::nan("")}, "BindOptions::accuracy_budget");
  every_entry_point({.measure = {.warmup = 0, .min_runs = 1, .max_runs = -1}}, "BindOptions::measure");
  // Refused before anything changed: the binding still runs as before.
  CHECK(bad_same_bits(net.run(x).value()[0], y));

  // max_runs 0: every candidate is still timed once.
  REQUIRE(net.bind({.measure = {.warmup = 0, .min_runs = 0, .max_runs = 0}}).ok());
  CHECK(net.report().pairs_measured == net.report().pairs);
  for (const LayerBinding& l : net.report().layers)
    for (double ms : l.ms) CHECK(ms >= 0);
  int calls = 0;
  const double ms = median_ms([&] { ++calls; }, {.warmup = 0, .min_runs = 0, .max_runs = 0});
  CHECK(calls == 1);
  CHECK(ms >= 0);
}

TEST_CASE("a primitive list that supports none of a layer's shapes names the layer and why each declined") {
  const Graph g = zoo::build("lenet5").value();
  const Node& conv1 = g.nodes()[0];
  REQUIRE(conv1.name == "conv1");
  const ConvDesc d = conv_desc(g, conv1);
  REQUIRE_FALSE(WinogradF43::supports(d).ok);
  REQUIRE_FALSE(Conv1x1Gemm::supports(d).ok);

  using Narrow = Network<Greedy, PrimitiveList<WinogradF43, Conv1x1Gemm>, PrimitiveList<>>;
  auto net = Narrow::create(g).value();
  const Status s = net.bind({.measure = quick});
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().code() == ErrorCode::unsupported);
  const std::string why = s.error().what();
  CHECK_THAT(why, Contains("Conv 'conv1'") && Contains(to_string(d)));
  CHECK_THAT(why, Contains("winograd_f43: " + std::string(WinogradF43::supports(d).why)));
  CHECK_THAT(why, Contains("conv1x1_gemm: " + std::string(Conv1x1Gemm::supports(d).why)));
  // Binding by name takes the same path to the candidates.
  const std::vector<std::string_view> names(net.graph().nodes().size(), "winograd_f43");
  CHECK_THAT(net.bind_names(names).error().what(), Contains("Conv 'conv1'") && Contains("no primitive in the list supports"));
  CHECK_FALSE(net.bound());

  auto empty = Network<Greedy, PrimitiveList<>, PrimitiveList<>>::create(g).value();
  const Status none = empty.bind({.measure = quick});
  REQUIRE_FALSE(none.ok());
  CHECK_THAT(none.error().what(), Contains("Conv 'conv1'") && Contains("the list is empty"));
}
