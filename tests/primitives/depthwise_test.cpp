#include "conv_tester.hpp"
#include "primsel/primitives/depthwise.hpp"

using namespace primsel;
using primsel::testing::ConvTester;

TEST_CASE("depthwise equals the reference bit for bit over the shape sweep") {
  for (std::int64_t c : {1, 3, 7, 8, 13, 16, 17, 24, 33})
    for (std::int64_t k : {3, 5})
      for (std::int64_t stride : {1, 2})
        for (int threads : {1, 2}) {
          ConvTester().depthwise(c).hw(13, 7).k(k).stride(stride).pad(k / 2).threads(threads).check<Depthwise>();
          ConvTester().depthwise(c).hw(18, 17).k(k).stride(stride).pad(0, k / 2, k / 2, 0).batch(2).threads(threads)
              .activation(Activation::relu6()).check<Depthwise>();
        }
}

TEST_CASE("depthwise handles dilation, no padding, other kernels, clamps above zero, no bias") {
  ConvTester().depthwise(16).hw(9, 9).k(3).dilation(2).pad(2).check<Depthwise>();
  ConvTester().depthwise(5).hw(7, 9).k(3).check<Depthwise>();
  ConvTester().depthwise(9).hw(7, 9).k(1, 7).pad(0, 3, 0, 3).check<Depthwise>();
  ConvTester().depthwise(13).hw(6, 6).k(3).pad(1).activation(Activation{1, 4}).check<Depthwise>();
  ConvTester().depthwise(24).hw(112, 112).k(3).stride(2).pad(0, 0, 1, 1).bias(false).threads(2).check<Depthwise>();
}

TEST_CASE("depthwise declines other convolutions") {
  CHECK_FALSE(Depthwise::supports(ConvDesc{.ic = 4, .oc = 4}));
  CHECK(Depthwise::supports(ConvDesc{.groups = 2, .ic = 4, .oc = 4}).why == "not depthwise (groups = input = output channels)");
  CHECK(Depthwise::supports(ConvDesc{.groups = 4, .ic = 4, .oc = 4}));
  CHECK_FALSE(Depthwise::supports(ConvDesc{.groups = 4, .ic = 4, .oc = 8}));
}
