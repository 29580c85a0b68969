#include <catch2/catch.hpp>

#include <limits>
#include <string>

#include "op_test_util.hpp"
#include "primsel/core/thread_pool.hpp"
#include "primsel/primitives/ops/eltwise.hpp"
#include "primsel/primitives/reference/elementwise.hpp"

using namespace primsel;
using primsel::testing::check_matches;
using primsel::testing::filled;
using primsel::testing::message_of;
using primsel::testing::op_layouts;
using primsel::testing::poisoned;
using primsel::testing::to_poisoned_layout;

namespace {

constexpr float inf = std::numeric_limits<float>::infinity();

// Activations to fuse or run alone: none, Relu, Relu6, and clamps whose image of the zero padding is not zero.
const Activation activations[] = {Activation::none(), Activation::relu(), Activation::relu6(),
                                  {1.0f, 6.0f},       {-inf, -0.5f},      {-1.5f, 2.5f}};

Tensor reference_add(const Tensor& a, const Tensor& b, Activation act) {
  Tensor sum(a.shape()), out(a.shape());
  reference::binary(a.view(), b.view(), reference::BinaryOp::add, sum.view());
  reference::clamp(sum.view(), act, out.view());
  return out;
}

/// Real-valued fills with a few specials mixed in (NaN, infinities, signed zeros).
Tensor with_specials(Shape s, Rng& rng) {
  Tensor t = filled(s, rng, false);
  auto f = t.floats();
  const float specials[] = {std::numeric_limits<float>::quiet_NaN(), inf, -inf, 0.0f, -0.0f};
  for (std::size_t i = 0; i < f.size(); i += 7) f[i] = specials[i / 7 % 5];
  return t;
}

}  // namespace

TEST_CASE("Add with fused clamp, Relu and Clip equal the reference on every layout", "[ops][eltwise]") {
  ThreadPool two(2);
  Rng rng(21);
  int index = 0;
  for (std::int64_t c : {1, 3, 5, 8, 17, 33})
    for (std::int64_t hw : {1, 7, 13})
      for (std::int64_t n : {1, 2}) {
        const Shape s{n, c, hw, hw + 2 * (index % 2)};
        ThreadPool* pool = ++index % 3 ? &two : nullptr;
        const Tensor a = with_specials(s, rng), b = filled(s, rng, false);
        for (const Activation& act : activations) {
          const Tensor expected_add = reference_add(a, b, act);
          Tensor expected_clamp(s);
          reference::clamp(a.view(), act, expected_clamp.view());
          for (Layout l : op_layouts) {
            INFO(to_string(s) << " " << to_string(l) << " clamp [" << act.lo << ", " << act.hi << "] threads "
                              << (pool ? 2 : 1));
            const Tensor al = to_poisoned_layout(a, l), bl = to_poisoned_layout(b, l);
            Tensor y = poisoned(s, l);
            const Status st = ops::add(al.view(), bl.view(), y.view(), act, pool);
            INFO(message_of(st));
            REQUIRE(st.ok());
            check_matches(expected_add, y);

            Tensor z = poisoned(s, l);
            const Status sc = ops::Clamp::check(al.view(), z.view(), act);
            REQUIRE(sc.ok());
            ops::Clamp::run(al.view(), z.view(), act, pool);
            check_matches(expected_clamp, z);
          }
        }
      }
}

TEST_CASE("Relu and Clip entry points; large tensors split over threads; in place", "[ops][eltwise]") {
  ThreadPool two(2);
  Rng rng(4);
  for (const Shape s : {Shape{2, 33, 45, 47}, Shape{1, 70, 31, 29}, Shape{3, 1000}, Shape{100003}}) {
    const Tensor x = with_specials(s, rng), other = filled(s, rng, false);
    Tensor relu_ref(s), clip_ref(s);
    reference::clamp(x.view(), Activation::relu(), relu_ref.view());
    reference::clamp(x.view(), Activation{-0.25f, 0.75f}, clip_ref.view());
    const Tensor add_ref = reference_add(x, other, Activation::relu6());
    for (Layout l : op_layouts) {
      if (s.rank() != 4 && l != Layout::nchw) continue;
      INFO(to_string(s) << " " << to_string(l));
      const Tensor xl = to_poisoned_layout(x, l);
      Tensor y = poisoned(s, l);
      REQUIRE(ops::relu(xl.view(), y.view(), &two).ok());
      check_matches(relu_ref, y);
      REQUIRE(ops::clip(xl.view(), ClipParams{-0.25f, 0.75f}, y.view(), &two).ok());
      check_matches(clip_ref, y);

      // In place: y is the first input.
      Tensor in_place = to_poisoned_layout(x, l);
      const Tensor ol = to_poisoned_layout(other, l);
      REQUIRE(ops::add(in_place.view(), ol.view(), in_place.view(), Activation::relu6(), &two).ok());
      check_matches(add_ref, in_place);
      Tensor relu_in_place = to_poisoned_layout(x, l);
      REQUIRE(ops::relu(relu_in_place.view(), relu_in_place.view()).ok());
      check_matches(relu_ref, relu_in_place);
    }
  }
}

TEST_CASE("Element-wise ops reject bad arguments with errors naming the op and shapes", "[ops][eltwise][errors]") {
  Tensor a({1, 5, 3, 3}), b({1, 5, 3, 3}), y({1, 5, 3, 3});
  REQUIRE(ops::add(a.view(), b.view(), y.view()).ok());

  Tensor other({1, 5, 3, 4});
  auto s = ops::add(a.view(), other.view(), y.view());
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().code() == ErrorCode::shape_mismatch);
  CHECK_THAT(message_of(s), Catch::Contains("Add") && Catch::Contains("1x5x3x4") && Catch::Contains("broadcast"));

  Tensor blocked({1, 5, 3, 3}, Format{Layout::nchw8c});
  s = ops::add(a.view(), blocked.view(), y.view());
  REQUIRE_FALSE(s.ok());
  CHECK_THAT(message_of(s), Catch::Contains("Add") && Catch::Contains("nchw8c") && Catch::Contains("layout"));

  s = ops::add(a.view(), b.view(), y.view(), Activation{2.0f, 1.0f});
  REQUIRE_FALSE(s.ok());
  CHECK_THAT(message_of(s), Catch::Contains("Add") && Catch::Contains("clamp range"));

  s = ops::relu(a.view(), blocked.view());
  REQUIRE_FALSE(s.ok());
  CHECK_THAT(message_of(s), Catch::Contains("Relu") && Catch::Contains("layouts differ"));

  s = ops::clip(a.view(), ClipParams{3.0f, -3.0f}, y.view());
  REQUIRE_FALSE(s.ok());
  CHECK_THAT(message_of(s), Catch::Contains("Clip") && Catch::Contains("empty"));

  s = ops::relu(a.view(), other.view());
  REQUIRE_FALSE(s.ok());
  CHECK_THAT(message_of(s), Catch::Contains("Relu") && Catch::Contains("shapes differ"));

  Tensor ints({1, 5, 3, 3}, Format{Layout::nchw, DType::s8});
  s = ops::relu(ints.view(), ints.view());
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().code() == ErrorCode::unsupported);

  // Writing one element ahead of the input would read already-written values.
  Tensor big({1, 50});
  s = ops::relu(ConstTensorView(big.bytes(), {1, 49}), TensorView(big.bytes() + 4, {1, 49}));
  REQUIRE_FALSE(s.ok());
  CHECK_THAT(message_of(s), Catch::Contains("Relu") && Catch::Contains("overlaps"));

  s = ops::relu(ConstTensorView(nullptr, {1, 5, 3, 3}), y.view());
  REQUIRE_FALSE(s.ok());
  CHECK_THAT(message_of(s), Catch::Contains("no data"));
}
