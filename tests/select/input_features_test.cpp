// InputFeatures on images whose features are known in closed form.
#include <catch2/catch.hpp>

#include <array>
#include <cmath>
#include <set>
#include <string_view>

#include "primsel/core/random.hpp"
#include "primsel/select/input_features.hpp"

using namespace primsel;
using primsel::select::InputFeatures;

namespace {

using Features = std::array<float, InputFeatures::count>;

Features features_of(const Tensor& x) {
  Features f{};
  REQUIRE(InputFeatures::check(x.view()).empty());
  InputFeatures::extract(x.view(), f);
  return f;
}

Tensor image(int c, int h, int w, float fill = 0.0f) {
  Tensor t(Shape{1, c, h, w});
  for (float& v : t.floats()) v = fill;
  return t;
}

float& px(Tensor& t, int y, int x, int ch = 0) {
  const auto& s = t.shape();
  return t.data<float>()[(ch * s[2] + y) * s[3] + x];
}

// Sums of a handful of float terms: exact up to rounding to float.
constexpr double tol = 1e-6;

}  // namespace

TEST_CASE("feature names are unique and match the count", "[select][features]") {
  constexpr auto names = InputFeatures::names();
  std::set<std::string_view> unique(names.begin(), names.end());
  CHECK(unique.size() == InputFeatures::count);
  CHECK(names[4] == "edge_density");
  CHECK(names[14] == "cell_00");
  CHECK(names[29] == "cell_33");
}

TEST_CASE("a flat image: mean only, centred, no edges", "[select][features]") {
  const Features f = features_of(image(1, 8, 8, 0.5f));
  CHECK(f[0] == Approx(0.5).margin(tol));  // brightness
  for (int i : {1, 2, 3, 4, 5, 6, 9, 10, 11, 12, 13}) CHECK(f[static_cast<std::size_t>(i)] == Approx(0.0).margin(tol));
  CHECK(f[7] == Approx(0.5).margin(tol));  // centroid of a constant image: the middle
  CHECK(f[8] == Approx(0.5).margin(tol));
  for (std::size_t k = 14; k < InputFeatures::count; ++k) CHECK(f[k] == Approx(0.5).margin(tol));
}

TEST_CASE("one bright pixel: centroid, edges, ink, thumbnail cell", "[select][features]") {
  Tensor x = image(1, 8, 8);
  px(x, 2, 5) = 1.0f;  // row 2, column 5
  const Features f = features_of(x);
  CHECK(f[0] == Approx(1.0 / 64).margin(tol));
  CHECK(f[1] == Approx(std::sqrt(1.0 / 64 - 1.0 / 4096)).margin(tol));
  // Forward differences exceed 1/4 of the range at (2,4) (to the right), (1,5) (below) and (2,5) itself.
  CHECK(f[4] == Approx(3.0 / 64).margin(tol));
  CHECK(f[5] == Approx((2 + std::sqrt(2.0)) / 64).margin(tol));
  CHECK(f[6] == Approx(1.0 / 64).margin(tol));
  CHECK(f[7] == Approx(5.0 / 7).margin(tol));  // centroid_x
  CHECK(f[8] == Approx(2.0 / 7).margin(tol));  // centroid_y
  CHECK(f[9] == Approx(0.0).margin(tol));
  CHECK(f[10] == Approx(0.0).margin(tol));
  CHECK(f[12] == Approx(2.0 / 64).margin(tol));  // mirrored left-right: (2,5) and (2,2) differ
  CHECK(f[13] == Approx(2.0 / 64).margin(tol));  // mirrored top-bottom: (2,5) and (5,5) differ
  for (std::size_t k = 14; k < InputFeatures::count; ++k)  // 2x2 cells: the pixel is in cell (1, 2)
    CHECK(f[k] == Approx(k == 14 + 1 * 4 + 2 ? 0.25 : 0.0).margin(tol));
}

TEST_CASE("two halves: contrast, two-point moments, one edge column", "[select][features]") {
  Tensor x = image(1, 8, 8);
  for (int y = 0; y < 8; ++y)
    for (int c = 4; c < 8; ++c) px(x, y, c) = 1.0f;
  const Features f = features_of(x);
  CHECK(f[0] == Approx(0.5).margin(tol));
  CHECK(f[1] == Approx(0.5).margin(tol));
  CHECK(f[2] == Approx(0.0).margin(tol));  // symmetric two-point distribution: skewness 0, kurtosis 1
  CHECK(f[3] == Approx(1.0).margin(tol));
  CHECK(f[4] == Approx(8.0 / 64).margin(tol));  // the step between columns 3 and 4
  CHECK(f[6] == Approx(0.5).margin(tol));
  CHECK(f[7] == Approx(5.5 / 7).margin(tol));
  CHECK(f[8] == Approx(0.5).margin(tol));
  CHECK(f[11] == Approx(0.0).margin(tol));
  CHECK(f[12] == Approx(1.0).margin(tol));
  CHECK(f[13] == Approx(0.0).margin(tol));
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 4; ++c) CHECK(f[static_cast<std::size_t>(14 + r * 4 + c)] == Approx(c >= 2 ? 1.0 : 0.0).margin(tol));
}

TEST_CASE("channels are averaged; a constant offset moves only the brightness", "[select][features]") {
  Tensor one = image(1, 9, 7), three = image(3, 9, 7);
  Rng rng(5);
  for (int y = 0; y < 9; ++y)
    for (int x = 0; x < 7; ++x) {
      const float v = static_cast<float>(rng.uniform());
      px(one, y, x) = v;
      px(three, y, x, 0) = v - 0.25f, px(three, y, x, 1) = v, px(three, y, x, 2) = v + 0.25f;
    }
  const Features a = features_of(one), b = features_of(three);
  for (std::size_t k = 0; k < InputFeatures::count; ++k) CHECK(a[k] == Approx(b[k]).margin(1e-5));
  Tensor shifted = one;
  for (float& v : shifted.floats()) v += 2.0f;
  const Features s = features_of(shifted);
  CHECK(s[0] == Approx(a[0] + 2.0).margin(1e-5));
  for (std::size_t k = 1; k < 14; ++k) CHECK(s[k] == Approx(a[k]).margin(1e-4));
}

TEST_CASE("inputs the features cannot describe are refused with the shape", "[select][features]") {
  CHECK(InputFeatures::check(Tensor(Shape{2, 1, 8, 8}).view()).find("2x1x8x8") != std::string::npos);
  CHECK(!InputFeatures::check(Tensor(Shape{1, 1, 1, 8}).view()).empty());
  CHECK(!InputFeatures::check(Tensor(Shape{1, 64}).view()).empty());
  CHECK(!InputFeatures::check(Tensor(Shape{1, 8, 4, 4}, Format{Layout::nchw8c}).view()).empty());
}
