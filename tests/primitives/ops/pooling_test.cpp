#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "op_test_util.hpp"
#include "primsel/core/thread_pool.hpp"
#include "primsel/primitives/ops/pooling.hpp"
#include "primsel/primitives/reference/pool.hpp"

using namespace primsel;
using primsel::testing::check_matches;
using primsel::testing::filled;
using primsel::testing::message_of;
using primsel::testing::op_layouts;
using primsel::testing::poisoned;
using primsel::testing::to_poisoned_layout;

namespace {

// Both poolings reduce each window in the reference's order and divide the same way: exact, real-valued fills too.
// Global average pooling sums in float, the reference in double: ~(H + W) ulp of the largest input.
constexpr double global_pool_tolerance = 1e-6;

struct Case {
  std::int64_t n, c, h, w;
  PoolParams p;
};

std::string describe(const Case& k, bool is_max, Layout l, int threads) {
  return std::string(is_max ? "MaxPool" : "AveragePool") + " mb" + std::to_string(k.n) + "ic" + std::to_string(k.c) +
         "ih" + std::to_string(k.h) + "iw" + std::to_string(k.w) + " k" + std::to_string(k.p.kernel[0]) + "x" +
         std::to_string(k.p.kernel[1]) + " s" + std::to_string(k.p.stride[0]) + "x" + std::to_string(k.p.stride[1]) +
         " pads " + std::to_string(k.p.pads.top) + "," + std::to_string(k.p.pads.left) + "," +
         std::to_string(k.p.pads.bottom) + "," + std::to_string(k.p.pads.right) + (k.p.ceil_mode ? " ceil" : "") +
         (k.p.count_include_pad ? " include_pad" : "") + " " + std::string(to_string(l)) + " threads " +
         std::to_string(threads);
}

/// Runs one case on every layout against the reference; returns false if the window does not fit (and checks that
/// the op says so).
bool check_case(const Case& k, bool is_max, ThreadPool* pool, Rng& rng) {
  const Shape xs{k.n, k.c, k.h, k.w};
  auto ys = ops::pool_output_shape(xs, k.p, is_max ? "MaxPool" : "AveragePool");
  if (!ys) {
    CHECK_THAT(message_of(ys), Catch::Contains(is_max ? "MaxPool" : "AveragePool"));
    return false;
  }
  const Tensor x = filled(xs, rng, /*integers=*/false);
  Tensor expected(*ys);
  reference::pool2d(x.view(), k.p, is_max, expected.view());
  for (Layout l : op_layouts) {
    INFO(describe(k, is_max, l, pool ? pool->size() : 1));
    const Tensor xl = to_poisoned_layout(x, l);
    Tensor y = poisoned(*ys, l);
    const Status s =
        is_max ? ops::max_pool(xl.view(), k.p, y.view(), pool) : ops::average_pool(xl.view(), k.p, y.view(), pool);
    INFO(message_of(s));
    REQUIRE(s.ok());
    check_matches(expected, y);
  }
  return true;
}

}  // namespace

TEST_CASE("MaxPool and AveragePool equal the reference on every layout over a shape sweep", "[ops][pool]") {
  ThreadPool two(2);
  Rng rng(7);
  const std::int64_t channels[] = {1, 3, 5, 8, 17, 33};
  const std::pair<std::int64_t, std::int64_t> sizes[] = {{1, 1}, {7, 7}, {13, 13}, {7, 13}, {13, 1}};
  const std::int64_t kernels[] = {1, 2, 3, 5};
  int run = 0, skipped = 0, index = 0;
  for (std::int64_t c : channels)
    for (auto [h, w] : sizes)
      for (std::int64_t k : kernels)
        for (std::int64_t s : {1, 2})
          for (bool ceil : {false, true}) {
            // Pads: none, symmetric, asymmetric (bottom/right larger than top/left and the reverse).
            const Pads2d pad_sets[] = {
                {0, 0, 0, 0}, {k / 2, k / 2, k / 2, k / 2}, {0, k - 1, k - 1, 0}, {k - 1, 0, 0, 1 % k}};
            for (const Pads2d& pads : pad_sets) {
              ++index;
              Case cs{1 + index % 2, c, h, w,
                      PoolParams{.kernel = {k, k}, .stride = {s, s}, .pads = pads, .ceil_mode = ceil}};
              ThreadPool* pool = index / 2 % 2 ? &two : nullptr;
              const bool fits = check_case(cs, true, pool, rng);
              if (!fits) {
                ++skipped;
                continue;
              }
              check_case(cs, false, pool, rng);
              cs.p.count_include_pad = true;
              check_case(cs, false, pool, rng);
              ++run;
            }
          }
  CHECK(run > 1000);
  CHECK(skipped > 0);  // the sweep includes windows larger than the padded input, which must be refused
}

TEST_CASE("Pooling: rectangular windows, mixed strides, wide nchw rows (vector and gather paths), threads",
          "[ops][pool]") {
  ThreadPool two(2);
  Rng rng(11);
  const Case cases[] = {
      {1, 3, 9, 40, PoolParams{.kernel = {3, 3}, .stride = {1, 1}, .pads = {1, 1, 1, 1}}},
      {2, 5, 11, 70, PoolParams{.kernel = {3, 3}, .stride = {2, 2}, .pads = {0, 1, 1, 0}, .ceil_mode = true}},
      {1, 17, 7, 67, PoolParams{.kernel = {2, 5}, .stride = {1, 3}, .pads = {1, 2, 0, 4}}},
      {2, 8, 13, 53, PoolParams{.kernel = {5, 2}, .stride = {2, 1}, .pads = {2, 0, 3, 1}, .ceil_mode = true}},
      {1, 1, 6, 100, PoolParams{.kernel = {1, 1}, .stride = {1, 2}}},
      {1, 3, 7, 200, PoolParams{.kernel = {2, 6}, .stride = {1, 5}, .pads = {0, 3, 1, 2}}},  // strides > 4 gather
      {2, 2, 5, 301, PoolParams{.kernel = {3, 9}, .stride = {2, 8}, .pads = {1, 4, 1, 0}, .ceil_mode = true}},
      {1, 2, 3, 77, PoolParams{.kernel = {1, 4}, .stride = {1, 4}, .pads = {0, 2, 0, 2}}},
      {2, 33, 40, 40,
       PoolParams{.kernel = {3, 3}, .stride = {2, 2}, .pads = {1, 1, 1, 1}}},  // enough rows for 2 threads
      {2, 64, 28, 28, PoolParams{.kernel = {2, 2}, .stride = {2, 2}}},
  };
  for (const Case& k : cases)
    for (ThreadPool* pool : {static_cast<ThreadPool*>(nullptr), &two}) {
      REQUIRE(check_case(k, true, pool, rng));
      check_case(k, false, pool, rng);
      Case inc = k;
      inc.p.count_include_pad = true;
      check_case(inc, false, pool, rng);
    }
}

TEST_CASE("MaxPool propagates NaN and keeps infinities like the reference", "[ops][pool]") {
  Rng rng(3);
  Tensor x = filled({1, 17, 9, 37}, rng, false);
  auto f = x.floats();
  f[5] = std::numeric_limits<float>::quiet_NaN();
  f[9 * 37 + 20] = std::numeric_limits<float>::quiet_NaN();
  f[2 * 9 * 37 + 40] = std::numeric_limits<float>::infinity();
  f[3 * 9 * 37 + 41] = -std::numeric_limits<float>::infinity();
  const PoolParams p{.kernel = {3, 3}, .stride = {1, 2}, .pads = {1, 1, 1, 1}};
  const Shape ys = ops::pool_output_shape(x.shape(), p).value();
  for (bool is_max : {true, false}) {
    Tensor expected(ys);
    reference::pool2d(x.view(), p, is_max, expected.view());
    for (Layout l : op_layouts) {
      INFO(to_string(l) << (is_max ? " max" : " average"));
      const Tensor xl = to_layout(x, l).value();
      Tensor y = poisoned(ys, l);
      const Status st = is_max ? ops::max_pool(xl.view(), p, y.view()) : ops::average_pool(xl.view(), p, y.view());
      REQUIRE(st.ok());
      check_matches(expected, y);
    }
  }
}

TEST_CASE("GlobalAveragePool matches the reference on every layout", "[ops][pool]") {
  ThreadPool two(2);
  Rng rng(5);
  for (std::int64_t n : {1, 2})
    for (std::int64_t c : {1, 3, 5, 8, 17, 33})
      for (auto [h, w] : {std::pair<std::int64_t, std::int64_t>{1, 1}, {7, 7}, {13, 13}, {1, 13}, {56, 56}})
        for (ThreadPool* pool : {static_cast<ThreadPool*>(nullptr), &two}) {
          const Tensor x = filled({n, c, h, w}, rng, false);
          Tensor expected({n, c, 1, 1});
          reference::global_average_pool(x.view(), expected.view());
          for (Layout l : op_layouts) {
            INFO(to_string(l) << " " << to_string(x.shape()) << " threads " << (pool ? 2 : 1));
            const Tensor xl = to_poisoned_layout(x, l);
            Tensor y = poisoned({n, c, 1, 1}, l);
            REQUIRE(ops::global_average_pool(xl.view(), y.view(), pool).ok());
            check_matches(expected, y, global_pool_tolerance);
          }
        }
}

TEST_CASE("Pooling rejects bad arguments with errors naming the op and shapes", "[ops][pool][errors]") {
  const PoolParams p{.kernel = {3, 3}, .stride = {2, 2}};
  Tensor x({1, 4, 9, 9}), y({1, 4, 4, 4});
  REQUIRE(ops::max_pool(x.view(), p, y.view()).ok());

  Tensor wrong({1, 4, 5, 4});
  auto s = ops::max_pool(x.view(), p, wrong.view());
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().code() == ErrorCode::shape_mismatch);
  CHECK_THAT(message_of(s), Catch::Contains("MaxPool") && Catch::Contains("1x4x9x9") && Catch::Contains("1x4x5x4"));

  Tensor blocked({1, 4, 4, 4}, Format{Layout::nchw8c});
  s = ops::average_pool(x.view(), p, blocked.view());
  REQUIRE_FALSE(s.ok());
  CHECK_THAT(message_of(s), Catch::Contains("AveragePool") && Catch::Contains("layouts differ"));

  s = ops::max_pool(x.view(), PoolParams{.kernel = {0, 3}}, y.view());
  REQUIRE_FALSE(s.ok());
  CHECK_THAT(message_of(s), Catch::Contains("MaxPool") && Catch::Contains(">= 1"));

  s = ops::max_pool(x.view(), PoolParams{.kernel = {11, 11}}, y.view());
  REQUIRE_FALSE(s.ok());
  CHECK_THAT(message_of(s), Catch::Contains("does not fit"));

  s = ops::max_pool(x.view(), PoolParams{.kernel = {3, 3}, .pads = {-1, 0, 0, 0}}, y.view());
  REQUIRE_FALSE(s.ok());
  CHECK_THAT(message_of(s), Catch::Contains("pads"));

  Tensor ints({1, 4, 9, 9}, Format{Layout::nchw, DType::s32});
  s = ops::max_pool(ints.view(), p, y.view());
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().code() == ErrorCode::unsupported);
  CHECK_THAT(message_of(s), Catch::Contains("MaxPool") && Catch::Contains("s32"));

  Tensor flat({4, 81});
  s = ops::max_pool(flat.view(), p, y.view());
  REQUIRE_FALSE(s.ok());
  CHECK_THAT(message_of(s), Catch::Contains("4-D"));

  // In place would read windows already overwritten.
  const ConstTensorView head(x.bytes(), {1, 4, 9, 9});
  s = ops::max_pool(head, PoolParams{}, TensorView(x.bytes(), {1, 4, 9, 9}));
  REQUIRE_FALSE(s.ok());
  CHECK_THAT(message_of(s), Catch::Contains("overlaps"));

  Tensor g_bad({1, 4, 1, 2});
  s = ops::global_average_pool(x.view(), g_bad.view());
  REQUIRE_FALSE(s.ok());
  CHECK_THAT(message_of(s), Catch::Contains("GlobalAveragePool") && Catch::Contains("1x4x1x1"));
  Tensor g_blocked({1, 4, 1, 1}, Format{Layout::nchw16c});
  s = ops::global_average_pool(x.view(), g_blocked.view());
  REQUIRE_FALSE(s.ok());
  CHECK_THAT(message_of(s), Catch::Contains("GlobalAveragePool") && Catch::Contains("layouts differ"));
}
