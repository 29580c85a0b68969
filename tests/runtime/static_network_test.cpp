// StaticNetwork: the digits firmware network (examples/firmware) against the reference executor on all 360
// held-out test digits; no allocation in run(); the start-up errors; the compile-time conv traits against the
// primitives' own answers; and a network of every layer kind (with layout conversions) against the reference.
// Built twice: natively, and with PRIMSEL_FORCE_SCALAR — the portable paths a Cortex-M runs, since xsimd has no
// architecture there (runtime.static_network_scalar). This binary counts operator new (counting_allocator.hpp).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>

#include "counting_allocator.hpp"
#include "digits_network.hpp"
#include "primsel/graph/builder.hpp"
#include "primsel/io/onnx.hpp"
#include "primsel/runtime/reference_executor.hpp"
#include "primsel/select/labelled_set.hpp"
#include "primsel/zoo/calibrate.hpp"

using namespace primsel;
using namespace primsel::testing::counting_allocator;
using Catch::Matchers::Contains;
using digits::SmallNet;

namespace {

const std::string digits_dir = std::string(PRIMSEL_SOURCE_DIR) + "/data/digits/";

/// Largest |static - reference| of a logit, relative to the largest logit of that image. Both sum the same
/// products (at most 256 of O(1) terms) in different orders, so they differ by a few float32 roundings of partial
/// sums: ~1e-6 of the logits' scale measured; 1e-5 leaves room for other vector widths and FMA contraction.
constexpr float relative_tolerance = 1e-5f;

template <class Net>
struct Instance {
  alignas(tensor_alignment) std::byte arena[Net::arena_bytes];
  Net net;
};

/// A fresh network on the heap (its arena can be large) and its init() status.
template <class Net>
std::unique_ptr<Instance<Net>> started() {
  auto n = std::make_unique<Instance<Net>>();
  const Status s = n->net.init(n->arena);
  INFO((s ? "" : s.error().what()));
  REQUIRE(s.ok());
  return n;
}

int argmax(std::span<const float> v) { return static_cast<int>(std::max_element(v.begin(), v.end()) - v.begin()); }

}  // namespace

TEST_CASE("the digits network's shapes and memory are compile-time constants") {
  static_assert(SmallNet::depth == 4);
  static_assert(SmallNet::input_size == 64 && SmallNet::output_size == 10);
  static_assert(SmallNet::output_dims == Dims{1, 10, 1, 1, 2});
  static_assert(SmallNet::layer<1>::output == Dims{1, 16, 8, 8});
  static_assert(SmallNet::layer<2>::output == Dims{1, 16, 4, 4});
  // The binding primsel-bench emitted is what the types name.
  static_assert(SmallNet::layer<0>::name == small_binding[0] && SmallNet::layer<1>::name == small_binding[1]);
  // direct_small_ic writes the blocked layout, direct_nchwc and the pool keep it, and the fully connected layer
  // flattens nchw: one conversion. Largest tensor: conv2's 16 x 8 x 8 floats; scratch: the expanded 256 inputs.
  static_assert(SmallNet::conversions == 1);
  static_assert(SmallNet::buffer_bytes == 16 * 8 * 8 * 4);
  static_assert(SmallNet::workspace_bytes == 256 * gemm::MR * 4);
  static_assert(SmallNet::arena_bytes == 2 * SmallNet::buffer_bytes + SmallNet::workspace_bytes);
  std::printf("digits SmallNet on %s: arena %zu bytes (2 x %zu activations + %zu scratch)\n",
              std::string(simd::isa).c_str(), SmallNet::arena_bytes, SmallNet::buffer_bytes, SmallNet::workspace_bytes);
}

TEST_CASE("the digits network matches the reference executor on all 360 test digits") {
  auto graph = io::onnx::load_model(digits_dir + "small.onnx");
  auto data = select::load_labelled_set(digits_dir + "digits.bin");
  INFO((graph ? "" : graph.error().what()) << (data ? "" : data.error().what()));
  REQUIRE((graph.ok() && data.ok()));
  const select::LabelledSet test = data->part(select::LabelledSet::test);
  REQUIRE(test.size() == 360);

  auto n = started<SmallNet>();
  int static_right = 0, reference_right = 0, agree = 0;
  float worst = 0;
  for (std::size_t i = 0; i < test.size(); ++i) {
    auto reference = run_reference(*graph, test.images[i]);
    REQUIRE(reference.ok());
    const std::span<const float> expected = (*reference)[0].floats();
    float logits[SmallNet::output_size];
    REQUIRE(n->net.run(std::span<const float, 64>(test.images[i].floats().data(), 64), logits).ok());
    float scale = 0, diff = 0;
    for (std::size_t j = 0; j < SmallNet::output_size; ++j)
      scale = std::max(scale, std::abs(expected[j])), diff = std::max(diff, std::abs(logits[j] - expected[j]));
    worst = std::max(worst, diff / scale);
    const int ours = argmax(logits), theirs = argmax(expected);
    static_right += ours == test.labels[i];
    reference_right += theirs == test.labels[i];
    agree += ours == theirs;
    CHECK(digits::classify(n->net, std::span<const float, 64>(test.images[i].floats().data(), 64)) == ours);
  }
  std::printf("digits SmallNet: %d / 360 right (reference %d), largest logit difference %.2e of the logits' scale\n",
              static_right, reference_right, static_cast<double>(worst));
  CHECK(worst <= relative_tolerance);
  CHECK(agree == 360);
  CHECK(static_right == reference_right);
  CHECK(static_right >= 354);  // torch's 98.33% (data/digits/models.txt)
}

TEST_CASE("run() after init() allocates nothing") {
  allocations = 0, allocated_bytes = 0;
  armed = true;
  auto n = started<SmallNet>();
  armed = false;
  std::printf("digits SmallNet: init() allocated %ld bytes in %ld blocks (packed weights; the arena is the caller's)\n",
              allocated_bytes.load() - static_cast<long>(sizeof(Instance<SmallNet>)), allocations.load() - 1);
  CHECK(allocations.load() > 1);  // the counter sees init()'s packing, so the zero below means something

  float logits[SmallNet::output_size];
  allocations = 0;
  armed = true;
  bool ok = true;
  for (int i = 0; i < 3; ++i) ok = n->net.run(digits::sample_image, logits).ok() && ok;
  const int answer = digits::classify(n->net, digits::sample_image);
  armed = false;
  CHECK(ok);
  CHECK(allocations.load() == 0);
  CHECK(answer == digits::sample_label);
}

TEST_CASE("init() refuses a small or misaligned arena, and run() before init() is an error") {
  auto n = std::make_unique<Instance<SmallNet>>();
  float logits[SmallNet::output_size];
  const Status early = n->net.run(digits::sample_image, logits);
  REQUIRE_FALSE(early.ok());
  CHECK_THAT(early.error().what(), Contains("before a successful init()"));
  CHECK(digits::classify(n->net, digits::sample_image) == -1);

  const Status small = n->net.init(std::span(n->arena, SmallNet::arena_bytes - 1));
  REQUIRE_FALSE(small.ok());
  CHECK(small.error().code() == ErrorCode::out_of_memory);
  CHECK_THAT(small.error().what(), Contains("needs " + std::to_string(SmallNet::arena_bytes)));

  alignas(tensor_alignment) static std::byte bigger[SmallNet::arena_bytes + 64];
  const Status misaligned = n->net.init(std::span(bigger + 4, SmallNet::arena_bytes));
  REQUIRE_FALSE(misaligned.ok());
  CHECK_THAT(misaligned.error().what(), Contains("aligned to 64 bytes"));

  REQUIRE(n->net.init(n->arena).ok());
  CHECK(n->net.ready());
  CHECK_FALSE(n->net.init(std::span(n->arena, 64)).ok());
  CHECK_FALSE(n->net.ready());  // a failed init() leaves nothing half-usable
  CHECK_FALSE(n->net.run(digits::sample_image, logits).ok());
}

namespace {

/// Deterministic weights in [-scale, scale] (an LCG), computed at compile time into constexpr arrays.
template <std::size_t N>
constexpr std::array<float, N> pseudo_random(std::uint32_t seed, float scale) {
  std::array<float, N> v{};
  for (float& x : v) {
    seed = seed * 1664525u + 1013904223u;
    x = scale * (static_cast<float>(seed >> 8) / static_cast<float>(1u << 24) * 2.0f - 1.0f);
  }
  return v;
}

constexpr auto w_stem = pseudo_random<16 * 3 * 3 * 3>(1, 0.4f);
constexpr auto b_stem = pseudo_random<16>(2, 0.1f);
constexpr auto w_depthwise = pseudo_random<16 * 1 * 3 * 3>(3, 0.5f);
constexpr auto w_pointwise = pseudo_random<12 * 16>(4, 0.3f);
constexpr auto b_pointwise = pseudo_random<12>(5, 0.1f);
constexpr auto w_direct = pseudo_random<24 * 12 * 3 * 3>(6, 0.15f);
constexpr auto b_direct = pseudo_random<24>(7, 0.1f);
constexpr auto w_classifier = pseudo_random<5 * 24>(8, 0.5f);

constexpr ConvParams stem{.kernel = {3, 3}, .stride = {2, 2}, .pads = {1, 0, 1, 1}, .activation = Activation::relu6()};
constexpr ConvParams depthwise{.kernel = {3, 3}, .pads = {1, 1, 1, 1}, .groups = 16};
constexpr ConvParams pointwise{};
constexpr ConvParams direct{.kernel = {3, 3}, .pads = {1, 1, 1, 1}, .activation = Activation::relu()};
constexpr PoolParams pool{.kernel = {3, 3}, .stride = {2, 2}, .pads = {1, 1, 1, 1}, .ceil_mode = true};

/// Every layer kind, on awkward sizes (3 channels, 9x7, 12 channels: a partial block), with conversions between
/// nchw (im2col, 1x1 GEMM) and blocked (depthwise, direct) primitives.
using MixedNet = StaticNetwork<Input<1, 3, 9, 7>, layers::Conv<Im2colGemm, stem, w_stem, b_stem>,
                               layers::Conv<Depthwise, depthwise, w_depthwise, no_bias>, layers::AveragePool<pool>,
                               layers::Conv<Conv1x1Gemm, pointwise, w_pointwise, b_pointwise>,
                               layers::Conv<DirectNchwc, direct, w_direct, b_direct>, layers::GlobalAveragePool,
                               layers::FullyConnected<w_classifier>>;

Graph mixed_reference_graph() {
  GraphBuilder b("mixed");
  ValueId x = b.input("x", {1, 3, 9, 7});
  x = b.relu6(
      b.conv(x, {.out_channels = 16, .kernel = 3, .stride = 2, .pads = Pads2d{1, 0, 1, 1}}, "stem", w_stem, b_stem));
  x = b.conv(x, {.out_channels = 16, .kernel = 3, .pad = 1, .groups = 16}, "depthwise", w_depthwise, {});
  x = b.avg_pool(x, {.kernel = 3, .stride = 2, .pad = 1, .ceil_mode = true});
  x = b.conv(x, {.out_channels = 12}, "pointwise", w_pointwise, b_pointwise);
  x = b.relu(b.conv(x, {.out_channels = 24, .kernel = 3, .pad = 1}, "direct", w_direct, b_direct));
  x = b.linear(b.flatten(b.global_avg_pool(x)), 5, "classifier", w_classifier, {});
  b.output(x);
  return std::move(b).build().value();
}

/// A primitive whose compile-time entry understates its scratch: init() must catch it.
struct UnderstatedIm2col : Im2colGemm {
  static constexpr std::string_view name = "understated_im2col";
};

}  // namespace

template <>
struct primsel::StaticConvTraits<UnderstatedIm2col> {
  static constexpr bool known = true;
  static constexpr Layout input_layout = Layout::nchw, output_layout = Layout::nchw;
  static constexpr std::size_t workspace_bytes(const ConvDesc&) noexcept { return 0; }
};

TEST_CASE("a network of every layer kind matches the reference, converting layouts where primitives disagree") {
  // nchw -> blocked before the depthwise conv, back for the 1x1 GEMM, blocked again for direct_nchwc; pooling and
  // the classifier (a [1, 24, 1, 1] input) read what they are given.
  static_assert(MixedNet::conversions == 3);
  static_assert(MixedNet::layer<0>::output == Dims{1, 16, 5, 3});
  static_assert(MixedNet::layer<2>::output == Dims{1, 16, 3, 2});
  static_assert(MixedNet::output_dims == Dims{1, 5, 1, 1, 2});
  const Graph g = mixed_reference_graph();
  CHECK(g.value(g.outputs()[0]).shape == MixedNet::output_dims.shape());

  auto n = started<MixedNet>();
  for (std::uint64_t seed : {1, 2, 3}) {
    const Tensor x = zoo::random_input({1, 3, 9, 7}, seed);
    auto expected = run_reference(g, x);
    REQUIRE(expected.ok());
    float y[MixedNet::output_size];
    REQUIRE(n->net.run(std::span<const float, MixedNet::input_size>(x.floats().data(), MixedNet::input_size), y).ok());
    for (std::size_t j = 0; j < MixedNet::output_size; ++j) {
      INFO("seed " << seed << ", output " << j);
      CHECK(y[j] == Approx((*expected)[0].floats()[j]).margin(1e-5).epsilon(1e-4));
    }
  }
}

TEST_CASE("init() names the layer a primitive declines, and catches a compile-time entry that understates scratch") {
  // direct_small_ic takes at most 8 input channels.
  using Declined = StaticNetwork<Input<1, 16, 4, 4>, layers::Conv<DirectSmallIc, ConvParams{}, w_pointwise>>;
  auto declined = std::make_unique<Instance<Declined>>();
  const Status s = declined->net.init(declined->arena);
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().code() == ErrorCode::unsupported);
  CHECK_THAT(s.error().what(), Contains("direct_small_ic 'layer 0'") && Contains("more than 8 input channels"));

  using Understated = StaticNetwork<Input<1, 3, 9, 7>, layers::Conv<UnderstatedIm2col, stem, w_stem, b_stem>>;
  static_assert(Understated::workspace_bytes == 0);
  auto understated = std::make_unique<Instance<Understated>>();
  const Status u = understated->net.init(understated->arena);
  REQUIRE_FALSE(u.ok());
  CHECK(u.error().code() == ErrorCode::internal);
  CHECK_THAT(u.error().what(), Contains("StaticConvTraits<understated_im2col> says 0 bytes of scratch"));
}

TEST_CASE("each primitive's compile-time entry agrees with its run-time answers") {
  auto agrees = [](const char* problem, auto primitive) {
    using P = decltype(primitive);
    const ConvDesc d = parse_conv_desc(problem).value();
    INFO(P::name << " on " << problem);
    REQUIRE(P::supports(d).ok);
    CHECK(P::input_format(d) == Format{StaticConvTraits<P>::input_layout});
    CHECK(P::output_format(d) == Format{StaticConvTraits<P>::output_layout});
    CHECK(P::workspace_bytes(d, 1) == StaticConvTraits<P>::workspace_bytes(d));
  };
  for (const char* problem : {"ic3ih9iw7oc16kh3sh2ph1", "mb2ic12ih5oc24kh3ph1", "g2ic16ih6oc8kh5dh2ph4"})
    agrees(problem, Im2colGemm{});
  for (const char* problem : {"ic16ih5oc12kh1", "mb2ic7ih9iw4oc33kh1"}) agrees(problem, Conv1x1Gemm{});
  for (const char* problem : {"ic12ih5oc24kh3ph1", "ic17ih9iw7oc9kh3sh2"}) agrees(problem, DirectNchwc{});
  for (const char* problem : {"ic1ih8oc8kh3ph1", "ic3ih9iw7oc24kh7sh2ph3"}) agrees(problem, DirectSmallIc{});
  for (const char* problem : {"g16ic16ih5oc16kh3ph1", "g13ic13ih9iw7oc13kh3sh2"}) agrees(problem, Depthwise{});
}
