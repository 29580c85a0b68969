#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "op_test_util.hpp"
#include "primsel/core/thread_pool.hpp"
#include "primsel/primitives/ops/concat.hpp"
#include "primsel/primitives/reference/tensor_ops.hpp"

using namespace primsel;
using primsel::testing::check_matches;
using primsel::testing::filled;
using primsel::testing::message_of;
using primsel::testing::op_layouts;
using primsel::testing::poisoned;
using primsel::testing::to_poisoned_layout;

namespace {

std::string list(const std::vector<std::int64_t>& cs) {
  std::string s;
  for (std::int64_t c : cs) s.append(s.empty() ? "" : "+").append(std::to_string(c));
  return s;
}

/// Concatenates inputs of the given channel counts on every layout and compares with the reference, exactly.
void check_concat(const std::vector<std::int64_t>& channels, std::int64_t n, std::int64_t h, std::int64_t w,
                  ThreadPool* pool, Rng& rng) {
  std::vector<Tensor> xs;
  std::int64_t total = 0;
  for (std::int64_t c : channels) {
    xs.push_back(filled({n, c, h, w}, rng, false));
    total += c;
  }
  std::vector<ConstTensorView> views;  // the reference memcpy's from each input: leave out those without data
  for (const Tensor& x : xs)
    if (x.numel()) views.push_back(x.view());
  Tensor expected({n, total, h, w});
  reference::concat(views, 1, expected.view());
  for (Layout l : op_layouts) {
    INFO("channels " << list(channels) << " mb" << n << " " << h << "x" << w << " " << to_string(l) << " threads "
                     << (pool ? pool->size() : 1));
    std::vector<Tensor> xl;
    std::vector<ConstTensorView> lv;
    for (const Tensor& x : xs)  // an input with no channels has no data to convert
      xl.push_back(x.numel() ? to_poisoned_layout(x, l) : Tensor(x.shape(), Format{l}));
    for (const Tensor& x : xl) lv.push_back(x.view());
    Tensor y = poisoned({n, total, h, w}, l);
    const Status s = ops::concat(lv, y.view(), pool);
    INFO(message_of(s));
    REQUIRE(s.ok());
    check_matches(expected, y);
  }
}

}  // namespace

TEST_CASE("Concat equals the reference on every layout, re-packing channels that straddle blocks", "[ops][concat]") {
  ThreadPool two(2);
  Rng rng(9);
  const std::vector<std::vector<std::int64_t>> channel_lists = {
      {1},       {3, 5},  {8, 8},         {16, 16}, {17, 1, 33},        {33, 3},   {8, 3, 16, 5},
      {1, 1, 1}, {5, 17}, {16, 8, 8, 16}, {32, 17}, {3, 3, 3, 3, 3, 3}, {8, 0, 5},
  };
  int index = 0;
  for (const auto& channels : channel_lists)
    for (std::int64_t hw : {1, 7, 13})
      for (std::int64_t n : {1, 2}) {
        ThreadPool* pool = ++index % 2 ? &two : nullptr;
        check_concat(channels, n, hw, hw == 7 ? 5 : hw, pool, rng);
      }
}

TEST_CASE("Concat: large tensors split over threads; rank-2 nchw", "[ops][concat]") {
  ThreadPool two(2);
  Rng rng(2);
  check_concat({64, 96, 128, 32}, 2, 28, 28, &two, rng);  // Inception-like: whole blocks
  check_concat({48, 17, 100}, 2, 21, 23, &two, rng);      // straddling blocks
  const Tensor a = filled({3, 10}, rng), b = filled({3, 7}, rng);
  const ConstTensorView parts[] = {a.view(), b.view()};
  Tensor expected({3, 17}), y({3, 17});
  reference::concat(parts, 1, expected.view());
  REQUIRE(ops::concat(parts, y.view(), &two).ok());
  check_matches(expected, y);
}

TEST_CASE("Concat rejects bad arguments with errors naming the op and shapes", "[ops][concat][errors]") {
  Tensor a({1, 3, 4, 4}), b({1, 5, 4, 4}), y({1, 8, 4, 4});
  const ConstTensorView ok[] = {a.view(), b.view()};
  REQUIRE(ops::concat(ok, y.view()).ok());

  Tensor wrong_c({1, 9, 4, 4});
  auto s = ops::concat(ok, wrong_c.view());
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().code() == ErrorCode::shape_mismatch);
  CHECK_THAT(message_of(s), Catch::Contains("Concat") && Catch::Contains("1x3x4x4") && Catch::Contains("1x9x4x4") &&
                                Catch::Contains("8 channels"));

  Tensor other_hw({1, 5, 4, 5});
  const ConstTensorView mismatched[] = {a.view(), other_hw.view()};
  s = ops::concat(mismatched, y.view());
  REQUIRE_FALSE(s.ok());
  CHECK_THAT(message_of(s),
             Catch::Contains("Concat") && Catch::Contains("input 1") && Catch::Contains("outside axis 1"));

  Tensor blocked({1, 5, 4, 4}, Format{Layout::nchw8c});
  const ConstTensorView mixed[] = {a.view(), blocked.view()};
  s = ops::concat(mixed, y.view());
  REQUIRE_FALSE(s.ok());
  CHECK_THAT(message_of(s), Catch::Contains("Concat") && Catch::Contains("nchw8c") && Catch::Contains("one layout"));

  s = ops::concat({}, y.view());
  REQUIRE_FALSE(s.ok());
  CHECK_THAT(message_of(s), Catch::Contains("Concat") && Catch::Contains("at least one input"));

  const ConstTensorView aliased[] = {a.view(), ConstTensorView(y.bytes(), {1, 5, 4, 4})};
  s = ops::concat(aliased, y.view());
  REQUIRE_FALSE(s.ok());
  CHECK_THAT(message_of(s), Catch::Contains("overlaps"));

  Tensor v1({6}), v2({6}), v3({12});
  const ConstTensorView vectors[] = {v1.view(), v2.view()};
  s = ops::concat(vectors, v3.view());
  REQUIRE_FALSE(s.ok());
  CHECK_THAT(message_of(s), Catch::Contains("axis 1"));
}
