#include <catch2/catch.hpp>

#include <cstdint>

#include "primsel/core/layout_convert.hpp"

using namespace primsel;

namespace {
// A tensor whose element (n, c, h, w) holds a unique value encoding its position, in layout `l`.
Tensor numbered(const Shape& s, Layout l, DType t = DType::f32) {
  Tensor x(s, Format{l, t});
  for (std::int64_t n = 0; n < s.n(); ++n)
    for (std::int64_t c = 0; c < s.c(); ++c)
      for (std::int64_t h = 0; h < s.h(); ++h)
        for (std::int64_t w = 0; w < s.w(); ++w) {
          const std::int64_t code = ((n * 31 + c) * 17 + h) * 13 + w + 1;
          if (t == DType::f32)
            x.data<float>()[offset(s, l, n, c, h, w)] = static_cast<float>(code);
          else
            x.data<std::uint8_t>()[offset(s, l, n, c, h, w)] = static_cast<std::uint8_t>(code % 251 + 1);
        }
  return x;
}

bool same_logical(const Tensor& a, const Tensor& b) {
  const Shape& s = a.shape();
  const std::size_t e = size_of(a.dtype());
  for (std::int64_t n = 0; n < s.n(); ++n)
    for (std::int64_t c = 0; c < s.c(); ++c)
      for (std::int64_t h = 0; h < s.h(); ++h)
        for (std::int64_t w = 0; w < s.w(); ++w)
          if (std::memcmp(a.bytes() + offset(s, a.layout(), n, c, h, w) * static_cast<std::int64_t>(e),
                          b.bytes() + offset(s, b.layout(), n, c, h, w) * static_cast<std::int64_t>(e), e) != 0)
            return false;
  return true;
}

// The padded tail channels of a blocked tensor are all zero bytes.
bool tail_is_zero(const Tensor& t) {
  if (!is_blocked(t.layout())) return true;
  const Shape& s = t.shape();
  const std::int64_t b = channel_block(t.layout()), cb = (s.c() + b - 1) / b;
  const std::size_t e = size_of(t.dtype());
  for (std::int64_t n = 0; n < s.n(); ++n)
    for (std::int64_t c = s.c(); c < cb * b; ++c)
      for (std::int64_t p = 0; p < s.h() * s.w(); ++p) {
        const std::int64_t at = (((n * cb + c / b) * s.h() * s.w()) + p) * b + c % b;
        for (std::size_t k = 0; k < e; ++k)
          if (t.bytes()[at * static_cast<std::int64_t>(e) + static_cast<std::int64_t>(k)] != std::byte{0}) return false;
      }
  return true;
}
}  // namespace

TEST_CASE("offset follows each layout's formula") {
  const Shape s{2, 13, 9, 7};
  CHECK(offset(s, Layout::nchw, 1, 2, 3, 4) == ((1 * 13 + 2) * 9 + 3) * 7 + 4);
  CHECK(offset(s, Layout::nhwc, 1, 2, 3, 4) == ((1 * 9 + 3) * 7 + 4) * 13 + 2);
  CHECK(offset(s, Layout::nchw8c, 1, 10, 3, 4) == (((1 * 2 + 1) * 9 + 3) * 7 + 4) * 8 + 2);
  CHECK(offset(s, Layout::nchw16c, 1, 10, 3, 4) == (((1 * 1 + 0) * 9 + 3) * 7 + 4) * 16 + 10);
  CHECK(storage_elements(s, Layout::nchw8c) == 2 * 16 * 9 * 7);
  CHECK(storage_elements(s, Layout::nchw16c) == 2 * 16 * 9 * 7);
  CHECK(storage_elements(Shape{1, 17, 2, 2}, Layout::nchw16c) == 32 * 4);
}

TEST_CASE("every pair of layouts round-trips exactly, blocked tails zeroed") {
  const auto channels = GENERATE(1, 3, 7, 8, 13, 16, 17, 24);
  const auto batch = GENERATE(1, 2);
  const auto dtype = GENERATE(DType::f32, DType::u8);
  const Shape s{batch, channels, 9, 7};
  for (Layout from : all_layouts)
    for (Layout to : all_layouts) {
      INFO(to_string(s) << " " << to_string(from) << " -> " << to_string(to) << " " << to_string(dtype));
      const Tensor src = numbered(s, from, dtype);
      auto there = to_layout(src, to);
      REQUIRE(there.ok());
      CHECK(there->layout() == to);
      CHECK(same_logical(src, *there));
      CHECK(tail_is_zero(*there));
      auto back = to_layout(*there, from);
      REQUIRE(back.ok());
      CHECK(std::memcmp(back->bytes(), src.bytes(), src.size_bytes()) == 0);
    }
}

TEST_CASE("bad conversions say what is wrong") {
  Tensor a({1, 3, 4, 4});
  Tensor b({1, 3, 4, 5}, Format{Layout::nhwc});
  Status s = convert(a.view(), b.view());
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().code() == ErrorCode::shape_mismatch);
  CHECK_THAT(s.error().what(), Catch::Contains("1x3x4x4 nchw/f32 -> 1x3x4x5 nhwc/f32"));
  Tensor q({1, 3, 4, 4}, Format{Layout::nhwc, DType::u8});
  CHECK_THAT(convert(a.view(), q.view()).error().what(), Catch::Contains("not the dtype"));
  Tensor flat({2, 6});
  auto blocked = to_layout(flat, Layout::nchw8c);
  REQUIRE_FALSE(blocked.ok());
  CHECK_THAT(blocked.error().what(), Catch::Contains("needs a 4-D tensor, got 2x6"));
}
