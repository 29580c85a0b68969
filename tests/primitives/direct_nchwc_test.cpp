#include <initializer_list>
#include <utility>

#include "conv_tester.hpp"
#include "primsel/primitives/direct_nchwc.hpp"

using namespace primsel;
using primsel::testing::ConvTester;

namespace {
using Sizes = std::initializer_list<std::pair<std::int64_t, std::int64_t>>;

/// DirectNchwc with the tile's output-channel blocks forced, so every tile shape runs whatever the ISA prefers.
template <int Noc>
struct DirectNchwcNoc : DirectNchwc {
  static Expected<Plan> plan(const ConvDesc& d, const ConvWeights& w) { return DirectNchwc::plan(d, w, Noc); }
};
static_assert(ConvPrimitive<DirectNchwcNoc<3>>);

template <class P>
void sweep_1x1(int threads) {
  // Flattened (stride 1: tiles cross rows) and row-wise (stride 2) paths; 1x3 is narrower than any tile, 17x5
  // and 13x13 leave odd tiles, 7x7 is one short row; 100 channels make several output tiles and a tail block.
  for (std::int64_t c : {1, 3, 17, 33, 100})
    for (std::int64_t stride : {1, 2})
      for (const auto& size : Sizes{{7, 7}, {13, 13}, {17, 5}, {1, 3}}) {
        ConvTester().ic(c).oc(c % 7 + 3).hw(size.first, size.second).stride(stride).threads(threads).check<P>();
        ConvTester().ic(c + 2).oc(c + 40).hw(size.first, size.second).stride(stride).batch(2).threads(threads)
            .activation(Activation::relu6()).check<P>();
      }
}
}  // namespace

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

TEST_CASE("direct_nchwc 1x1 layers, flattened or strided, with every tile shape") {
  for (int threads : {1, 2}) {
    sweep_1x1<DirectNchwc>(threads);
    sweep_1x1<DirectNchwcNoc<1>>(threads);
    sweep_1x1<DirectNchwcNoc<2>>(threads);
    sweep_1x1<DirectNchwcNoc<3>>(threads);
    sweep_1x1<DirectNchwcNoc<4>>(threads);
  }
  // Padded or dilated 1x1 layers take the row-wise path with edge tiles; the padded rows have no tap at all, even
  // in tiles away from the left and right edges.
  ConvTester().ic(20).oc(20).hw(9, 9).pad(1).check<DirectNchwc>();
  ConvTester().ic(20).oc(70).hw(4, 40).pad(1, 0, 2, 0).check<DirectNchwcNoc<4>>();
  ConvTester().ic(20).oc(20).hw(9, 9).stride(2).pad(0, 1, 1, 0).dilation(2).check<DirectNchwc>();
  // One output block (16 channels on AVX-512) over a large image: the widest tiles of one block.
  ConvTester().ic(32).oc(16).hw(29, 31).threads(2).check<DirectNchwc>();
}

TEST_CASE("direct_nchwc strided 3x3 layers with every tile shape, edges and tails") {
  for (int threads : {1, 2})
    for (std::int64_t c : {3, 17, 33})
      for (auto [h, w] : Sizes{{28, 28}, {14, 14}, {7, 7}, {13, 17}, {3, 5}}) {
        ConvTester().ic(c).oc(c + 30).hw(h, w).k(3).stride(2).pad(1).threads(threads)
            .activation(Activation::relu()).check<DirectNchwc>();
        ConvTester().ic(c).oc(50).hw(h, w).k(3).stride(2).pad(1).threads(threads).check<DirectNchwcNoc<1>>();
        ConvTester().ic(c).oc(50).hw(h, w).k(3).stride(2).pad(1).batch(2).threads(threads).check<DirectNchwcNoc<2>>();
        ConvTester().ic(c).oc(50).hw(h, w).k(3).stride(2).pad(0, 1, 1, 0).threads(threads).check<DirectNchwcNoc<3>>();
        ConvTester().ic(c).oc(50).hw(h, w).k(3).stride(2).pad(1).threads(threads)
            .activation(Activation{1, 4}).check<DirectNchwcNoc<4>>();
      }
}

TEST_CASE("direct_nchwc sums long reductions in passes without clamping partial sums") {
  // Enough input channels that one tile's weights take several passes (256 KiB each); a clamp's lower bound above
  // zero would corrupt any partial sum it touched.
  for (int threads : {1, 2}) {
    ConvTester().ic(520).oc(20).hw(6, 9).k(3).pad(1).threads(threads).activation(Activation{1, 4}).check<DirectNchwc>();
    ConvTester().ic(520).oc(20).hw(6, 9).k(3).stride(2).pad(1).threads(threads).check<DirectNchwcNoc<1>>();
    ConvTester().ic(2100).oc(20).hw(5, 6).threads(threads).activation(Activation{-3, 2}).check<DirectNchwcNoc<2>>();
  }
}

TEST_CASE("direct_nchwc prefetches ahead on pointwise layers larger than L2") {
  // Input and output above DirectNchwc::prefetch_bytes (1 MiB), so the 1x1 kernels take their prefetching loop:
  // one channel block (the next tile's pixels come next), a tail block, and passes over a long reduction.
  for (int threads : {1, 2}) {
    ConvTester().ic(5).oc(60).hw(70, 71).threads(threads).check<DirectNchwc>();
    ConvTester().ic(33).oc(20).hw(91, 97).threads(threads).activation(Activation::relu6()).check<DirectNchwcNoc<1>>();
    ConvTester().ic(300).oc(40).hw(30, 31).batch(2).threads(threads).activation(Activation{-3, 2})
        .check<DirectNchwcNoc<2>>();
    ConvTester().ic(40).oc(150).hw(47, 45).threads(threads).check<DirectNchwcNoc<3>>();
    ConvTester().ic(17).oc(70).hw(61, 59).threads(threads).check<DirectNchwcNoc<4>>();
  }
}

TEST_CASE("direct_nchwc runs strides above 2 with the run-time stride") {
  ConvTester().ic(17).oc(20).hw(13, 29).k(3).stride(3).pad(1).check<DirectNchwc>();
  ConvTester().ic(17).oc(20).hw(13, 29).stride(4, 3).check<DirectNchwc>();
}

TEST_CASE("direct_nchwc declines grouped convolutions and bad tile shapes") {
  CHECK(DirectNchwc::supports(ConvDesc{.groups = 2, .ic = 4, .oc = 4}).why == "grouped (use depthwise or im2col_gemm)");
  CHECK(DirectNchwc::supports(ConvDesc{.ic = 4, .oc = 4}));
  const ConvDesc d{.ic = 4, .ih = 5, .iw = 5, .oc = 4, .oh = 5, .ow = 5};
  Tensor w({4, 4, 1, 1});
  auto p = DirectNchwc::plan(d, {w.view(), {}}, DirectNchwc::max_noc + 1);
  REQUIRE_FALSE(p.ok());
  CHECK_THAT(p.error().what(), Catch::Contains("tile of 5 output-channel blocks"));
  const int noc = DirectNchwc::choose_noc(d);
  CHECK(noc >= 1);
  CHECK(noc <= DirectNchwc::max_noc);
}
