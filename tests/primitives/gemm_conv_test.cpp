#include "conv_tester.hpp"
#include "primsel/primitives/conv1x1_gemm.hpp"
#include "primsel/primitives/im2col_gemm.hpp"

using namespace primsel;
using primsel::testing::ConvTester;

TEST_CASE("im2col_gemm equals the reference bit for bit over the shape sweep") {
  for (std::int64_t k : {1, 3, 5, 7})
    for (std::int64_t stride : {1, 2})
      for (std::int64_t c : {1, 3, 5, 17, 33})
        for (int threads : {1, 2}) {
          ConvTester().ic(c).oc(c % 7 + 3).hw(13, 7).k(k).stride(stride).pad(k / 2).threads(threads).check<Im2colGemm>();
          ConvTester().ic(c + 2).oc(c).hw(17, 9).k(k).stride(stride).pad(k / 2, 0, k / 2 + 1, 1).batch(2).threads(threads)
              .activation(Activation::relu()).check<Im2colGemm>();
        }
}

TEST_CASE("im2col_gemm handles dilation, groups, depthwise, no bias and clamps") {
  ConvTester().ic(8).oc(8).hw(18, 17).k(3).dilation(2).pad(2).check<Im2colGemm>();
  ConvTester().ic(6).oc(9).hw(9, 7).k(3).groups(3).pad(1).stride(2).check<Im2colGemm>();
  ConvTester().depthwise(13).hw(9, 7).k(3).pad(1).activation(Activation::relu6()).check<Im2colGemm>();
  ConvTester().ic(3).oc(24).hw(7, 7).k(7).stride(2).pad(3).bias(false).threads(2).check<Im2colGemm>();
  ConvTester().ic(16).oc(15).hw(5, 5).k(1, 3).pad(0, 1, 0, 1).activation(Activation{-2, 3}).check<Im2colGemm>();
  ConvTester().ic(4).oc(4).hw(3, 3).k(5).pad(2).check<Im2colGemm>();  // kernel larger than the input
}

TEST_CASE("conv1x1_gemm equals the reference and declines what it cannot do") {
  for (std::int64_t c : {1, 3, 8, 13, 24, 64})
    for (int threads : {1, 2})
      ConvTester().ic(c).oc(c + 5).hw(9, 7).threads(threads).batch(threads).activation(Activation::relu()).check<Conv1x1Gemm>();
  ConvTester().ic(12).oc(8).hw(7, 7).groups(4).check<Conv1x1Gemm>();
  CHECK(Conv1x1Gemm::supports(ConvDesc{.kh = 3, .kw = 3}).why == "kernel is not 1x1");
  CHECK(Conv1x1Gemm::supports(ConvDesc{.sh = 2, .sw = 2}).why == "stride is not 1");
  CHECK(Conv1x1Gemm::supports(ConvDesc{.pads = {1, 1, 1, 1}}).why == "padded");
  CHECK_FALSE(Conv1x1Gemm::plan(ConvDesc{.kh = 3, .kw = 3}, {}).ok());
}

TEST_CASE("plan rejects weights that do not match the layer") {
  Tensor w({4, 3, 3, 3});
  auto p = Im2colGemm::plan(ConvDesc{.ic = 3, .ih = 5, .iw = 5, .oc = 4, .oh = 3, .ow = 3, .kh = 5, .kw = 5}, {w.view(), {}});
  REQUIRE_FALSE(p.ok());
  CHECK_THAT(p.error().what(), Catch::Contains("weight is 4x3x3x3"));
}
