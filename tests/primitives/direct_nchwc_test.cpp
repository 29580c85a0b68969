#include "conv_tester.hpp"
#include "primsel/primitives/direct_nchwc.hpp"

using namespace primsel;
using primsel::testing::ConvTester;

TEST_CASE("direct_nchwc equals the reference bit for bit over the shape sweep") {
  for (std::int64_t k : {1, 3, 5, 7})
    for (std::int64_t stride : {1, 2})
      for (std::int64_t c : {1, 3, 5, 17, 33})
        for (int threads : {1, 2}) {
          ConvTester().ic(c).oc(c % 7 + 3).hw(13, 7).k(k).stride(stride).pad(k / 2).threads(threads).check<DirectNchwc>();
          ConvTester().ic(c + 2).oc(c + 8).hw(17, 19).k(k).stride(stride).pad(k / 2, 0, k / 2 + 1, 1).batch(2).threads(threads)
              .activation(Activation::relu()).check<DirectNchwc>();
        }
}

TEST_CASE("direct_nchwc handles dilation, wide rows, odd channel blocks, clamps above zero, no bias") {
  ConvTester().ic(8).oc(24).hw(18, 17).k(3).dilation(2).pad(2).check<DirectNchwc>();
  ConvTester().ic(16).oc(40).hw(5, 31).k(3).pad(1).threads(2).check<DirectNchwc>();
  ConvTester().ic(13).oc(15).hw(6, 6).k(3).pad(1).activation(Activation{1, 4}).check<DirectNchwc>();
  ConvTester().ic(3).oc(64).hw(23, 23).k(7).stride(2).pad(3).bias(false).check<DirectNchwc>();
  ConvTester().ic(4).oc(4).hw(3, 3).k(5).pad(2).check<DirectNchwc>();  // every tap is an edge
  // Rows split into near-equal tiles: 56 and 28 (several full tiles), 7 (one tile with edges on both sides).
  ConvTester().ic(20).oc(33).hw(4, 56).k(3).pad(1).check<DirectNchwc>();
  ConvTester().ic(20).oc(33).hw(5, 28).k(3).pad(1).threads(2).check<DirectNchwc>();
  ConvTester().ic(40).oc(48).hw(7, 7).k(3).pad(1).activation(Activation::relu()).check<DirectNchwc>();
  ConvTester().ic(24).oc(16).hw(9, 7).k(1, 3).pad(0, 1, 0, 1).check<DirectNchwc>();
}

TEST_CASE("direct_nchwc declines grouped convolutions") {
  CHECK(DirectNchwc::supports(ConvDesc{.groups = 2, .ic = 4, .oc = 4}).why == "grouped (use depthwise or im2col_gemm)");
  CHECK(DirectNchwc::supports(ConvDesc{.ic = 4, .oc = 4}));
}
