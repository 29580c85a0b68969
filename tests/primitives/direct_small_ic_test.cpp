// DirectSmallIc against the reference. Exact mode (the tester's default, no tolerance): inputs, weights and bias
// are small integers, so every partial sum is an integer below 2^24 and the direct summation order (ic, kh, kw per
// output, FMA) must give the reference's result bit for bit.
#include "conv_tester.hpp"
#include "primsel/primitives/direct_small_ic.hpp"

using namespace primsel;
using primsel::testing::ConvTester;

namespace {
constexpr std::int64_t input_channels[] = {1, 2, 3, 4, 5, 8};
constexpr std::int64_t output_channels[] = {1, 5, 16, 17, 33, 64};
constexpr std::int64_t sizes[] = {7, 13, 17, 23};
const Activation activations[] = {Activation{}, Activation::relu(), Activation{1, 4}};
}  // namespace

TEST_CASE("direct_small_ic equals the reference bit for bit over the kernel, stride and channel sweep") {
  int case_index = 0;
  for (std::int64_t k : {1, 3, 5, 7})
    for (std::int64_t stride : {1, 2})
      for (std::int64_t ic : input_channels)
        for (int threads : {1, 2}) {
          const auto pick = [&](auto& list, int salt) { return list[(case_index + salt) % std::size(list)]; };
          const std::int64_t oc = pick(output_channels, 0), h = pick(sizes, 1), w = pick(sizes, 2);
          ConvTester().ic(ic).oc(oc).hw(h, w).k(k).stride(stride).pad(k / 2).threads(threads)
              .activation(pick(activations, 0)).bias(case_index % 2 == 0).check<DirectSmallIc>();
          // Asymmetric pads (none on the left, more on the bottom), batch 2.
          ConvTester().ic(ic).oc(pick(output_channels, 3)).hw(w, h).k(k).stride(stride).pad(k / 2, 0, k / 2 + 1, 1)
              .batch(2).threads(threads).activation(pick(activations, 1)).bias(case_index % 3 != 0)
              .check<DirectSmallIc>();
          ++case_index;
        }
}

TEST_CASE("direct_small_ic handles every output channel count, activation and bias") {
  for (std::int64_t oc : {1, 5, 16, 17, 33, 64, 100})  // 100: several tile groups, the last one partial
    for (const Activation& a : activations)
      for (bool bias : {true, false}) {
        ConvTester().ic(3).oc(oc).hw(13, 17).k(3).pad(1).activation(a).bias(bias).check<DirectSmallIc>();
        ConvTester().ic(5).oc(oc).hw(17, 13).k(7).stride(2).pad(3).activation(a).bias(bias).batch(2)
            .check<DirectSmallIc>();
      }
}

TEST_CASE("direct_small_ic handles dilation, odd strides, wide rows and padding-only pixels") {
  ConvTester().ic(3).oc(17).hw(17, 23).k(3).dilation(2).pad(2).check<DirectSmallIc>();
  ConvTester().ic(4).oc(33).hw(23, 17).k(5).stride(2).dilation(2).pad(4, 3, 2, 1).check<DirectSmallIc>();
  ConvTester().ic(2).oc(16).hw(13, 23).k(3).stride(3).pad(1).check<DirectSmallIc>();  // stride read at run time
  ConvTester().ic(3).oc(20).hw(17, 13).k(3, 5).stride(1, 2).pad(1, 2, 1, 2).check<DirectSmallIc>();
  // Rows of several full-width tiles (61 columns: 6 x 4 blocks and 14 x 2 blocks on AVX-512).
  ConvTester().ic(3).oc(64).hw(5, 61).k(3).pad(1).activation(Activation::relu()).check<DirectSmallIc>();
  ConvTester().ic(3).oc(32).hw(9, 61).k(3).stride(2).pad(1).check<DirectSmallIc>();
  ConvTester().ic(2).oc(5).hw(3, 3).k(5).pad(2).check<DirectSmallIc>();  // every tile is an edge
  // Output pixels whose every tap is padding: bias and clamp only.
  ConvTester().ic(3).oc(17).hw(5, 4).k(3).pad(3).activation(Activation{1, 4}).check<DirectSmallIc>();
  ConvTester().ic(1).oc(1).hw(1, 1).k(1).check<DirectSmallIc>();
}

TEST_CASE("direct_small_ic splits large layers between threads (image, oc group, row band)") {
  // Above the 2^20-MAC threshold, so that two threads each take a part (the sweep's small layers run on one).
  for (int threads : {1, 2}) {
    ConvTester().ic(3).oc(64).hw(45, 37).k(7).stride(2).pad(3).threads(threads).activation(Activation::relu())
        .check<DirectSmallIc>();
    ConvTester().ic(3).oc(100).hw(31, 29).k(3).pad(1).batch(2).threads(threads).activation(Activation{1, 4})
        .check<DirectSmallIc>();
    ConvTester().ic(8).oc(33).hw(23, 23).k(5).pad(2, 1, 2, 3).batch(2).threads(threads).bias(false)
        .check<DirectSmallIc>();
  }
}

TEST_CASE("direct_small_ic declines grouped convolutions and more than 8 input channels") {
  const std::string_view grouped = "grouped (use depthwise or im2col_gemm)";
  const std::string_view too_many = "more than 8 input channels (direct_nchwc is faster)";
  CHECK(DirectSmallIc::supports(ConvDesc{.groups = 2, .ic = 4, .oc = 4}).why == grouped);
  CHECK(DirectSmallIc::supports(ConvDesc{.groups = 3, .ic = 3, .oc = 3}).why == grouped);
  CHECK(DirectSmallIc::supports(ConvDesc{.ic = 9, .oc = 4}).why == too_many);
  CHECK_FALSE(DirectSmallIc::supports(ConvDesc{.ic = 64, .oc = 64}));
  CHECK(DirectSmallIc::supports(ConvDesc{.ic = 8, .oc = 4}));
  CHECK(DirectSmallIc::supports(ConvDesc{.ic = 3, .oc = 64, .kh = 7, .kw = 7}));
  const auto declined = DirectSmallIc::plan(ConvDesc{.ic = 16, .oc = 4}, {});
  REQUIRE_FALSE(declined.ok());
  CHECK_THAT(declined.error().what(), Catch::Contains("more than 8 input channels"));
}
