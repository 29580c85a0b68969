// Both GEMMs against a naive triple loop. Small-integer fills keep every fp32 sum exact, so results must be
// bit-identical whatever the blocking, tiling or thread split.
#include <catch2/catch.hpp>

#include <algorithm>
#include <limits>
#include <vector>

#include "primsel/core/random.hpp"
#include "primsel/primitives/gemm/eigen_gemm.hpp"
#include "primsel/primitives/gemm/sgemm.hpp"

using namespace primsel;
using namespace primsel::gemm;

namespace {
struct Case {
  std::int64_t m, n, k;
  bool ta = false, tb = false;
  float beta = 0;
  BiasAxis axis = BiasAxis::none;
  Activation act;
  std::int64_t pad = 0;  // extra leading-dimension elements
};

std::vector<float> ints(std::int64_t count, Rng& rng) {
  std::vector<float> v(static_cast<std::size_t>(count));
  for (float& x : v) x = static_cast<float>(rng.below(9)) - 4.0f;
  return v;
}

void check(const Case& t, int threads, bool eigen) {
  INFO("m " << t.m << " n " << t.n << " k " << t.k << " ta " << t.ta << " tb " << t.tb << " beta " << t.beta
            << " axis " << static_cast<int>(t.axis) << " threads " << threads << (eigen ? " eigen" : " packed"));
  Rng rng(static_cast<std::uint64_t>(t.m * 131 + t.n * 7 + t.k));
  const std::int64_t lda = (t.ta ? t.m : t.k) + t.pad, ldb = (t.tb ? t.k : t.n) + t.pad, ldc = t.n + t.pad;
  const auto a = ints((t.ta ? t.k : t.m) * lda, rng), b = ints((t.tb ? t.n : t.k) * ldb, rng);
  const auto bias = ints(std::max(t.m, t.n), rng);
  std::vector<float> c = ints(t.m * ldc, rng), expected = c;
  const MatrixRef ar{a.data(), lda, t.ta}, br{b.data(), ldb, t.tb};
  for (std::int64_t i = 0; i < t.m; ++i)
    for (std::int64_t j = 0; j < t.n; ++j) {
      float acc = 0;
      for (std::int64_t p = 0; p < t.k; ++p) acc += ar.at(i, p) * br.at(p, j);
      float& y = expected[static_cast<std::size_t>(i * ldc + j)];
      y = acc + t.beta * y;
      if (t.axis == BiasAxis::rows) y += bias[static_cast<std::size_t>(i)];
      if (t.axis == BiasAxis::columns) y += bias[static_cast<std::size_t>(j)];
      y = t.act.apply(y);
    }
  const GemmEpilogue e{t.beta, bias.data(), t.axis, t.act};
  if (eigen) {
    eigen_sgemm(t.m, t.n, t.k, ar, br, c.data(), ldc, e);
  } else {
    ThreadPool pool(threads);
    std::vector<std::byte> ws(workspace_bytes(t.m, t.k, threads) + 64);
    auto* aligned = reinterpret_cast<std::byte*>((reinterpret_cast<std::uintptr_t>(ws.data()) + 63) & ~std::uintptr_t{63});
    sgemm(t.m, t.n, t.k, ar, br, c.data(), ldc, e, &pool, {aligned, workspace_bytes(t.m, t.k, threads)});
  }
  std::size_t diff = 0;
  for (std::size_t i = 0; i < c.size(); ++i) diff += c[i] != expected[i];  // padding columns must stay untouched too
  CHECK(diff == 0);
}
}  // namespace

TEST_CASE("sgemm and eigen_sgemm equal the naive product over a shape sweep") {
  const std::int64_t sizes[] = {1, 2, 5, 6, 7, 15, 16, 17, 33, 64, 100, 257};
  for (std::int64_t m : sizes)
    for (std::int64_t n : sizes)
      for (std::int64_t k : {std::int64_t{1}, std::int64_t{7}, std::int64_t{64}, std::int64_t{300}}) {
        const Case t{m, n, k};
        check(t, 1, false);
        if ((m + n) % 3 == 0) check(t, 2, false);
        if ((m * n) % 5 == 0) check(t, 1, true);
      }
}

TEST_CASE("transposes, leading dimensions, beta, bias and clamp epilogues") {
  const Activation relu6 = Activation::relu6(), band{-3, 5};
  for (const Case& t : {Case{17, 33, 65, true, false}, Case{17, 33, 65, false, true}, Case{9, 40, 20, true, true, 0, BiasAxis::none, {}, 3},
                        Case{13, 29, 31, false, false, 1, BiasAxis::rows, relu6, 2}, Case{31, 13, 600, false, false, -0.5f, BiasAxis::columns, band},
                        Case{6, 16, 256, false, false, 2, BiasAxis::rows, Activation::relu()}, Case{100, 1, 33, false, false, 0, BiasAxis::columns},
                        Case{1, 1000, 512, false, true, 0, BiasAxis::columns}, Case{5, 7, 0, false, false, 1, BiasAxis::rows, band},
                        Case{130, 1100, 260, false, false, 0, BiasAxis::rows, relu6}})
    for (int threads : {1, 2, 3}) {
      check(t, threads, false);
      if (threads == 1) check(t, 1, true);
    }
}

TEST_CASE("a packed A is reused across calls") {
  Rng rng(3);
  const std::int64_t m = 20, k = 30, n = 11;
  const auto a = ints(m * k, rng), b = ints(k * n, rng);
  auto packed = PackedA::pack({a.data(), k}, m, k);
  REQUIRE(packed.ok());
  std::vector<float> c1(static_cast<std::size_t>(m * n)), c2 = c1, ref = c1;
  std::vector<std::byte> ws(packed_workspace_bytes(1) + 64);
  auto* aligned = reinterpret_cast<std::byte*>((reinterpret_cast<std::uintptr_t>(ws.data()) + 63) & ~std::uintptr_t{63});
  const std::span<std::byte> span{aligned, packed_workspace_bytes(1)};
  sgemm_packed(packed->data(), m, k, {b.data(), n}, n, c1.data(), n, {}, nullptr, span);
  sgemm_packed(packed->data(), m, k, {b.data(), n}, n, c2.data(), n, {}, nullptr, span);
  eigen_sgemm(m, n, k, {a.data(), k}, {b.data(), n}, ref.data(), n, {});
  CHECK(c1 == ref);
  CHECK(c2 == ref);
}

TEST_CASE("a prepacked B gives the same product over K and N blockings, streamed or not") {
  // k > kc and n > nc exercise every block offset of the prepacked layout; the streamed variant's prefetch split
  // depends on the row panels (1, 3, 9 here) and on whether the next panel is in this k block or the next.
  for (const auto [m, n, k] : {std::array<std::int64_t, 3>{1, 1, 1}, {7, 33, 5}, {13, 70, 300}, {6, 1100, 260},
                               {16, 512, 513}, {17, 130, 256}, {49, 64, 257}, {3, 200, 17}}) {
    INFO("m " << m << " n " << n << " k " << k);
    Rng rng(static_cast<std::uint64_t>(m + n + k));
    const auto a = ints(m * k, rng), b = ints(k * n, rng), bias = ints(n, rng);
    auto packed_b = PackedB::pack({b.data(), n}, k, n);
    REQUIRE(packed_b.ok());
    std::vector<float> a_packed(static_cast<std::size_t>(packed_a_floats(m, k)));
    pack_a({a.data(), k}, m, k, a_packed.data());
    const GemmEpilogue e{0.0f, bias.data(), BiasAxis::columns, Activation::relu()};
    std::vector<float> c(static_cast<std::size_t>(m * n)), ref = c;
    sgemm_prepacked(AOperand::packed(a_packed.data()), m, *packed_b, c.data(), n, e);
    eigen_sgemm(m, n, k, {a.data(), k}, {b.data(), n}, ref.data(), n, e);
    CHECK(c == ref);
    std::vector<float> streamed(c.size(), -1.0f);
    sgemm_prepacked_streamed(AOperand::packed(a_packed.data()), m, *packed_b, streamed.data(), n, e);
    CHECK(streamed == ref);

    // A read in place, rows ld > k floats apart: the gaps hold NaN (a read of them would show in C), and the
    // buffer ends at the last row's k-th float (a read past it fails CI's ASan run: seen with the rows past m
    // not clamped).
    const std::int64_t ld = k + 3;
    std::vector<float> rows(static_cast<std::size_t>((m - 1) * ld + k), std::numeric_limits<float>::quiet_NaN());
    for (std::int64_t i = 0; i < m; ++i) std::copy_n(a.data() + i * k, k, rows.data() + i * ld);
    std::vector<float> in_place(c.size(), -1.0f), in_place_streamed(c.size(), -1.0f);
    sgemm_prepacked(AOperand::rows(rows.data(), ld), m, *packed_b, in_place.data(), n, e);
    sgemm_prepacked_streamed(AOperand::rows(rows.data(), ld), m, *packed_b, in_place_streamed.data(), n, e);
    CHECK(in_place == ref);
    CHECK(in_place_streamed == ref);
  }
}
