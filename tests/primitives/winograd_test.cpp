// Winograd is not exact: the transforms round, and the rounding grows with the tile (the interpolation points
// +-2, +-1/2 of F(4,3)/F(6,3) scale values by up to 2^5 before the output transform divides them back).
// Tolerances are max |error| / max |output| on uniform(-1, 1) data. Measured maxima over this sweep: F(2,3)
// 2.1e-6, F(4,3) 7.0e-6, F(6,3) 1.6e-5; the bounds below leave a 4-6x margin.
#include <array>
#include <cmath>

#include "conv_tester.hpp"
#include "primsel/core/random.hpp"
#include "primsel/primitives/winograd.hpp"

using namespace primsel;
using primsel::testing::ConvTester;

namespace {

template <class P>
constexpr double tolerance() {
  return P::alpha == 4 ? 1e-5 : P::alpha == 6 ? 3e-5 : 1e-4;
}

/// A^T [(G g) . (B^T d)] == correlation(d, g) in 1-D, with the primitive's own compile-time transforms.
template <class P>
void check_identity() {
  using Mat = typename P::Mat;
  constexpr int alpha = P::alpha, m = alpha - 2;
  Rng rng(alpha);
  for (int trial = 0; trial < 50; ++trial) {
    std::array<double, alpha> d{};
    std::array<double, 3> g{};
    for (double& x : d) x = rng.uniform(-1.0, 1.0);
    for (double& x : g) x = rng.uniform(-1.0, 1.0);
    simd::FloatVec dv[alpha], bd[alpha], prod[alpha], y[m];
    for (int i = 0; i < alpha; ++i) dv[i] = simd::broadcast(static_cast<float>(d[static_cast<std::size_t>(i)]));
    winograd::apply<Mat::BT, alpha, alpha>(dv, 1, bd, 1);
    for (int i = 0; i < alpha; ++i) {
      double gg = 0;
      for (int r = 0; r < 3; ++r) gg += Mat::G[i][r] * g[static_cast<std::size_t>(r)];
      prod[i] = bd[i] * simd::broadcast(static_cast<float>(gg));
    }
    winograd::apply<Mat::AT, m, alpha>(prod, 1, y, 1);
    for (int i = 0; i < m; ++i) {
      double expected = 0;
      for (int r = 0; r < 3; ++r) expected += d[static_cast<std::size_t>(i + r)] * g[static_cast<std::size_t>(r)];
      alignas(64) float lanes[simd::width];
      simd::store(lanes, y[i]);
      INFO(P::name << " output " << i);
      CHECK(std::abs(lanes[0] - expected) < 1e-5);
    }
  }
}

template <class P>
void sweep() {
  const double tol = tolerance<P>();
  for (std::int64_t c : {1, 3, 5, 17, 33})
    for (int threads : {1, 2}) {
      ConvTester().ic(c).oc(c % 7 + 3).hw(13, 7).k(3).pad(1).threads(threads).tolerance(tol).check<P>();
      ConvTester().ic(c + 2).oc(c + 8).hw(17, 19).k(3).pad(1, 0, 2, 1).batch(2).threads(threads).tolerance(tol)
          .activation(Activation::relu()).check<P>();
      ConvTester().ic(c + 1).oc(2 * c + 1).hw(7, 7).k(3).pad(0).threads(threads).tolerance(tol).bias(false)
          .activation(Activation::relu6()).check<P>();
    }
  // Many tiles (several blocks per thread), K over one GEMM K block, clamp above zero, a single-tile image.
  ConvTester().ic(40).oc(64).hw(56, 56).k(3).pad(1).threads(2).tolerance(tol).check<P>();
  ConvTester().ic(300).oc(20).hw(9, 11).k(3).pad(1).tolerance(tol).check<P>();
  ConvTester().ic(13).oc(15).hw(6, 6).k(3).pad(1).tolerance(tol).activation(Activation{1, 4}).check<P>();
  ConvTester().ic(4).oc(5).hw(3, 3).k(3).pad(0).tolerance(tol).check<P>();
}

}  // namespace

TEMPLATE_TEST_CASE("winograd transforms satisfy the 1-D identity", "", WinogradF23, WinogradF43, WinogradF63) {
  check_identity<TestType>();
}

TEMPLATE_TEST_CASE("winograd matches the reference within its tolerance over the shape sweep", "", WinogradF23,
                   WinogradF43, WinogradF63) {
  sweep<TestType>();
}

TEMPLATE_TEST_CASE("winograd streams large transformed filters once", "", WinogradF23, WinogradF43,
                   WinogradF63) {
  using P = TestType;
  const double tol = tolerance<P>();
  // 160 channels at 16x16: U is 1.6-6.6 MB, more than cache-sized blocks should re-read, so each thread takes all
  // its tiles in one block; the result must not change.
  const ConvDesc big{.ic = 160, .ih = 16, .iw = 16, .oc = 160, .oh = 16, .ow = 16, .kh = 3, .kw = 3,
                     .pads = {1, 1, 1, 1}};
  CHECK(P::tiles_per_block(big, 1) == P::total_tiles(big));
  CHECK(P::tiles_per_block(big, 2) == (P::total_tiles(big) + 1) / 2);
  // With two threads they share that one block (transforms split over tiles, GEMMs over xi): U is read once.
  CHECK(P::shares_one_block(big, 2));
  CHECK_FALSE(P::shares_one_block(big, 1));
  // Its GEMMs prefetch U's next panel (sgemm_prepacked_streamed).
  CHECK(P::streams_filters(big));
  for (int threads : {1, 2})
    ConvTester().ic(160).oc(160).hw(16, 16).k(3).pad(1).threads(threads).tolerance(tol).check<P>();
  ConvTester().ic(150).oc(157).hw(16, 17).k(3).pad(1).batch(2).threads(2).tolerance(tol).check<P>();
  // The streamed GEMMs over odd sizes, channel tails, uneven pads, batch 2 (row panels 1 to 10 per block).
  for (std::int64_t hw : {7, 13, 17})
    for (int threads : {1, 2}) {
      ConvTester().ic(131).oc(129).hw(hw, hw).k(3).pad(1).threads(threads).tolerance(tol).check<P>();
      ConvTester().ic(133).oc(145).hw(hw, hw + 2).k(3).pad(0, 1, 2, 0).batch(2).threads(threads).tolerance(tol)
          .activation(Activation::relu()).check<P>();
    }
  // 16 channels at 112x112: U is tiny and stays cached; blocks stay L2-sized rather than one 3+ MB block.
  const ConvDesc thin{.ic = 16, .ih = 112, .iw = 112, .oc = 16, .oh = 112, .ow = 112, .kh = 3, .kw = 3,
                      .pads = {1, 1, 1, 1}};
  CHECK(P::tiles_per_block(thin, 1) < P::total_tiles(thin));
  CHECK(P::workspace_bytes(thin, 1) < (2u << 20));
  CHECK_FALSE(P::shares_one_block(thin, 2));
  CHECK_FALSE(P::streams_filters(thin));
  // Few tiles of small filters: each thread takes its own tiles (no shared passes and their barriers).
  const ConvDesc tiny{.ic = 16, .ih = 8, .iw = 8, .oc = 16, .oh = 8, .ow = 8, .kh = 3, .kw = 3, .pads = {1, 1, 1, 1}};
  CHECK_FALSE(P::shares_one_block(tiny, 2));
}

TEST_CASE("winograd's large blocks of all threads together stay within the scratch budget") {
  using P = WinogradF43;
  // 96 channels at 72x72 (324 tiles): U (1.3 MB) outgrows the cache budget, so a thread takes large blocks that
  // spill to the L3. One thread: one block of up to 8 MiB; two threads share that budget (their blocks spill to
  // the same L3), so each half of the tiles runs as a block of up to 4 MiB and a remainder.
  const ConvDesc d{.ic = 96, .ih = 72, .iw = 72, .oc = 96, .oh = 72, .ow = 72, .kh = 3, .kw = 3, .pads = {1, 1, 1, 1}};
  const std::int64_t half = (P::total_tiles(d) + 1) / 2, tb = P::tiles_per_block(d, 2);
  INFO(P::total_tiles(d) << " tiles, blocks of up to " << P::tiles_per_block(d, 1) << " (1 thread), " << tb
                         << " (2 threads)");
  REQUIRE_FALSE(P::shares_one_block(d, 2));
  CHECK(P::workspace_bytes(d, 1) > (4u << 20));
  CHECK(tb < half);
  const std::size_t padding = 2 * 2 * P::alpha2 * 64;  // per thread, V and M planes, a cache line each at most
  CHECK(P::workspace_bytes(d, 2) <= (8u << 20) + padding);
  ConvTester().ic(96).oc(96).hw(72, 72).k(3).pad(1).threads(2).tolerance(tolerance<P>()).check<P>();
}

TEMPLATE_TEST_CASE("winograd splits the tiles evenly over the threads, several cache-sized blocks each", "",
                   WinogradF23, WinogradF43, WinogradF63) {
  using P = TestType;
  // Few channels (17 -> 19, off the vector width) at 111x113: small filters stay cached, so blocks stay L2-sized;
  // each thread's half of the tiles is more than one block and does not split into whole blocks.
  const ConvDesc d{.ic = 17, .ih = 111, .iw = 113, .oc = 19, .oh = 111, .ow = 113, .kh = 3, .kw = 3,
                   .pads = {1, 1, 1, 1}};
  const std::int64_t half = (P::total_tiles(d) + 1) / 2, tb = P::tiles_per_block(d, 2);
  INFO(P::total_tiles(d) << " tiles, blocks of up to " << tb);
  REQUIRE_FALSE(P::shares_one_block(d, 2));
  CHECK(tb < half);
  CHECK(half % tb != 0);
  const double tol = tolerance<P>();
  for (int threads : {1, 2})
    ConvTester().ic(17).oc(19).hw(111, 113).k(3).pad(1).threads(threads).tolerance(tol).activation(Activation::relu6())
        .check<P>();
}

TEMPLATE_TEST_CASE("winograd declines what is not a 3x3 stride-1 dense convolution", "", WinogradF23, WinogradF43,
                   WinogradF63) {
  const ConvDesc ok{.ic = 8, .ih = 8, .iw = 8, .oc = 8, .kh = 3, .kw = 3};
  CHECK(TestType::supports(ok));
  ConvDesc d = ok;
  d.kh = d.kw = 5;
  CHECK(TestType::supports(d).why == "kernel is not 3x3");
  d = ok, d.sh = d.sw = 2;
  CHECK(TestType::supports(d).why == "stride is not 1");
  d = ok, d.dh = d.dw = 2;
  CHECK(TestType::supports(d).why == "dilated");
  d = ok, d.groups = 2;
  CHECK(TestType::supports(d).why == "grouped");
  d = ok, d.kh = d.kw = 5;
  auto plan = TestType::plan(d, {});
  REQUIRE_FALSE(plan.ok());
  CHECK(plan.error().code() == ErrorCode::unsupported);
}
