#include "primsel/primitives/fft_conv.hpp"
#include "conv_tester.hpp"
#include "test_config.hpp"

using namespace primsel;
using primsel::testing::ConvTester;

namespace {
// FFT convolution is not exact: each output is an inverse transform over T^2 bins of fp32 products, so its
// rounding error (~log2(T^2) * 2^-24) is relative to the whole tile's energy, not to the output itself. Measured
// over this file (AVX-512, AVX2 and scalar builds): max |error| / max |reference| is 1.1e-6 on average and 1.2e-5
// at worst — a relu6 case, where the clamp caps the reference at 6 but not the unclamped sums the error scales
// with. 1e-4 keeps ~8x headroom for other FMA contractions and still catches a wrong tap, bin or stride phase.
constexpr double fft_tolerance = 1e-4;

ConvTester fft() { return ConvTester().tolerance(fft_tolerance); }
}  // namespace

// On AVX-512, AVX2, SSE and scalar builds alike this sweep makes the cost model pick each of the three tile sizes.
TEST_CASE("fft_conv matches the reference over the shape sweep") {
  for (std::int64_t k : {5, 7, 11})
    for (std::int64_t stride : {1, 2})
      for (std::int64_t c : testing::sweep({1, 3, 5, 17, 33}, {1, 17}))
        for (int threads : {1, 2}) {
          const auto seed = static_cast<std::uint64_t>(k * 100 + c);
          fft()
              .ic(c)
              .oc(c % 7 + 3)
              .hw(13, 7)
              .k(k)
              .stride(stride)
              .pad(k / 2)
              .threads(threads)
              .bias(c % 2 == 1)
              .seed(seed)
              .check<FftConv>();
          fft()
              .ic(c + 2)
              .oc(c + 8)
              .hw(17, 31)
              .k(k)
              .stride(stride)
              .pad(k / 2, 0, k / 2 + 1, 1)
              .batch(2)
              .threads(threads)
              .activation(Activation::relu())
              .seed(seed + 1)
              .check<FftConv>();
          fft()
              .ic(c)
              .oc(2 * c + 13)
              .hw(31, 17)
              .k(k)
              .stride(stride)
              .pad(0, k / 2, k - 1, 1)
              .threads(threads)
              .activation(Activation::relu6())
              .bias(c != 3)
              .seed(seed + 2)
              .check<FftConv>();
        }
}

TEST_CASE("fft_conv: large, rectangular, strided and dilated kernels, clamps, no bias") {
  fft().ic(5).oc(20).hw(31, 31).k(11).pad(5).check<FftConv>();
  fft().ic(3).oc(17).hw(31, 17).k(11).stride(2).pad(5).threads(2).check<FftConv>();
  fft().ic(33).oc(40).hw(31, 31).k(5).pad(2).bias(false).activation(Activation::relu6()).check<FftConv>();
  fft().ic(16).oc(33).hw(7, 7).k(5).pad(2).check<FftConv>();
  fft().ic(7).oc(9).hw(17, 13).k(1, 7).pad(0, 3, 0, 3).check<FftConv>();  // 1x7 (Inception)
  fft().ic(7).oc(9).hw(13, 17).k(7, 1).pad(3, 0, 3, 0).threads(2).check<FftConv>();
  fft().ic(4).oc(4).hw(3, 3).k(5).pad(2).check<FftConv>();                           // every tap is an edge
  fft().ic(3).oc(64).hw(31, 31).k(7).stride(2).pad(3).bias(false).check<FftConv>();  // ResNet stem, small
  fft().ic(5).oc(6).hw(13, 13).k(5).stride(3).pad(2).check<FftConv>();               // stride 3: 9 phases
  fft().ic(6).oc(7).hw(17, 13).k(5).stride(2, 1).pad(2, 2, 1, 1).check<FftConv>();   // unequal strides
  fft().ic(5).oc(11).hw(17, 17).k(3).dilation(2).pad(2).check<FftConv>();            // dilation: 5x5 with holes
  fft().ic(5).oc(11).hw(17, 17).k(3).dilation(2).stride(2).pad(1).threads(2).check<FftConv>();
  fft().ic(13).oc(15).hw(13, 13).k(5).pad(2).activation(Activation{-0.5f, 0.5f}).check<FftConv>();
}

TEST_CASE("fft_conv: tiles over several passes, the last one short, on two threads") {
  const ConvTester layer = fft().ic(64).oc(48).hw(56, 28).k(5).pad(2).batch(3).threads(2);
  const FftConv::Geometry g = FftConv::geometry(layer.desc());
  CHECK(g.tiles > g.chunk);       // more than one pass through the frequency-domain buffers ...
  CHECK(g.tiles % g.chunk != 0);  // ... and a partial last one
  layer.check<FftConv>();
}

TEST_CASE("fft_conv's geometry: tiles cover the output, strides become channels") {
  // Which tile size wins depends on the vector width (the cost model), so only facts true on every ISA here.
  for (std::int64_t k : {5, 7, 11})
    for (std::int64_t hw : {7, 13, 56}) {
      const ConvDesc d = ConvTester().ic(16).oc(16).hw(hw, hw).k(k).pad(k / 2).desc();
      const FftConv::Geometry g = FftConv::geometry(d);
      INFO(to_string(d) << ": T = " << g.tile);
      CHECK((g.tile == 8 || g.tile == 16 || g.tile == 32));
      CHECK(g.mh == g.tile - k + 1);
      CHECK(g.tiles_y * g.mh >= d.oh);
      CHECK((g.tiles_y - 1) * g.mh < d.oh);
    }
  // An 11x11 kernel would leave a 16-point tile 6 useful rows of 16.
  CHECK(FftConv::geometry(ConvTester().ic(16).oc(16).hw(56, 56).k(11).pad(5).desc()).tile == 32);
  const FftConv::Geometry stem = FftConv::geometry(ConvTester().ic(3).oc(64).hw(224, 224).k(7).stride(2).pad(3).desc());
  CHECK(stem.icp == 12);  // 3 channels x 4 stride phases
  CHECK(stem.kh == 4);    // ceil(7 / 2) taps per phase
}

TEST_CASE("fft_conv declines what it does not handle, with a reason") {
  const Support grouped = FftConv::supports(ConvDesc{.groups = 2, .ic = 4, .oc = 4, .kh = 5, .kw = 5});
  CHECK_FALSE(grouped.ok);
  CHECK(grouped.why == "grouped (use depthwise or im2col_gemm)");
  const Support pointwise = FftConv::supports(ConvDesc{.ic = 4, .oc = 4});
  CHECK_FALSE(pointwise.ok);
  CHECK_FALSE(pointwise.why.empty());
  // A 2x2 stride-2 kernel is 1x1 in every stride phase.
  CHECK_FALSE(FftConv::supports(ConvDesc{.ic = 4, .oc = 4, .kh = 2, .kw = 2, .sh = 2, .sw = 2}).ok);
  const Support huge = FftConv::supports(ConvDesc{.ic = 4, .oc = 4, .kh = 17, .kw = 17});
  CHECK_FALSE(huge.ok);
  CHECK_FALSE(huge.why.empty());
  CHECK(FftConv::supports(ConvDesc{.ic = 4, .oc = 4, .kh = 17, .kw = 17, .sh = 2, .sw = 2}).ok);  // 9 per phase
  CHECK(FftConv::supports(ConvDesc{.ic = 4, .oc = 4, .kh = 3, .kw = 3, .dh = 2, .dw = 2}).ok);
  const Support small = FftConv::supports(ConvDesc{.ic = 4, .oc = 4, .kh = 3, .kw = 3});
  CHECK(small.why == "kernel smaller than 5x5 (Winograd's)");
  CHECK(FftConv::supports(ConvDesc{.ic = 4, .oc = 4, .kh = 1, .kw = 5}).ok);  // 5 wide is enough
  const Support zero_stride = FftConv::supports(ConvDesc{.ic = 4, .oc = 4, .kh = 3, .kw = 3, .sh = 0});
  CHECK_FALSE(zero_stride.ok);  // declined, not a division by zero
  CHECK_FALSE(zero_stride.why.empty());
  CHECK(FftConv::workspace_bytes(ConvDesc{.ic = 4, .oc = 4, .kh = 3, .kw = 3, .sh = 0}, 2) == 0);
}

TEST_CASE("fft_conv plan fails cleanly on bad weights and unsupported layers") {
  const ConvDesc d = ConvTester().ic(4).oc(8).hw(9, 9).k(5).pad(2).desc();
  Tensor w({8, 4, 5, 5}), wrong({8, 4, 3, 3}), b({8}), short_bias({7});
  auto bad_shape = FftConv::plan(d, {wrong.view(), b.view()});
  REQUIRE_FALSE(bad_shape.ok());
  CHECK(bad_shape.error().code() == ErrorCode::shape_mismatch);
  auto bad_bias = FftConv::plan(d, {w.view(), short_bias.view()});
  REQUIRE_FALSE(bad_bias.ok());
  CHECK(bad_bias.error().code() == ErrorCode::shape_mismatch);
  auto no_bias = FftConv::plan(d, {w.view(), {}});
  REQUIRE_FALSE(no_bias.ok());
  CHECK(no_bias.error().code() == ErrorCode::shape_mismatch);
  ConvDesc wrong_out = d;
  wrong_out.oh = 8;
  auto bad_out = FftConv::plan(wrong_out, {w.view(), b.view()});
  REQUIRE_FALSE(bad_out.ok());
  CHECK(bad_out.error().code() == ErrorCode::shape_mismatch);
  ConvDesc grouped = d;
  grouped.groups = 2;
  auto unsupported = FftConv::plan(grouped, {Tensor({8, 2, 5, 5}).view(), b.view()});
  REQUIRE_FALSE(unsupported.ok());
  CHECK(unsupported.error().code() == ErrorCode::unsupported);
  CHECK(FftConv::plan(d, {w.view(), b.view()}).ok());
}

TEST_CASE("fft_conv lets NaN through the clamp") {
  // A NaN input poisons its whole tile in the frequency domain; the clamp must not turn it into a number.
  const ConvDesc d = ConvTester().ic(2).oc(3).hw(6, 6).k(5).pad(2).activation(Activation::relu6()).desc();
  Tensor x({1, 2, 6, 6}), w({3, 2, 5, 5}), b({3}), y({1, 3, 6, 6});
  x.floats()[7] = std::nanf("");
  auto plan = FftConv::plan(d, {w.view(), b.view()});
  REQUIRE(plan.ok());
  std::vector<std::byte> scratch(FftConv::workspace_bytes(d, 1) + tensor_alignment);
  auto* aligned = reinterpret_cast<std::byte*>(
      (reinterpret_cast<std::uintptr_t>(scratch.data()) + tensor_alignment - 1) & ~(tensor_alignment - 1));
  FftConv::run(*plan, x.view(), y.view(), Context{nullptr, {aligned, FftConv::workspace_bytes(d, 1)}});
  CHECK(std::isnan(y.floats()[0]));
}
