// The u8 x s8 GEMM against a plain integer triple loop: bit-exact for every micro-kernel compiled for this
// target (the scalar reference kernel included, so the portable path is tested on every machine), over a shape
// sweep that straddles every tile, K not a multiple of 4, zero points at the edges, 1 and 2 threads, both outputs.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "primsel/core/random.hpp"
#include "primsel/primitives/gemm/gemm_u8s8.hpp"

using namespace primsel;
using namespace primsel::gemm;

namespace {

struct U8S8Case {
  std::int64_t m, n, k;
  std::int32_t zp = 0;
  int threads = 1;
  bool requantize = false;
  bool bias = false;
  bool trans_b = false;
  std::int64_t pad = 0;      // extra columns in A's rows, and in C's, which must stay untouched
  bool small_reals = false;  // every multiplier below 1/4: the fused output stage's `high` form
  bool relu = false;         // lo = output zero point: its `high_nonneg` form
  bool relu6 = false;        // with relu: hi a few dozen steps above the zero point (Relu6's clamp)
};

std::string describe(const U8S8Case& t, const kernels::U8S8Ukernel& kr) {
  return std::string(kr.name) + " m " + std::to_string(t.m) + " n " + std::to_string(t.n) + " k " +
         std::to_string(t.k) + " zp " + std::to_string(t.zp) + " threads " + std::to_string(t.threads) +
         (t.requantize ? " u8" : " s32") + (t.bias ? " bias" : "") + (t.trans_b ? " trans_b" : "") +
         (t.small_reals ? " small reals" : "") + (t.relu ? " relu" : "") + (t.relu6 ? " relu6" : "");
}

// 64-byte aligned scratch.
struct Workspace {
  std::vector<std::byte> raw;
  std::span<std::byte> span;
  explicit Workspace(std::size_t bytes) : raw(bytes + 64) {
    auto* p = reinterpret_cast<std::byte*>((reinterpret_cast<std::uintptr_t>(raw.data()) + 63) & ~std::uintptr_t{63});
    span = {p, bytes};
  }
};

void check_u8s8(const U8S8Case& t, const kernels::U8S8Ukernel& kr) {
  INFO(describe(t, kr));
  Rng rng(static_cast<std::uint64_t>(t.m * 1009 + t.n * 31 + t.k * 7 + t.zp));
  const auto lo = static_cast<std::uint32_t>(kr.a_range.lo), span = static_cast<std::uint32_t>(kr.a_range.hi) - lo + 1;
  const std::int64_t lda = t.k + t.pad;
  std::vector<std::uint8_t> a(static_cast<std::size_t>(t.m * lda));
  // Extremes often: they are where saturation and sign errors show.
  for (auto& x : a)
    x = static_cast<std::uint8_t>(rng.below(4) == 0 ? (rng.below(2) ? kr.a_range.hi : kr.a_range.lo)
                                                    : lo + rng.below(span));
  std::vector<std::int8_t> b(static_cast<std::size_t>(t.k * t.n));
  for (auto& w : b)
    w = static_cast<std::int8_t>(rng.below(4) == 0 ? (rng.below(2) ? 127 : -127) : int(rng.below(255)) - 127);
  const S8MatrixRef br{b.data(), t.trans_b ? t.k : t.n, t.trans_b};
  std::vector<std::int32_t> bias(static_cast<std::size_t>(t.n)), mult(bias.size()), shift(bias.size());
  for (std::size_t j = 0; j < bias.size(); ++j) {
    bias[j] = static_cast<std::int32_t>(rng.below(200001)) - 100000;
    // Output scale so that values spread over the byte with some clipping; a few columns get reals >= 1.
    const double spread = 255.0 * 127.0 * std::sqrt(static_cast<double>(t.k) + 1.0);
    const double real = j % 7 == 3 && !t.small_reals ? 1.5 : rng.uniform(0.5, 4.0) * 40.0 / spread;
    const auto fm = quant::quantize_multiplier(real).value();
    mult[j] = fm.multiplier, shift[j] = fm.shift;
  }
  const std::int32_t out_zp = static_cast<std::int32_t>(rng.below(256)), out_lo = t.relu ? out_zp : 3;
  const std::int32_t out_hi =
      t.relu6 ? std::min<std::int32_t>(255, out_zp + 1 + static_cast<std::int32_t>(rng.below(60))) : 250;

  const std::int64_t ldc = t.n + t.pad;
  std::vector<std::int32_t> expected(static_cast<std::size_t>(t.m * ldc), -7);
  for (std::int64_t i = 0; i < t.m; ++i)
    for (std::int64_t j = 0; j < t.n; ++j) {
      std::int64_t acc = 0;
      for (std::int64_t p = 0; p < t.k; ++p)
        acc += (std::int64_t{a[static_cast<std::size_t>(i * lda + p)]} - t.zp) * br.at(p, j);
      if (t.bias) acc += bias[static_cast<std::size_t>(j)];
      const auto v = static_cast<std::int32_t>(acc);
      expected[static_cast<std::size_t>(i * ldc + j)] =
          t.requantize ? quant::requantize(v, {mult[static_cast<std::size_t>(j)], shift[static_cast<std::size_t>(j)]},
                                           out_zp, out_lo, out_hi)
                       : v;
    }

  auto packed = PackedU8S8B::pack(br, t.k, t.n, kr);
  REQUIRE(packed.ok());
  ThreadPool pool(t.threads);
  Workspace ws(u8s8_workspace_bytes(t.m, t.k, kr, t.threads));
  U8S8Output out{.ldc = ldc, .bias = t.bias ? bias.data() : nullptr};
  std::vector<std::int32_t> c32(expected.size(), -7);
  std::vector<std::uint8_t> c8(expected.size(), 0xF9);  // -7 as a byte
  if (t.requantize) {
    out.u8 = c8.data(), out.multiplier = mult.data(), out.shift = shift.data();
    out.zero_point = out_zp, out.lo = out_lo, out.hi = out_hi;
  } else {
    out.s32 = c32.data();
  }
  gemm_u8s8({a.data(), lda}, t.m, t.zp, *packed, out, &pool, ws.span);
  std::size_t diff = 0, first = expected.size();
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const bool pad = static_cast<std::int64_t>(i) % ldc >= t.n;
    const std::int32_t want = t.requantize && pad ? 0xF9 : expected[i];
    const std::int32_t got = t.requantize ? std::int32_t{c8[i]} : c32[i];
    if (got != want && diff++ == 0) first = i;
  }
  INFO("first difference at " << first / static_cast<std::size_t>(ldc) << ", "
                              << first % static_cast<std::size_t>(ldc));
  CHECK(diff == 0);
}

const std::int64_t u8s8_sizes[] = {1, 3, 5, 17, 33, 64, 100, 257};
const std::int32_t zero_points[] = {0, 128, 255};

// Zero points are meaningful within the activation range (a 7-bit kernel's edge is 127).
std::int32_t edge_zp(int index, const kernels::U8S8Ukernel& kr) {
  return std::min(zero_points[index % 3], kr.a_range.hi);
}

}  // namespace

TEST_CASE("gemm_u8s8 with the default kernel equals the integer reference over a shape sweep") {
  INFO("default kernel " << kernels::u8s8_default_ukernel.name);
  int index = 0;
  for (std::int64_t m : u8s8_sizes)
    for (std::int64_t n : u8s8_sizes)
      for (std::int64_t k : u8s8_sizes) {
        ++index;
        for (int z = 0; z < 3; ++z)
          check_u8s8({m, n, k, edge_zp(z, kernels::u8s8_default_ukernel), 1 + (index + z) % 2, (index + z) % 2 == 0,
                      index % 3 == 0},
                     kernels::u8s8_default_ukernel);
      }
}

TEST_CASE("every compiled u8s8 micro-kernel, the scalar reference included, is exact through the GEMM") {
  for (const auto& kr : kernels::u8s8_kernels) {
    int index = 0;
    for (std::int64_t m : u8s8_sizes)
      for (std::int64_t n : u8s8_sizes)
        for (std::int64_t k : {std::int64_t{1}, std::int64_t{5}, std::int64_t{33}, std::int64_t{257}}) {
          ++index;
          check_u8s8({m, n, k, edge_zp(index, kr), 1 + index % 2, index % 2 == 1, index % 4 == 0}, kr);
        }
  }
}

TEST_CASE("gemm_u8s8 over K and N blocks, transposed weights, strided output and threads") {
  const auto& kr = kernels::u8s8_default_ukernel;
  for (const U8S8Case& t :
       {U8S8Case{7, 300, 1100, 255, 2, true, true, true, 5}, U8S8Case{200, 530, 600, 128, 2, false, true, false, 3},
        U8S8Case{130, 70, 2050, 0, 1, true, false, true, 1}, U8S8Case{1, 1000, 4608, 37, 2, true, true, true},
        U8S8Case{1000, 1, 9, 200, 2, true, false, false, 2}, U8S8Case{9, 16, 0, 128, 1, false, true},
        U8S8Case{9, 16, 0, 128, 2, true, true}})
    for (const auto& k : {kr, kernels::u8s8_kernels.back()}) {
      U8S8Case c = t;
      c.zp = std::min(c.zp, k.a_range.hi);
      check_u8s8(c, k);
    }
}

TEST_CASE("the in-register output stage in its three forms, over tiles, K blocks and threads") {
  // Reals below 1/4 take the `high` form (with lo = zero point: `high_nonneg`, and Relu6's upper bound); one real
  // >= 1/4 in a column block sends it to `general` (the other cases above). Every kernel that requantises in
  // registers, the default and the scalar one.
  for (const auto& kr : kernels::u8s8_kernels) {
    if (!kr.requant && kr.name != kernels::u8s8_default_ukernel.name && kr.name != kernels::u8s8_kernels.back().name)
      continue;
    int index = 0;
    for (std::int64_t m : {1, 7, 13, 100})
      for (std::int64_t n : {1, 16, 17, 24, 40, 64, 96, 100, 300})
        for (std::int64_t k : {4, 16, 33, 600}) {
          ++index;
          for (int act = 0; act < 3; ++act) {
            U8S8Case c{m, n, k, edge_zp(index, kr), 1 + index % 2, true, index % 3 != 0, index % 2 == 0, index % 4};
            c.small_reals = true, c.relu = act > 0, c.relu6 = act == 2;
            check_u8s8(c, kr);
          }
        }
  }
}

TEST_CASE("u8s8_kernel_for: small K takes a kernel requantising in registers, fitted to N; large K the default") {
  const auto& def = kernels::u8s8_default_ukernel;
  CHECK(u8s8_kernel_for(u8s8_fused_max_k + 1, 16).name == def.name);
  for (std::int64_t n : {1, 16, 24, 32, 96, 144, 160, 1280})
    for (std::int64_t k : {std::int64_t{1}, std::int64_t{16}, std::int64_t{32}, u8s8_fused_max_k}) {
      const auto& kr = u8s8_kernel_for(k, n);
      INFO("k " << k << " n " << n << ": " << kr.name);
      // Whatever it picks reads activations as the default kernel does (the primitives' range checks use it).
      CHECK(kr.a_range == def.a_range);
      CHECK(kr.a_xor == def.a_xor);
      const bool any_fused = std::any_of(kernels::u8s8_kernels.begin(), kernels::u8s8_kernels.end(),
                                         [&](const auto& x) { return x.requant && x.a_range == def.a_range; });
#if !defined(PRIMSEL_FORCE_SCALAR)
      CHECK((kr.requant != nullptr) == any_fused);
      // No fused kernel pads N further than another would.
      for (const auto& x : kernels::u8s8_kernels)
        if (x.requant && x.a_range == def.a_range) CHECK(gemm::detail::up(n, kr.nr) <= gemm::detail::up(n, x.nr));
#else
      CHECK(kr.name == def.name);
      (void)any_fused;
#endif
    }
}

#if defined(__AVX512F__) && defined(__AVX512BW__)
TEST_CASE("the high-dword requantisation equals quant::requantize at its edges") {
  // Shifts 33 (its smallest) to 62, accumulators at INT_MIN, INT_MAX, 0, +-1 and values whose product lands
  // exactly on a rounding tie (multiplier a power of two), where a dropped low word would show.
  Rng rng(5);
  alignas(64) std::int32_t v[16], mult[17], shift[16], high_shift[16], round[16], got[16];
  for (int trial = 0; trial < 2000; ++trial) {
    for (int i = 0; i < 16; ++i) {
      const int pick = static_cast<int>(rng.below(8));
      v[i] = pick == 0   ? std::numeric_limits<std::int32_t>::min()
             : pick == 1 ? std::numeric_limits<std::int32_t>::max()
             : pick == 2 ? static_cast<std::int32_t>(rng.below(3)) - 1
                         : static_cast<std::int32_t>(rng.next_u32() >> rng.below(31)) * (rng.below(2) ? 1 : -1);
      shift[i] = 33 + static_cast<std::int32_t>(rng.below(30));
      mult[i] = rng.below(4) == 0 ? std::int32_t{1} << 30 : static_cast<std::int32_t>((1u << 30) + rng.below(1u << 30));
      if (trial % 50 == 0 && i == 3) mult[i] = 0;
      if (pick == 3) v[i] = std::int32_t{1} << std::min(30, shift[i] - 31);  // * 2^30 is a tie after >> shift
      if (pick == 4) v[i] = -(std::int32_t{1} << std::min(28, shift[i] - 31)) * 3;
      REQUIRE(kernels::u8s8_high_form(mult[i], shift[i], high_shift[i], round[i]));
    }
    mult[16] = 0;
    for (bool nonneg : {false, true}) {
      const __m512i x = _mm512_loadu_si512(v);
      const __m512i r = nonneg ? kernels::u8s8_requantize16_high<true>(x, mult, high_shift, round)
                               : kernels::u8s8_requantize16_high<false>(x, mult, high_shift, round);
      _mm512_storeu_si512(got, r);
      for (int i = 0; i < 16; ++i) {
        if (nonneg && v[i] < 0) continue;  // clamped away by the caller
        const std::int64_t want = quant::multiply_by_quantized_multiplier(v[i], {mult[i], shift[i]});
        INFO("v " << v[i] << " multiplier " << mult[i] << " shift " << shift[i]);
        CHECK(got[i] == want);
      }
    }
  }
}
#endif

TEST_CASE("a packed B is reused across calls and reports its column sums") {
  const std::int64_t m = 10, n = 20, k = 13;
  std::vector<std::int8_t> b(static_cast<std::size_t>(k * n));
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<std::int8_t>(static_cast<int>(i % 255) - 127);
  auto packed = PackedU8S8B::pack({b.data(), n}, k, n).value();
  for (std::int64_t j = 0; j < n; ++j) {
    std::int32_t s = 0;
    for (std::int64_t p = 0; p < k; ++p) s += b[static_cast<std::size_t>(p * n + j)];
    CHECK(packed.colsum()[static_cast<std::size_t>(j)] == s);
  }
  std::vector<std::uint8_t> a(static_cast<std::size_t>(m * k), 9);
  std::vector<std::int32_t> c1(static_cast<std::size_t>(m * n)), c2(c1.size());
  Workspace ws(u8s8_workspace_bytes(m, k, packed.kernel(), 1));
  gemm_u8s8({a.data(), k}, m, 9, packed, {.s32 = c1.data(), .ldc = n}, nullptr, ws.span);
  CHECK(std::all_of(c1.begin(), c1.end(), [](std::int32_t v) { return v == 0; }));  // a == zero point: real 0
  std::fill(a.begin(), a.end(), std::uint8_t{10});
  gemm_u8s8({a.data(), k}, m, 9, packed, {.s32 = c2.data(), .ldc = n}, nullptr, ws.span);
  for (std::int64_t j = 0; j < n; ++j)
    CHECK(c2[static_cast<std::size_t>(j)] == packed.colsum()[static_cast<std::size_t>(j)]);
  // A packed by the caller gives the same result.
  std::vector<std::uint8_t> a_packed(u8s8_packed_a_bytes(m, k, packed.kernel()));
  pack_a_u8({a.data(), k}, m, k, packed.kernel(), a_packed.data());
  std::vector<std::int32_t> c3(c1.size());
  gemm_u8s8_packed(a_packed.data(), m, packed, 9, {.s32 = c3.data(), .ldc = n}, nullptr, ws.span);
  CHECK(c3 == c2);
}

TEST_CASE("packing rejects -128 weights and K beyond the overflow-free bound") {
  const std::int8_t bad[] = {1, -128, 3, 4};
  auto p = PackedU8S8B::pack({bad, 2}, 2, 2);
  REQUIRE_FALSE(p.ok());
  CHECK(p.error().message().find("-128") != std::string::npos);
  const std::int8_t one[] = {1};
  CHECK_FALSE(PackedU8S8B::pack({one, 1}, u8s8_max_k + 1, 1).ok());
}

TEST_CASE("the vectorised output stage equals quant::requantize, multipliers >= 1 and tails included") {
  Rng rng(11);
  for (std::int64_t n = 1; n <= 70; n += (n < 20 ? 1 : 13)) {
    std::vector<std::int32_t> acc(static_cast<std::size_t>(n)), colsum(acc.size()), bias(acc.size()), mult(acc.size()),
        shift(acc.size());
    for (std::size_t j = 0; j < acc.size(); ++j) {
      acc[j] = static_cast<std::int32_t>(rng.next_u32() >> (1 + rng.below(24))) * (rng.below(2) ? 1 : -1);
      if (j == 0) acc[j] = std::numeric_limits<std::int32_t>::min();  // |INT_MIN| must not overflow
      colsum[j] = static_cast<std::int32_t>(rng.below(2001)) - 1000;
      bias[j] = static_cast<std::int32_t>(rng.below(20001)) - 10000;
      const double real = std::ldexp(rng.uniform(0.5, 1.0), static_cast<int>(rng.below(40)) - 34);
      const auto fm = quant::quantize_multiplier(real).value();
      mult[j] = fm.multiplier, shift[j] = fm.shift;
    }
    for (std::int32_t zpa : {0, 128, 255}) {
      const kernels::U8S8Epilogue e{colsum.data(),
                                    zpa,
                                    zpa == 128 ? nullptr : bias.data(),
                                    mult.data(),
                                    shift.data(),
                                    static_cast<std::int32_t>(rng.below(256)),
                                    0,
                                    255};
      std::vector<std::uint8_t> got(acc.size()), want(acc.size());
      kernels::u8s8_output_u8(acc.data(), 0, n, e, got.data());
      kernels::u8s8_requantize_scalar(acc.data(), 0, n, e, want.data());
      INFO("n " << n << " zpa " << zpa);
      CHECK(got == want);
    }
  }
}

#if defined(__AVX2__)
TEST_CASE("vpmaddubsw saturates int16 pair sums beyond 7-bit activations; the AVX2 kernel declares [0, 127]") {
  const auto* avx2 = std::find_if(kernels::u8s8_kernels.begin(), kernels::u8s8_kernels.end(),
                                  [](const auto& k) { return k.name.find("avx2") != std::string_view::npos; });
  REQUIRE(avx2 != kernels::u8s8_kernels.end());
  CHECK(avx2->a_range == quant::u8_7bit_range);
  const int mr = avx2->mr, nr = avx2->nr;
  // One group of 4: packed A is [1][mr][4], B [1][nr][4].
  auto run = [&](std::uint8_t x, std::int8_t w) {
    std::vector<std::uint8_t> a(static_cast<std::size_t>(mr * 4), x);
    std::vector<std::int8_t> b(static_cast<std::size_t>(nr * 4), w);
    std::vector<std::int32_t> c(static_cast<std::size_t>(mr * nr));
    avx2->fn(1, a.data(), 4, mr * 4, b.data(), c.data(), nr, false);
    return c[0];
  };
  // The worst cases inside the declared range are exact: 127 * +-127 * 2 = +-32258 fits int16.
  CHECK(run(127, 127) == 4 * 127 * 127);
  CHECK(run(127, -127) == -4 * 127 * 127);
  // Full-byte activations saturate: each pair sum 2 * 255 * 127 = 64770 clips to 32767.
  CHECK(run(255, 127) == 2 * 32767);
  CHECK(run(255, -127) == 2 * -32768);
  CHECK(run(255, 127) != 4 * 255 * 127);
}
#endif
