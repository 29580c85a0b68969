#include "conv_tester.hpp"
#include "primsel/primitives/depthwise.hpp"

using namespace primsel;
using primsel::testing::ConvTester;

namespace {
/// Checks the layer when its output is not empty (a narrow input with one-sided padding can leave none).
void check_if_valid(const ConvTester& t) {
  if (t.desc().oh > 0 && t.desc().ow > 0) t.check<Depthwise>();
}
}  // namespace

TEST_CASE("depthwise equals the reference bit for bit over the shape sweep") {
  // The unrolled 3x3 and 5x5, stride 1 and 2 tiles. Widths 1-3 are narrower than a tile, 7-17 one or two tiles
  // reaching into the padding, 40 several (ur_w is 16 on AVX-512, 8 on AVX2 and NEON); channels straddle the
  // 8/16 block. Layers this small stay on one thread even with two (the split is tested below).
  for (std::int64_t c : {1, 3, 8, 17, 33})
    for (std::int64_t k : {3, 5})
      for (std::int64_t stride : {1, 2})
        for (std::int64_t w : {1, 2, 3, 7, 13, 17, 40})
          for (int threads : {1, 2}) {
            INFO("channels " << c << ", kernel " << k << ", stride " << stride << ", width " << w);
            check_if_valid(ConvTester().depthwise(c).hw(5, w).k(k).stride(stride).pad(k / 2).threads(threads));
            check_if_valid(ConvTester().depthwise(c).hw(6, w).k(k).stride(stride).pad(0, k / 2, k / 2, 0).batch(2)
                               .threads(threads).activation(Activation::relu6()));
            check_if_valid(ConvTester().depthwise(c).hw(4, w).k(k).stride(stride).pad(k / 2, 0, 0, k / 2)
                               .threads(threads).activation(Activation{-1, 3}));
          }
}

TEST_CASE("depthwise's generic tiles: other kernels, strides, dilations and large padding") {
  for (std::int64_t w : {1, 2, 5, 9, 20, 37}) {
    INFO("width " << w);
    check_if_valid(ConvTester().depthwise(17).hw(9, w).k(7).pad(3));
    check_if_valid(ConvTester().depthwise(16).hw(9, w).k(3).dilation(2).pad(2));
    check_if_valid(ConvTester().depthwise(9).hw(7, w).k(1, 7).pad(0, 3, 0, 3));
    check_if_valid(ConvTester().depthwise(5).hw(7, w).k(3, 5).pad(1, 2, 1, 2).stride(2, 1));
    check_if_valid(ConvTester().depthwise(5).hw(7, w).k(5, 3).pad(2, 1, 2, 1).stride(1, 2));
    check_if_valid(ConvTester().depthwise(3).hw(8, w).k(3).stride(3).pad(1));
    check_if_valid(ConvTester().depthwise(7).hw(8, w).k(3).dilation(2, 1).pad(2, 1, 2, 1));
    check_if_valid(ConvTester().depthwise(7).hw(8, w).k(3).dilation(1, 2).pad(1, 2, 1, 2));
    check_if_valid(ConvTester().depthwise(4).hw(5, w).k(3).pad(3));  // whole columns of padding
  }
}

TEST_CASE("depthwise handles no padding, clamps above zero, no bias") {
  ConvTester().depthwise(5).hw(7, 9).k(3).check<Depthwise>();
  ConvTester().depthwise(13).hw(6, 6).k(3).pad(1).activation(Activation{1, 4}).check<Depthwise>();
  ConvTester().depthwise(24).hw(112, 112).k(3).stride(2).pad(0, 0, 1, 1).bias(false).threads(2).check<Depthwise>();
}

TEST_CASE("depthwise splits layers large enough between threads, in the middle of a plane") {
  // Below 2 * min_macs_per_thread a layer runs on one thread. The first two split in the middle of a plane, the
  // third at an image boundary.
  const ConvTester split[] = {
      ConvTester().depthwise(33).hw(112, 112).k(3).pad(1).threads(2).activation(Activation::relu6()),
      ConvTester().depthwise(40).hw(56, 57).k(5).pad(2).threads(2),
      ConvTester().depthwise(17).hw(112, 112).k(3).stride(2).pad(0, 0, 1, 1).batch(6).threads(2),
  };
  for (const ConvTester& t : split) {
    REQUIRE(t.desc().macs() >= 2 * Depthwise::min_macs_per_thread);
    t.check<Depthwise>();
  }
}

TEST_CASE("depthwise declines other convolutions") {
  CHECK_FALSE(Depthwise::supports(ConvDesc{.ic = 4, .oc = 4}));
  CHECK(Depthwise::supports(ConvDesc{.groups = 2, .ic = 4, .oc = 4}).why ==
        "not depthwise (groups = input = output channels)");
  CHECK(Depthwise::supports(ConvDesc{.groups = 4, .ic = 4, .oc = 4}));
  CHECK_FALSE(Depthwise::supports(ConvDesc{.groups = 4, .ic = 4, .oc = 8}));
}
