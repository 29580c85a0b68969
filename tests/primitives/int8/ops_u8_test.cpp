// primitives/int8/ops_u8.hpp: every u8 op against a scalar oracle written here from quant::quantize / dequantize —
// bit-exact where the op is defined exactly (MaxPool, Concat, Clamp; AddU8's integer formula; the pools' one-multiply
// formula), and within the stated bound of the real-valued formula otherwise (AddU8, the average pools: 1 LSB) —
// over odd channel counts and sizes, strides, pads, kernels, batch 1 and 2, equal and different parameters, fused
// activations and 1 or 2 threads. Outputs sit in buffers poisoned twice (0xAB, then 0x54) with guard bytes either
// side, so unwritten elements and stray writes show. Then each op against its f32 counterpart in ops/ on the
// dequantised tensors, after quantisation: within 1 LSB.
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "primsel/core/random.hpp"
#include "primsel/core/thread_pool.hpp"
#include "primsel/primitives/int8/ops_u8.hpp"
#include "primsel/primitives/ops/concat.hpp"
#include "primsel/primitives/ops/eltwise.hpp"
#include "primsel/primitives/ops/pooling.hpp"
#include "primsel/quant/convert.hpp"

using namespace primsel;

namespace {

constexpr std::uint8_t poisons[] = {0xAB, 0x54};
constexpr std::int64_t guard = 64;  // bytes either side of an output that must stay poisoned
constexpr Format u8_format{Layout::nhwc, DType::u8};

// AddU8's fixed point is within 255 * 2^-13 < 0.032 LSB of the exact sum (shift >= 13), so after rounding it is
// at most 1 LSB from the f32 formula; the average pools' single float multiply is within 2^-15 LSB of the exact
// mean: also at most 1 LSB. The f32 ops of ops/ round differently again (float sums), still within 1 LSB.
constexpr int lsb_bound = 1;

/// A u8 NHWC tensor inside a buffer with `guard` bytes either side, everything set to `fill`.
struct Buffer {
  std::vector<std::uint8_t> bytes;
  Shape shape;
  QuantParams q;
  Buffer(Shape s, QuantParams qp, std::uint8_t fill = poisons[0])
      : bytes(static_cast<std::size_t>(s.numel() + 2 * guard), fill), shape(s), q(qp) {}
  std::uint8_t* data() { return bytes.data() + guard; }
  const std::uint8_t* data() const { return bytes.data() + guard; }
  TensorView view() { return {reinterpret_cast<std::byte*>(data()), shape, u8_format, q}; }
  ConstTensorView view() const { return {reinterpret_cast<const std::byte*>(data()), shape, u8_format, q}; }
  std::int64_t size() const { return shape.numel(); }
  std::uint8_t at(std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w) const {
    return data()[((n * shape.h() + h) * shape.w() + w) * shape.c() + c];
  }
  bool guards_intact(std::uint8_t fill) const {
    for (std::int64_t i = 0; i < guard; ++i)
      if (bytes[static_cast<std::size_t>(i)] != fill || bytes[bytes.size() - 1 - static_cast<std::size_t>(i)] != fill)
        return false;
    return true;
  }
};

/// Random bytes within q's levels with their ends (0, qmax) and the zero point over-represented.
Buffer random_input(Shape s, QuantParams q, Rng& rng) {
  Buffer b(s, q, 0);
  for (std::int64_t i = 0; i < b.size(); ++i) {
    const std::uint32_t r = rng.below(16);
    b.data()[i] = r == 0   ? 0
                  : r == 1 ? static_cast<std::uint8_t>(q.qmax)
                  : r == 2 ? static_cast<std::uint8_t>(q.zero_point)
                           : static_cast<std::uint8_t>(rng.below(static_cast<std::uint32_t>(q.qmax) + 1));
  }
  return b;
}

/// Levels [0, qmax]: 255 (the whole byte) or 127 (what the int8 GEMM needs on AVX2 without VNNI).
QuantParams random_params(Rng& rng, std::int32_t qmax = 255) {
  return {static_cast<float>(rng.uniform(0.004, 0.1)),
          static_cast<std::int32_t>(rng.below(static_cast<std::uint32_t>(qmax) + 1)), qmax};
}

std::string describe(const QuantParams& q) {
  return "{" + std::to_string(q.scale) + ", " + std::to_string(q.zero_point) + "}";
}

std::string describe(const Activation& a) { return "[" + std::to_string(a.lo) + ", " + std::to_string(a.hi) + "]"; }

std::uint8_t quantize_u8(float v, QuantParams q) {
  return static_cast<std::uint8_t>(quant::quantize(v, q, quant::levels(q)));
}

/// Runs `op(y_view)` into an output poisoned with each poison in turn: both must succeed, leave the guards alone and
/// agree (an element left unwritten would differ), and the first result is returned.
template <class Op>
Buffer run_poisoned(Shape ys, QuantParams yq, Op&& op) {
  Buffer first(ys, yq, poisons[0]), second(ys, yq, poisons[1]);
  const Status s1 = op(first.view()), s2 = op(second.view());
  INFO((s1 ? std::string("ok") : std::string(s1.error().what())));
  REQUIRE(s1.ok());
  REQUIRE(s2.ok());
  CHECK(first.guards_intact(poisons[0]));
  CHECK(second.guards_intact(poisons[1]));
  CHECK(std::memcmp(first.data(), second.data(), static_cast<std::size_t>(first.size())) == 0);
  return first;
}

/// Elements of `got` that differ from `expected`, and the largest difference.
struct Diff {
  std::int64_t mismatches = 0;
  int worst = 0;
};
Diff compare(const std::vector<std::uint8_t>& expected, const Buffer& got) {
  Diff d;
  REQUIRE(static_cast<std::int64_t>(expected.size()) == got.size());
  for (std::int64_t i = 0; i < got.size(); ++i) {
    const int e = std::abs(int(expected[static_cast<std::size_t>(i)]) - int(got.data()[i]));
    d.mismatches += e != 0;
    d.worst = std::max(d.worst, e);
  }
  return d;
}

// ---- oracles ---------------------------------------------------------------------------------------------------

/// AddU8's integer formula in int64, from the documented constants.
std::vector<std::uint8_t> add_fixed_oracle(const Buffer& a, const Buffer& b, QuantParams yq, Activation act) {
  const ops::AddU8::Params p = ops::AddU8::params(a.q, b.q, yq, act);
  std::vector<std::uint8_t> y(static_cast<std::size_t>(a.size()));
  for (std::int64_t i = 0; i < a.size(); ++i) {
    const std::int64_t acc = (std::int64_t{a.data()[i]} - a.q.zero_point) * p.a_multiplier +
                             (std::int64_t{b.data()[i]} - b.q.zero_point) * p.b_multiplier +
                             (std::int64_t{1} << (p.shift - 1));
    const std::int64_t q = (acc >> p.shift) + yq.zero_point;  // floor: round half up
    y[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(std::clamp<std::int64_t>(q, p.lo, p.hi));
  }
  return y;
}

/// The real-valued definition: quantize(act(dequantize(a) + dequantize(b))).
std::vector<std::uint8_t> add_float_oracle(const Buffer& a, const Buffer& b, QuantParams yq, Activation act) {
  std::vector<std::uint8_t> y(static_cast<std::size_t>(a.size()));
  for (std::int64_t i = 0; i < a.size(); ++i)
    y[static_cast<std::size_t>(i)] =
        quantize_u8(act.apply(quant::dequantize(a.data()[i], a.q) + quant::dequantize(b.data()[i], b.q)), yq);
  return y;
}

/// One pooling window along an axis, ONNX semantics: [begin, end) inside the input, and the divisor's factor.
struct Win {
  std::int64_t begin, end, count;
};
Win win(std::int64_t o, std::int64_t k, std::int64_t s, std::int64_t pad_begin, std::int64_t pad_end, std::int64_t in,
        bool include_pad) {
  const std::int64_t start = o * s - pad_begin, stop = start + k;
  const std::int64_t b = std::max<std::int64_t>(start, 0), e = std::min(stop, in);
  return {b, e, include_pad ? std::min(stop, in + pad_end) - start : e - b};
}

/// What the average pools compute, per the header: float(sum - taps * zx) * m, m = float(sx / (sy * count)),
/// rounded half to even.
std::uint8_t average_formula(std::int64_t sum, std::int64_t taps, std::int64_t count, QuantParams xq, QuantParams yq) {
  const auto m = static_cast<float>(static_cast<double>(xq.scale) / (static_cast<double>(yq.scale) * count));
  const float v = static_cast<float>(sum - taps * xq.zero_point) * m;
  const float r = std::nearbyint(std::clamp(v, -1024.0f, 1024.0f));
  return static_cast<std::uint8_t>(std::clamp(static_cast<int>(r) + yq.zero_point, 0, yq.qmax));
}

/// The exact mean of the window's reals (padding taps real 0), quantised in double.
std::uint8_t average_exact(std::int64_t sum, std::int64_t taps, std::int64_t count, QuantParams xq, QuantParams yq) {
  const double mean =
      static_cast<double>(xq.scale) * static_cast<double>(sum - taps * xq.zero_point) / static_cast<double>(count);
  const double q = std::nearbyint(mean / yq.scale) + yq.zero_point;
  return static_cast<std::uint8_t>(std::clamp(q, 0.0, static_cast<double>(yq.qmax)));
}

struct PoolOracle {
  std::vector<std::uint8_t> formula, exact;
};

/// MaxPool: quantize(max of the window's reals) (formula == exact). AveragePool: both average forms.
PoolOracle pool_oracle(const Buffer& x, const PoolParams& p, Shape ys, QuantParams yq, bool is_max) {
  PoolOracle o{std::vector<std::uint8_t>(static_cast<std::size_t>(ys.numel())), {}};
  o.exact = o.formula;
  const Shape& xs = x.shape;
  for (std::int64_t n = 0; n < ys.n(); ++n)
    for (std::int64_t oy = 0; oy < ys.h(); ++oy)
      for (std::int64_t ox = 0; ox < ys.w(); ++ox) {
        const Win wy = win(oy, p.kernel[0], p.stride[0], p.pads.top, p.pads.bottom, xs.h(), p.count_include_pad);
        const Win wx = win(ox, p.kernel[1], p.stride[1], p.pads.left, p.pads.right, xs.w(), p.count_include_pad);
        for (std::int64_t c = 0; c < ys.c(); ++c) {
          const std::size_t at = static_cast<std::size_t>(((n * ys.h() + oy) * ys.w() + ox) * ys.c() + c);
          if (is_max) {
            float best = -INFINITY;
            for (std::int64_t iy = wy.begin; iy < wy.end; ++iy)
              for (std::int64_t ix = wx.begin; ix < wx.end; ++ix)
                best = std::max(best, quant::dequantize(x.at(n, c, iy, ix), x.q));
            o.formula[at] = o.exact[at] = quantize_u8(best, yq);
          } else {
            std::int64_t sum = 0;
            for (std::int64_t iy = wy.begin; iy < wy.end; ++iy)
              for (std::int64_t ix = wx.begin; ix < wx.end; ++ix) sum += x.at(n, c, iy, ix);
            const std::int64_t taps = (wy.end - wy.begin) * (wx.end - wx.begin), count = wy.count * wx.count;
            o.formula[at] = average_formula(sum, taps, count, x.q, yq);
            o.exact[at] = average_exact(sum, taps, count, x.q, yq);
          }
        }
      }
  return o;
}

std::string describe(const PoolParams& p) {
  return "k" + std::to_string(p.kernel[0]) + "x" + std::to_string(p.kernel[1]) + " s" + std::to_string(p.stride[0]) +
         "x" + std::to_string(p.stride[1]) + " pads " + std::to_string(p.pads.top) + "," + std::to_string(p.pads.left) +
         "," + std::to_string(p.pads.bottom) + "," + std::to_string(p.pads.right) + (p.ceil_mode ? " ceil" : "") +
         (p.count_include_pad ? " include_pad" : "");
}

const std::int64_t channel_sweep[] = {1, 3, 17, 64, 65, 130};
// Plus 100: a 36-channel remainder after 64, the 4-vector tail of the AVX-512 window sums.
const std::int64_t pool_channel_sweep[] = {1, 3, 17, 64, 65, 100, 130};

}  // namespace

// ---------------------------------------------------------------------------------------------------------------

TEST_CASE("AddU8's constants follow the documented definition and its fixed point stays within 0.032 LSB",
          "[ops_u8][add]") {
  Rng rng(5);
  std::vector<std::array<QuantParams, 3>> sets = {
      {QuantParams{0.05f, 128}, QuantParams{0.05f, 128}, QuantParams{0.05f, 128}},  // all equal
      {QuantParams{0.02f, 0}, QuantParams{0.04f, 0}, QuantParams{0.08f, 0}},        // power-of-two ratios: ties
      {QuantParams{1.0f, 0}, QuantParams{0.5f, 255}, QuantParams{1.0f / 255, 10}},  // ratio 255: shift 13
      {QuantParams{1e-6f, 17}, QuantParams{2e-6f, 200}, QuantParams{10.0f, 90}},    // tiny ratios: shift capped at 31
      {QuantParams{0.1f, 3}, QuantParams{1e-5f, 250}, QuantParams{0.07f, 128}},     // one input all but vanishes
  };
  for (int i = 0; i < 40; ++i) sets.push_back({random_params(rng), random_params(rng), random_params(rng)});
  for (const auto& [a, b, y] : sets) {
    INFO("a " << describe(a) << " b " << describe(b) << " y " << describe(y));
    REQUIRE(ops::AddU8::supports(a, b, y).ok);
    const ops::AddU8::Params p = ops::AddU8::params(a, b, y, Activation::none());
    const double ra = double(a.scale) / y.scale, rb = double(b.scale) / y.scale;
    int e = 0;
    std::frexp(std::max(ra, rb), &e);
    CHECK(p.shift == std::min(31, 21 - e));
    CHECK(p.shift >= 13);
    CHECK(std::abs(p.a_multiplier - std::ldexp(ra, p.shift)) <= 0.5);
    CHECK(std::abs(p.b_multiplier - std::ldexp(rb, p.shift)) <= 0.5);
    if (p.shift < 31)
      CHECK((std::max(p.a_multiplier, p.b_multiplier) >= (1 << 20) &&
             std::max(p.a_multiplier, p.b_multiplier) <= (1 << 21)));
    // Every pair of bytes: no int32 overflow, and the value before rounding within 255 * 2^-shift of the exact one.
    double worst = 0;
    for (int qa = 0; qa < 256; ++qa)
      for (int qb = 0; qb < 256; ++qb) {
        const std::int64_t acc = std::int64_t{qa - a.zero_point} * p.a_multiplier +
                                 std::int64_t{qb - b.zero_point} * p.b_multiplier + (std::int64_t{1} << (p.shift - 1));
        REQUIRE(acc < (std::int64_t{1} << 31));
        REQUIRE(acc >= -(std::int64_t{1} << 31));
        const double fixed = std::ldexp(static_cast<double>(acc), -p.shift) - 0.5;
        worst = std::max(worst, std::abs(fixed - (ra * (qa - a.zero_point) + rb * (qb - b.zero_point))));
      }
    CHECK(worst <= 255.0 * std::ldexp(1.0, -p.shift));
    CHECK(worst < 0.032);
  }
  CHECK_FALSE(ops::AddU8::supports({1.0f, 0}, {0.01f, 0}, {1.0f / 256, 0}).ok);
  CHECK(ops::AddU8::supports({1.0f, 0}, {0.01f, 0}, {1.0f / 255, 0}).ok);
}

TEST_CASE("AddU8 equals its integer formula and is within 1 LSB of the f32 formula", "[ops_u8][add]") {
  ThreadPool two(2);
  Rng rng(17);
  const Activation acts[] = {Activation::none(), Activation::relu(), Activation::relu6(), Activation{-0.5f, 1.25f}};
  const std::pair<std::int64_t, std::int64_t> sizes[] = {{1, 1}, {7, 5}, {13, 11}, {40, 33}};
  int index = 0;
  std::int64_t total = 0, off_by_one = 0;
  for (std::int64_t c : channel_sweep)
    for (auto [h, w] : sizes)
      for (int params = 0; params < 3; ++params) {
        ++index;
        const Shape s{1 + index % 2, c, h, w};
        const QuantParams qa = random_params(rng);
        // 0: all three equal; 1: inputs equal, output differs; 2: all different.
        const QuantParams qb = params == 2 ? random_params(rng) : qa;
        const QuantParams qy = params == 0 ? qa : random_params(rng);
        const Activation act = acts[index % 4];
        ThreadPool* pool = index / 4 % 2 ? &two : nullptr;
        INFO(to_string(s) << " a " << describe(qa) << " b " << describe(qb) << " y " << describe(qy) << " act "
                          << describe(act) << " threads " << (pool ? 2 : 1));
        const Buffer a = random_input(s, qa, rng), b = random_input(s, qb, rng);
        const Buffer y =
            run_poisoned(s, qy, [&](TensorView yv) { return ops::add_u8(a.view(), b.view(), yv, act, pool); });
        CHECK(compare(add_fixed_oracle(a, b, qy, act), y).mismatches == 0);
        const Diff d = compare(add_float_oracle(a, b, qy, act), y);
        CHECK(d.worst <= lsb_bound);
        total += y.size(), off_by_one += d.mismatches;
      }
  // Off by one only near ties of the real sum (and at exact ties, which round up rather than to even).
  CHECK(off_by_one < total / 20);
}

TEST_CASE("AddU8 in place, on tensors large enough for two threads", "[ops_u8][add]") {
  ThreadPool two(2);
  Rng rng(23);
  const Shape s{2, 65, 41, 39};
  const QuantParams qa{0.03f, 120}, qb{0.05f, 7};
  const Buffer a = random_input(s, qa, rng), b = random_input(s, qb, rng);
  const std::vector<std::uint8_t> expected = add_fixed_oracle(a, b, qa, Activation::relu());
  Buffer inout = a;
  REQUIRE(ops::add_u8(inout.view(), b.view(), inout.view(), Activation::relu(), &two).ok());
  CHECK(compare(expected, inout).mismatches == 0);
  CHECK(inout.guards_intact(0));
}

TEST_CASE("MaxPoolU8 and AveragePoolU8 equal their oracles over a shape sweep", "[ops_u8][pool]") {
  ThreadPool two(2);
  Rng rng(29);
  const std::pair<std::int64_t, std::int64_t> sizes[] = {{1, 1}, {7, 7}, {9, 5}, {13, 11}};
  int index = 0, run = 0, declined = 0;
  std::int64_t total = 0, avg_off = 0;
  for (std::int64_t c : pool_channel_sweep)
    for (auto [h, w] : sizes)
      for (std::int64_t k : {2, 3})
        for (std::int64_t s : {1, 2})
          for (bool ceil : {false, true}) {
            const Pads2d pad_sets[] = {{0, 0, 0, 0}, {1, 1, 1, 1}, {0, k - 1, k - 1, 0}, {k, 0, 0, 0}};
            for (const Pads2d& pads : pad_sets) {
              ++index;
              PoolParams p{.kernel = {k, k}, .stride = {s, s}, .pads = pads, .ceil_mode = ceil};
              const Shape xs{1 + index % 2, c, h, w};
              auto ys = ops::pool_output_shape(xs, p);
              if (!ys) continue;
              const bool supported = ops::MaxPoolU8::supports(p).ok;
              CHECK(supported == (pads.top < k && pads.left < k && pads.bottom < k && pads.right < k));
              const QuantParams xq = random_params(rng);
              const QuantParams yq = index % 3 == 0 ? xq : random_params(rng);
              ThreadPool* pool = index / 3 % 2 ? &two : nullptr;
              const Buffer x = random_input(xs, xq, rng);
              if (!supported) {
                Buffer y(*ys, yq);
                CHECK(ops::max_pool_u8(x.view(), p, y.view()).error().code() == ErrorCode::unsupported);
                ++declined;
                continue;
              }
              for (int kind = 0; kind < 3; ++kind) {  // max, average, average with count_include_pad
                p.count_include_pad = kind == 2;
                INFO((kind == 0 ? "MaxPoolU8 " : "AveragePoolU8 ")
                     << to_string(xs) << " " << describe(p) << " x " << describe(xq) << " y " << describe(yq)
                     << " threads " << (pool ? 2 : 1));
                const Buffer y = run_poisoned(*ys, yq, [&](TensorView yv) {
                  return kind == 0 ? ops::max_pool_u8(x.view(), p, yv, pool)
                                   : ops::average_pool_u8(x.view(), p, yv, pool);
                });
                const PoolOracle o = pool_oracle(x, p, *ys, yq, kind == 0);
                CHECK(compare(o.formula, y).mismatches == 0);
                const Diff d = compare(o.exact, y);
                CHECK(d.worst <= (kind == 0 ? 0 : lsb_bound));
                if (kind) total += y.size(), avg_off += d.mismatches;
              }
              ++run;
            }
          }
  CHECK(run > 300);
  CHECK(declined > 0);
  CHECK(avg_off * 1000 < total);  // the float multiply differs from exact rounding only within 2^-15 of a tie
}

TEST_CASE("Pooling: rectangular windows, mixed strides, rows for two threads", "[ops_u8][pool]") {
  ThreadPool two(2);
  Rng rng(31);
  struct Case {
    Shape x;
    PoolParams p;
  };
  const Case cases[] = {
      {{1, 64, 112, 112}, PoolParams{.kernel = {3, 3}, .stride = {2, 2}, .pads = {1, 1, 1, 1}}},  // resnet stem
      {{2, 65, 23, 31}, PoolParams{.kernel = {2, 3}, .stride = {1, 2}, .pads = {1, 0, 0, 2}, .ceil_mode = true}},
      {{1, 130, 17, 19}, PoolParams{.kernel = {3, 2}, .stride = {2, 1}, .pads = {0, 1, 2, 1}}},
      {{2, 17, 29, 9}, PoolParams{.kernel = {5, 5}, .stride = {3, 3}, .pads = {2, 2, 2, 2}, .ceil_mode = true}},
      {{1, 3, 224, 224}, PoolParams{.kernel = {2, 2}, .stride = {2, 2}}},
  };
  for (const Case& k : cases)
    for (ThreadPool* pool : {static_cast<ThreadPool*>(nullptr), &two})
      for (bool same : {true, false})
        for (int kind = 0; kind < 3; ++kind) {
          PoolParams p = k.p;
          p.count_include_pad = kind == 2;
          const Shape ys = ops::pool_output_shape(k.x, p).value();
          const QuantParams xq{0.037f, 11}, yq = same ? xq : QuantParams{0.021f, 140};
          INFO(to_string(k.x) << " " << describe(p) << " kind " << kind << " same " << same << " threads "
                              << (pool ? 2 : 1));
          const Buffer x = random_input(k.x, xq, rng);
          const Buffer y = run_poisoned(ys, yq, [&](TensorView yv) {
            return kind == 0 ? ops::max_pool_u8(x.view(), p, yv, pool) : ops::average_pool_u8(x.view(), p, yv, pool);
          });
          const PoolOracle o = pool_oracle(x, p, ys, yq, kind == 0);
          CHECK(compare(o.formula, y).mismatches == 0);
          CHECK(compare(o.exact, y).worst <= (kind == 0 ? 0 : lsb_bound));
        }
}

TEST_CASE("GlobalAveragePoolU8 equals its formula, within 1 LSB of the exact mean", "[ops_u8][pool]") {
  ThreadPool two(2);
  Rng rng(37);
  const std::pair<std::int64_t, std::int64_t> sizes[] = {{1, 1}, {7, 7}, {9, 5}, {56, 56}};
  int index = 0;
  for (std::int64_t c : {1, 3, 17, 64, 65, 100, 130, 512})
    for (auto [h, w] : sizes)
      for (int n = 1; n <= 2; ++n) {
        ++index;
        const Shape xs{n, c, h, w}, ys{n, c, 1, 1};
        const QuantParams xq = random_params(rng), yq = index % 2 ? xq : random_params(rng);
        ThreadPool* pool = index / 2 % 2 ? &two : nullptr;
        INFO(to_string(xs) << " x " << describe(xq) << " y " << describe(yq) << " threads " << (pool ? 2 : 1));
        const Buffer x = random_input(xs, xq, rng);
        const Buffer y =
            run_poisoned(ys, yq, [&](TensorView yv) { return ops::global_average_pool_u8(x.view(), yv, pool); });
        std::vector<std::uint8_t> formula(static_cast<std::size_t>(n * c)), exact(formula.size());
        for (std::int64_t i = 0; i < n; ++i)
          for (std::int64_t ch = 0; ch < c; ++ch) {
            std::int64_t sum = 0;
            for (std::int64_t iy = 0; iy < h; ++iy)
              for (std::int64_t ix = 0; ix < w; ++ix) sum += x.at(i, ch, iy, ix);
            formula[static_cast<std::size_t>(i * c + ch)] = average_formula(sum, h * w, h * w, xq, yq);
            exact[static_cast<std::size_t>(i * c + ch)] = average_exact(sum, h * w, h * w, xq, yq);
          }
        CHECK(compare(formula, y).mismatches == 0);
        CHECK(compare(exact, y).worst <= lsb_bound);
      }
}

TEST_CASE("ConcatU8 copies or requantises each input exactly", "[ops_u8][concat]") {
  ThreadPool two(2);
  Rng rng(41);
  const std::vector<std::vector<std::int64_t>> splits = {{1}, {3, 17}, {64, 64}, {65, 1, 64}, {130, 3}, {17, 65, 130}};
  const std::pair<std::int64_t, std::int64_t> sizes[] = {{1, 1}, {7, 5}, {13, 11}, {56, 56}};
  int index = 0;
  for (const auto& split : splits)
    for (auto [h, w] : sizes) {
      ++index;
      const std::int64_t n = 1 + index % 2;
      std::int64_t total = 0;
      for (std::int64_t c : split) total += c;
      const QuantParams yq = random_params(rng);
      std::vector<Buffer> xs;
      for (std::size_t i = 0; i < split.size(); ++i)  // every other input shares y's parameters
        xs.push_back(random_input({n, split[i], h, w}, (i + index) % 2 ? yq : random_params(rng), rng));
      std::vector<ConstTensorView> views;
      for (const Buffer& x : xs) views.push_back(x.view());
      ThreadPool* pool = index % 3 ? &two : nullptr;
      INFO(split.size() << " inputs, " << total << " channels, " << h << "x" << w << " threads " << (pool ? 2 : 1));
      const Shape ys{n, total, h, w};
      const Buffer y = run_poisoned(ys, yq, [&](TensorView yv) { return ops::concat_u8(views, yv, pool); });
      std::vector<std::uint8_t> expected(static_cast<std::size_t>(ys.numel()));
      for (std::int64_t i = 0; i < n; ++i)
        for (std::int64_t iy = 0; iy < h; ++iy)
          for (std::int64_t ix = 0; ix < w; ++ix) {
            std::int64_t offset = 0;
            for (const Buffer& x : xs) {
              for (std::int64_t c = 0; c < x.shape.c(); ++c)
                expected[static_cast<std::size_t>(((i * h + iy) * w + ix) * total + offset + c)] =
                    quantize_u8(quant::dequantize(x.at(i, c, iy, ix), x.q), yq);
              offset += x.shape.c();
            }
          }
      CHECK(compare(expected, y).mismatches == 0);
    }
}

TEST_CASE("ClampU8 equals quantize(act(dequantize(x))) for every byte, in place too", "[ops_u8][clamp]") {
  ThreadPool two(2);
  Rng rng(43);
  const Activation acts[] = {Activation::none(), Activation::relu(), Activation::relu6(), Activation{-0.5f, 1.25f},
                             Activation{1.0f, 1.0f}};
  int index = 0;
  for (std::int64_t c : channel_sweep)
    for (const Activation& act : acts)
      for (bool same : {true, false}) {
        ++index;
        const Shape s{1 + index % 2, c, 9 + index % 5, 7 + index % 3};
        const QuantParams xq = random_params(rng), yq = same ? xq : random_params(rng);
        ThreadPool* pool = index % 2 ? &two : nullptr;
        INFO(to_string(s) << " x " << describe(xq) << " y " << describe(yq) << " act " << describe(act));
        const Buffer x = random_input(s, xq, rng);
        std::vector<std::uint8_t> expected(static_cast<std::size_t>(x.size()));
        for (std::int64_t i = 0; i < x.size(); ++i)
          expected[static_cast<std::size_t>(i)] = quantize_u8(act.apply(quant::dequantize(x.data()[i], xq)), yq);
        const Buffer y = run_poisoned(s, yq, [&](TensorView yv) { return ops::clamp_u8(x.view(), yv, act, pool); });
        CHECK(compare(expected, y).mismatches == 0);
        if (same) {
          Buffer inout = x;
          REQUIRE(ops::clamp_u8(inout.view(), inout.view(), act, pool).ok());
          CHECK(compare(expected, inout).mismatches == 0);
        }
      }
  // All 256 bytes, through each path of the byte map (copy, clamp, lookup), on a tensor big enough for 2 threads.
  const Shape big{2, 130, 31, 29};
  Buffer x(big, {0.02f, 100}, 0);
  for (std::int64_t i = 0; i < x.size(); ++i) x.data()[i] = static_cast<std::uint8_t>(i * 7 + i / 256);
  for (const QuantParams yq : {QuantParams{0.02f, 100}, QuantParams{0.013f, 3}})
    for (const Activation& act : acts) {
      const Buffer y = run_poisoned(big, yq, [&](TensorView yv) { return ops::clamp_u8(x.view(), yv, act, &two); });
      std::vector<std::uint8_t> expected(static_cast<std::size_t>(x.size()));
      for (std::int64_t i = 0; i < x.size(); ++i)
        expected[static_cast<std::size_t>(i)] = quantize_u8(act.apply(quant::dequantize(x.data()[i], x.q)), yq);
      CHECK(compare(expected, y).mismatches == 0);
    }
}

// ---------------------------------------------------------------------------------------------------------------

namespace {

/// x dequantised into an f32 NHWC tensor.
Tensor to_f32(const Buffer& x) {
  Tensor f(x.shape, {Layout::nhwc, DType::f32});
  REQUIRE(quant::dequantize(x.view(), f.view()).ok());
  return f;
}

/// An f32 NHWC result quantised with q.
Buffer to_u8(const Tensor& f, QuantParams q) {
  Buffer b(f.shape(), q);
  REQUIRE(quant::quantize(f.view(), b.view()).ok());
  return b;
}

std::vector<std::uint8_t> bytes_of(const Buffer& b) { return {b.data(), b.data() + b.size()}; }

}  // namespace

TEST_CASE("Each u8 op is within 1 LSB of its f32 op on the dequantised inputs, after quantisation", "[ops_u8][f32]") {
  ThreadPool two(2);
  Rng rng(47);
  for (std::int64_t c : channel_sweep)
    for (int n = 1; n <= 2; ++n) {
      const Shape s{n, c, 15, 13};
      const QuantParams qa = random_params(rng), qb = random_params(rng), qy = random_params(rng);
      INFO(to_string(s) << " a " << describe(qa) << " b " << describe(qb) << " y " << describe(qy));
      const Buffer a = random_input(s, qa, rng), b = random_input(s, qb, rng);
      const Tensor af = to_f32(a), bf = to_f32(b);
      ThreadPool* pool = n == 2 ? &two : nullptr;

      for (const Activation act : {Activation::none(), Activation::relu6()}) {
        Tensor yf(s, {Layout::nhwc, DType::f32});
        REQUIRE(ops::add(af.view(), bf.view(), yf.view(), act, pool).ok());
        Buffer y(s, qy);
        REQUIRE(ops::add_u8(a.view(), b.view(), y.view(), act, pool).ok());
        CHECK(compare(bytes_of(to_u8(yf, qy)), y).worst <= lsb_bound);

        Tensor cf(s, {Layout::nhwc, DType::f32});
        REQUIRE(ops::Clamp::check(af.view(), cf.view(), act).ok());
        ops::Clamp::run(af.view(), cf.view(), act, pool);
        Buffer cy(s, qy);
        REQUIRE(ops::clamp_u8(a.view(), cy.view(), act, pool).ok());
        CHECK(compare(bytes_of(to_u8(cf, qy)), cy).worst == 0);  // exact: the table is the f32 formula
      }

      for (int kind = 0; kind < 3; ++kind) {
        const PoolParams p{.kernel = {3, 3}, .stride = {2, 2}, .pads = {1, 1, 1, 1}, .count_include_pad = kind == 2};
        const Shape ys = ops::pool_output_shape(s, p).value();
        Tensor yf(ys, {Layout::nhwc, DType::f32});
        Buffer y(ys, qy);
        if (kind == 0) {
          REQUIRE(ops::max_pool(af.view(), p, yf.view(), pool).ok());
          REQUIRE(ops::max_pool_u8(a.view(), p, y.view(), pool).ok());
        } else {
          REQUIRE(ops::average_pool(af.view(), p, yf.view(), pool).ok());
          REQUIRE(ops::average_pool_u8(a.view(), p, y.view(), pool).ok());
        }
        CHECK(compare(bytes_of(to_u8(yf, qy)), y).worst <= (kind == 0 ? 0 : lsb_bound));
      }

      Tensor gf({n, c, 1, 1}, {Layout::nhwc, DType::f32});
      REQUIRE(ops::global_average_pool(af.view(), gf.view(), pool).ok());
      Buffer g({n, c, 1, 1}, qy);
      REQUIRE(ops::global_average_pool_u8(a.view(), g.view(), pool).ok());
      CHECK(compare(bytes_of(to_u8(gf, qy)), g).worst <= lsb_bound);

      const Shape cs{n, 2 * c, 15, 13};
      const ConstTensorView fparts[] = {af.view(), bf.view()};
      Tensor catf(cs, {Layout::nhwc, DType::f32});
      REQUIRE(ops::concat(fparts, catf.view(), pool).ok());
      const ConstTensorView parts[] = {a.view(), b.view()};
      Buffer cat(cs, qy);
      REQUIRE(ops::concat_u8(parts, cat.view(), pool).ok());
      CHECK(compare(bytes_of(to_u8(catf, qy)), cat).worst == 0);  // exact: a requantisation table per input
    }
}

TEST_CASE("The u8 ops check dtypes, layouts, shapes, parameters and overlap", "[ops_u8][check]") {
  const Shape s{1, 3, 5, 5};
  const QuantParams q{0.1f, 10};
  Buffer a(s, q), b(s, q), y(s, q), other({1, 3, 5, 6}, q);
  Tensor f32(s, {Layout::nhwc, DType::f32}), nchw(s, {Layout::nchw, DType::u8}, q);
  CHECK(ops::AddU8::check(a.view(), b.view(), y.view()).ok());
  CHECK(ops::AddU8::check(f32.view(), b.view(), y.view()).error().code() == ErrorCode::unsupported);
  CHECK(ops::AddU8::check(nchw.view(), b.view(), y.view()).error().code() == ErrorCode::unsupported);
  CHECK(ops::AddU8::check(a.view(), other.view(), y.view()).error().code() == ErrorCode::shape_mismatch);
  const ErrorCode ratio = ops::AddU8::check(a.view(), b.view(), Buffer(s, {0.1f / 300, 0}).view()).error().code();
  CHECK(ratio == ErrorCode::unsupported);
  const Status bad_scale = ops::AddU8::check(a.view(), b.view(), Buffer(s, {0.0f, 0}).view());
  CHECK(bad_scale.error().code() == ErrorCode::invalid_argument);
  CHECK_THAT(std::string(bad_scale.error().what()), Catch::Contains("AddU8"));
  CHECK(ops::AddU8::check(a.view(), b.view(), Buffer(s, {0.1f, 256}).view()).error().code() ==
        ErrorCode::invalid_argument);
  CHECK(ops::AddU8::check(a.view(), b.view(), y.view(), Activation{2.0f, 1.0f}).error().code() ==
        ErrorCode::invalid_argument);
  // A shifted alias of an input is refused; the same buffer is fine.
  TensorView shifted{reinterpret_cast<std::byte*>(a.data() + 1), s, u8_format, q};
  CHECK(ops::AddU8::check(a.view(), b.view(), shifted).error().code() == ErrorCode::invalid_argument);
  CHECK(ops::AddU8::check(a.view(), b.view(), a.view()).ok());

  const PoolParams p{.kernel = {3, 3}, .stride = {2, 2}, .pads = {1, 1, 1, 1}};
  Buffer pooled({1, 3, 3, 3}, q), wrong({1, 3, 2, 2}, q);
  CHECK(ops::MaxPoolU8::check(a.view(), p, pooled.view()).ok());
  CHECK(ops::AveragePoolU8::check(a.view(), p, wrong.view()).error().code() == ErrorCode::shape_mismatch);
  TensorView inside_a{reinterpret_cast<std::byte*>(a.data()), {1, 3, 3, 3}, u8_format, q};
  CHECK(ops::MaxPoolU8::check(a.view(), p, inside_a).error().code() == ErrorCode::invalid_argument);
  const PoolParams wide_pad{.kernel = {2, 2}, .stride = {1, 1}, .pads = {2, 0, 0, 0}};
  CHECK_FALSE(ops::MaxPoolU8::supports(wide_pad).ok);
  Buffer wide_out({1, 3, 6, 4}, q);
  CHECK(ops::MaxPoolU8::check(a.view(), wide_pad, wide_out.view()).error().code() == ErrorCode::unsupported);
  CHECK(ops::AveragePoolU8::supports(p).ok);

  Buffer gap({1, 3, 1, 1}, q);
  CHECK(ops::GlobalAveragePoolU8::check(a.view(), gap.view()).ok());
  CHECK(ops::GlobalAveragePoolU8::check(a.view(), pooled.view()).error().code() == ErrorCode::shape_mismatch);

  Buffer cat({1, 6, 5, 5}, q);
  const ConstTensorView two_parts[] = {a.view(), b.view()};
  CHECK(ops::ConcatU8::check(two_parts, cat.view()).ok());
  CHECK(ops::ConcatU8::check(two_parts, y.view()).error().code() == ErrorCode::shape_mismatch);
  const ConstTensorView mixed[] = {a.view(), other.view()};
  CHECK(ops::ConcatU8::check(mixed, cat.view()).error().code() == ErrorCode::shape_mismatch);
  CHECK(ops::ConcatU8::check({}, cat.view()).error().code() == ErrorCode::invalid_argument);

  CHECK(ops::ClampU8::check(a.view(), y.view(), Activation::relu()).ok());
  CHECK(ops::ClampU8::check(a.view(), other.view(), Activation::relu()).error().code() == ErrorCode::shape_mismatch);
}

TEST_CASE("With 7-bit output levels every u8 op stays within [0, 127], equal to its oracle", "[ops_u8][levels]") {
  // What keeps a network's activations 7-bit on AVX2 without VNNI: each producer clamps to its output's qmax,
  // from 7-bit inputs and (requantising across levels) from whole-byte ones alike.
  Rng rng(71);
  ThreadPool two(2);
  std::int64_t outputs = 0;
  auto check_levels = [&](const Buffer& y) {
    std::int64_t above = 0;
    for (std::int64_t i = 0; i < y.size(); ++i) above += y.data()[i] > 127;
    CHECK(above == 0);
    outputs += y.size();
  };
  for (int round = 0; round < 12; ++round) {
    const std::int32_t in_qmax = round % 3 == 2 ? 255 : 127;
    const Shape s{1 + round % 2, 3 + 7 * round, 7 + round % 3, 5 + round % 4};
    const QuantParams qa = random_params(rng, in_qmax), qb = random_params(rng, in_qmax);
    // Equal parameters (a copy, a byte clamp) as well as different ones; a wide output scale and a narrow one.
    const QuantParams qy = round % 4 == 0 && in_qmax == 127 ? qa : random_params(rng, 127);
    const Activation act = round % 2 ? Activation::relu() : Activation::none();
    ThreadPool* pool = round % 2 ? &two : nullptr;
    INFO("round " << round << " " << to_string(s) << " a " << describe(qa) << " b " << describe(qb) << " y "
                  << describe(qy) << " input levels [0, " << in_qmax << "]");
    const Buffer a = random_input(s, qa, rng), b = random_input(s, qb, rng);

    const Buffer add = run_poisoned(s, qy, [&](TensorView yv) { return ops::add_u8(a.view(), b.view(), yv, act, pool); });
    CHECK(compare(add_fixed_oracle(a, b, qy, act), add).mismatches == 0);
    check_levels(add);

    PoolParams p{.kernel = {3, 3}, .stride = {1 + round % 2, 1 + round % 2}, .pads = {1, 1, 1, 1}};
    const Shape ps = ops::pool_output_shape(s, p).value();
    const Buffer mx = run_poisoned(ps, qy, [&](TensorView yv) { return ops::max_pool_u8(a.view(), p, yv, pool); });
    CHECK(compare(pool_oracle(a, p, ps, qy, true).formula, mx).mismatches == 0);
    check_levels(mx);
    const Buffer avg = run_poisoned(ps, qy, [&](TensorView yv) { return ops::average_pool_u8(a.view(), p, yv, pool); });
    CHECK(compare(pool_oracle(a, p, ps, qy, false).formula, avg).mismatches == 0);
    check_levels(avg);

    const Shape gs{s.n(), s.c(), 1, 1};
    const Buffer gap = run_poisoned(gs, qy, [&](TensorView yv) { return ops::global_average_pool_u8(a.view(), yv, pool); });
    std::vector<std::uint8_t> gap_expected;
    for (std::int64_t n = 0; n < s.n(); ++n)
      for (std::int64_t c = 0; c < s.c(); ++c) {
        std::int64_t sum = 0;
        for (std::int64_t h = 0; h < s.h(); ++h)
          for (std::int64_t w = 0; w < s.w(); ++w) sum += a.at(n, c, h, w);
        const std::int64_t hw = s.h() * s.w();
        gap_expected.push_back(average_formula(sum, hw, hw, qa, qy));
      }
    CHECK(compare(gap_expected, gap).mismatches == 0);
    check_levels(gap);

    const Shape cs{s.n(), 2 * s.c(), s.h(), s.w()};
    const ConstTensorView parts[] = {a.view(), b.view()};
    const Buffer cat = run_poisoned(cs, qy, [&](TensorView yv) { return ops::concat_u8(parts, yv, pool); });
    std::vector<std::uint8_t> cat_expected;
    for (std::int64_t n = 0; n < s.n(); ++n)
      for (std::int64_t h = 0; h < s.h(); ++h)
        for (std::int64_t w = 0; w < s.w(); ++w)
          for (std::int64_t c = 0; c < cs.c(); ++c) {
            const Buffer& src = c < s.c() ? a : b;
            cat_expected.push_back(quantize_u8(quant::dequantize(src.at(n, c % s.c(), h, w), src.q), qy));
          }
    CHECK(compare(cat_expected, cat).mismatches == 0);
    check_levels(cat);

    const Activation clip = round % 2 ? Activation::relu6() : Activation{-100.0f, 100.0f};  // the second clips nothing
    const Buffer clamped = run_poisoned(s, qy, [&](TensorView yv) { return ops::clamp_u8(a.view(), yv, clip, pool); });
    std::vector<std::uint8_t> clamp_expected;
    for (std::int64_t i = 0; i < a.size(); ++i)
      clamp_expected.push_back(quantize_u8(clip.apply(quant::dequantize(a.data()[i], qa)), qy));
    CHECK(compare(clamp_expected, clamped).mismatches == 0);
    check_levels(clamped);
  }
  CHECK(outputs > 10000);
}
