#include <catch2/catch.hpp>

#include <cmath>
#include <string>

#include "op_test_util.hpp"
#include "primsel/core/thread_pool.hpp"
#include "primsel/primitives/ops/softmax.hpp"
#include "primsel/primitives/reference/tensor_ops.hpp"

using namespace primsel;
using primsel::testing::check_matches;
using primsel::testing::filled;
using primsel::testing::message_of;
using primsel::testing::op_layouts;
using primsel::testing::poisoned;
using primsel::testing::to_poisoned_layout;

namespace {

// Float sums (the reference sums in double) and xsimd's exp (a few ulp) on probabilities <= 1: the sweep's worst
// error is ~3e-7 with up to 1000 channels.
constexpr double softmax_tolerance = 1e-6;

Tensor logits(Shape s, Rng& rng, float scale) {
  Tensor t = filled(s, rng, false);
  for (float& v : t.floats()) v *= scale;
  return t;
}

void check_softmax(const Tensor& x, ThreadPool* pool) {
  Tensor expected(x.shape());
  reference::softmax(x.view(), 1, expected.view());
  for (Layout l : op_layouts) {
    if (x.shape().rank() != 4 && l != Layout::nchw) continue;
    INFO(to_string(x.shape()) << " " << to_string(l) << " threads " << (pool ? pool->size() : 1));
    const Tensor xl = to_poisoned_layout(x, l);
    Tensor y = poisoned(x.shape(), l);
    const Status s = ops::softmax(xl.view(), y.view(), pool);
    INFO(message_of(s));
    REQUIRE(s.ok());
    check_matches(expected, y, softmax_tolerance);
  }
}

}  // namespace

TEST_CASE("Softmax over channels matches the reference on every layout", "[ops][softmax]") {
  ThreadPool two(2);
  Rng rng(13);
  int index = 0;
  for (std::int64_t c : {1, 3, 5, 8, 17, 33})
    for (std::int64_t hw : {1, 7, 13})
      for (std::int64_t n : {1, 2}) {
        ThreadPool* pool = ++index % 2 ? &two : nullptr;
        check_softmax(logits({n, c, hw, hw == 7 ? 9 : hw}, rng, 8.0f), pool);
        check_softmax(logits({n, c}, rng, 8.0f), pool);
      }
}

TEST_CASE("Softmax: classifier rows, wide planes over threads, huge logits, in place", "[ops][softmax]") {
  ThreadPool two(2);
  Rng rng(17);
  check_softmax(logits({2, 1000}, rng, 10.0f), &two);
  check_softmax(logits({64, 37}, rng, 10.0f), &two);
  check_softmax(logits({4096, 10}, rng, 10.0f), &two);  // enough rows to split over threads
  check_softmax(logits({2, 21, 33, 35}, rng, 10.0f), &two);
  check_softmax(logits({1, 1000, 1, 1}, rng, 10.0f), &two);
  // Without subtracting the max, exp(1000) overflows to inf and every output is NaN.
  Tensor big = logits({2, 19, 5, 3}, rng, 5.0f);
  for (float& v : big.floats()) v += 1000.0f;
  check_softmax(big, nullptr);
  for (float& v : big.floats()) v -= 2000.0f;  // all far below zero: exp(x) alone would underflow to 0/0
  check_softmax(big, &two);

  const Tensor x = logits({3, 17, 4, 5}, rng, 4.0f);
  Tensor expected(x.shape());
  reference::softmax(x.view(), 1, expected.view());
  for (Layout l : op_layouts) {
    INFO(to_string(l) << " in place");
    Tensor inout = to_poisoned_layout(x, l);
    REQUIRE(ops::softmax(inout.view(), inout.view()).ok());
    check_matches(expected, inout, softmax_tolerance);
  }
}

TEST_CASE("Softmax rejects bad arguments with errors naming the op and shapes", "[ops][softmax][errors]") {
  Tensor x({2, 10}), y({2, 10});
  REQUIRE(ops::softmax(x.view(), y.view()).ok());

  Tensor other({2, 11});
  auto s = ops::softmax(x.view(), other.view());
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().code() == ErrorCode::shape_mismatch);
  CHECK_THAT(message_of(s), Catch::Contains("Softmax") && Catch::Contains("2x10") && Catch::Contains("2x11"));

  Tensor vec({10}), vec_out({10});
  s = ops::softmax(vec.view(), vec_out.view());
  REQUIRE_FALSE(s.ok());
  CHECK_THAT(message_of(s), Catch::Contains("Softmax") && Catch::Contains("axis 1"));

  Tensor x4({1, 5, 2, 2}), y16({1, 5, 2, 2}, Format{Layout::nchw16c});
  s = ops::softmax(x4.view(), y16.view());
  REQUIRE_FALSE(s.ok());
  CHECK_THAT(message_of(s), Catch::Contains("Softmax") && Catch::Contains("layouts differ"));

  s = ops::softmax(ConstTensorView(x.bytes(), {2, 9}), TensorView(x.bytes() + 4, {2, 9}));
  REQUIRE_FALSE(s.ok());
  CHECK_THAT(message_of(s), Catch::Contains("overlaps"));
}
