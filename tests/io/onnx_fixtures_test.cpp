// Every model of tests/io/onnx_fixtures (one per op and attribute variant, small networks, and real torchvision
// exports; see its README) loads, runs through the reference executor and through a bound Network, and matches the
// expected output its generator computed (numpy for hand-built models, torch for exports). Tolerances: the
// manifest's (1e-4 of the output's magnitude for single ops, 1e-3 for networks) for the reference; a bound network
// may pick Winograd/FFT primitives, so it gets at least 1e-3 of the magnitude (see tests/runtime/network_test.cpp).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "primsel/io/onnx.hpp"
#include "primsel/runtime/network.hpp"
#include "primsel/runtime/reference_executor.hpp"
#include "primsel/search/greedy.hpp"

using namespace primsel;

namespace {

const std::string dir = std::string(PRIMSEL_SOURCE_DIR) + "/tests/io/onnx_fixtures/";

struct Fixture {
  std::string name;
  Shape input, output;
  double tolerance = 0;
  std::string description;
};

Shape parse_shape(const std::string& s) {
  Shape shape;
  std::stringstream in(s);
  for (std::string dim; std::getline(in, dim, 'x');) shape.push_back(std::stoll(dim));
  return shape;
}

std::vector<Fixture> manifest() {
  std::ifstream in(dir + "manifest.txt");
  std::vector<Fixture> out;
  for (std::string line; std::getline(in, line);) {
    std::stringstream fields(line);
    Fixture f;
    std::string input, output;
    fields >> f.name >> input >> output >> f.tolerance;
    std::getline(fields, f.description);
    f.input = parse_shape(input);
    f.output = parse_shape(output);
    out.push_back(f);
  }
  return out;
}

Tensor read_floats(const std::string& path, Shape shape) {
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Tensor t(shape);
  REQUIRE(bytes.size() == static_cast<std::size_t>(shape.numel()) * 4);
  std::memcpy(t.data<float>(), bytes.data(), bytes.size());  // the fixtures are little-endian, as is every target
  return t;
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  double d = 0;
  const auto x = a.floats(), y = b.floats();
  for (std::size_t i = 0; i < x.size(); ++i) d = std::max(d, std::isnan(y[i]) ? INFINITY : std::abs(static_cast<double>(x[i]) - y[i]));
  return d;
}
double max_abs(const Tensor& a) {
  double m = 0;
  for (float v : a.floats()) m = std::max(m, static_cast<double>(std::abs(v)));
  return m;
}

}  // namespace

TEST_CASE("every ONNX fixture loads and matches its expected output, on the reference and on a bound network") {
  const std::vector<Fixture> fixtures = manifest();
  REQUIRE(fixtures.size() >= 90);
  constexpr MeasureOptions quick{.warmup = 0, .min_runs = 1, .max_runs = 1};
  for (const Fixture& f : fixtures) {
    INFO(f.name << ":" << f.description);
    auto g = io::onnx::load_model(dir + f.name + ".onnx", {.input_shapes = {{"", f.input}}});
    INFO((g.ok() ? "" : g.error().what()));
    REQUIRE(g.ok());
    REQUIRE(g->value(g->outputs()[0]).shape == f.output);
    const Tensor x = read_floats(dir + f.name + ".in.bin", f.input);
    const Tensor expected = read_floats(dir + f.name + ".out.bin", f.output);

    auto reference = run_reference(*g, x);
    REQUIRE(reference.ok());
    const double ref_err = max_abs_diff(expected, (*reference)[0]);
    INFO("reference error " << ref_err << ", tolerance " << f.tolerance);
    CHECK(ref_err <= f.tolerance);

    auto net = Network<Greedy>::create(std::move(*g));
    REQUIRE(net.ok());
    const Status bound = net->bind({.threads = 1, .measure = quick});
    INFO((bound.ok() ? "" : bound.error().what()));
    REQUIRE(bound.ok());
    auto y = net->run(x);
    REQUIRE(y.ok());
    const double net_err = max_abs_diff(expected, (*y)[0]);
    const double net_tol = std::max(f.tolerance, 1e-3 * std::max(1.0, max_abs(expected)));
    INFO("network error " << net_err << ", tolerance " << net_tol);
    CHECK(net_err <= net_tol);
  }
}

TEST_CASE("the dynamic-batch fixture runs at batch 1 and 2 from the same file") {
  auto b1 = io::onnx::load_model(dir + "dynamic_batch.onnx");
  auto b2 = io::onnx::load_model(dir + "dynamic_batch.onnx", {.batch = 2});
  REQUIRE(b1.ok());
  REQUIRE(b2.ok());
  CHECK(b1->value(b1->inputs()[0]).shape.n() == 1);
  CHECK(b2->value(b2->inputs()[0]).shape.n() == 2);
  const Tensor x = read_floats(dir + "dynamic_batch_b2.in.bin", b2->value(b2->inputs()[0]).shape);
  const Tensor expected = read_floats(dir + "dynamic_batch_b2.out.bin", b2->value(b2->outputs()[0]).shape);
  auto y = run_reference(*b2, x);
  REQUIRE(y.ok());
  CHECK(max_abs_diff(expected, (*y)[0]) <= 1e-4 * std::max(1.0, max_abs(expected)));
}

TEST_CASE("a fixture truncated anywhere fails with an error naming the file") {
  std::ifstream in(dir + "resnet_basic_block.onnx", std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  REQUIRE(bytes.size() > 100);
  for (std::size_t cut = 0; cut < bytes.size(); cut += std::max<std::size_t>(1, bytes.size() / 97)) {
    INFO("cut at " << cut);
    CHECK_FALSE(io::onnx::parse_model(std::string_view(bytes).substr(0, cut)).ok());
  }
}
