#include <catch2/catch.hpp>

#include "primsel/graph/op.hpp"

using namespace primsel;

namespace {
// Out of line so the variant is built from a temporary argument, the pattern GCC 12 miscompiled with 512-bit
// SLP vectorisation (see cmake/primselCompilerWorkarounds.cmake).
[[gnu::noinline]] PoolParams round_trip(OpParams params) { return std::get<PoolParams>(params); }
}  // namespace

TEST_CASE("op parameters survive being copied into the OpParams variant") {
  const PoolParams p = round_trip(PoolParams{.kernel = {2, 2}, .stride = {2, 2}});
  CHECK(p.kernel == std::array<std::int64_t, 2>{2, 2});
  CHECK(p.stride == std::array<std::int64_t, 2>{2, 2});
  CHECK(p.pads == Pads2d{});
  CHECK_FALSE(p.ceil_mode);
  const PoolParams q = round_trip(PoolParams{.kernel = {3, 5}, .stride = {1, 2}, .pads = {1, 2, 0, 1}, .ceil_mode = true});
  CHECK(q == PoolParams{.kernel = {3, 5}, .stride = {1, 2}, .pads = {1, 2, 0, 1}, .ceil_mode = true});
}
