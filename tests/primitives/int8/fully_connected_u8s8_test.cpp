// primitives/int8/fully_connected_u8s8.hpp: the int8-weight fully connected layer with dynamically quantised rows.
// Against a reference written here from the scheme's parts (quant::quantize_weights_per_channel and
// quant::quantize_dynamic, which convert_test.cpp checks): the integer sums exactly (int64), the f32 result bit for
// bit (same fma formula) and within fp32_bound of the same arithmetic in f64; against the f32 FullyConnected within
// the quantisation error bound derived per output from the data. Shapes: batch 1-5 (the GEMV and the GEMM), IN and
// OUT odd and off every vector width, bias or not, fused activations, 1 and 2 threads, constant, zero, huge and
// non-finite rows, and the errors.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "../ops/op_test_util.hpp"
#include "primsel/core/thread_pool.hpp"
#include "primsel/primitives/int8/fully_connected_u8s8.hpp"

using namespace primsel;
using primsel::testing::filled;
using primsel::testing::message_of;

namespace {

using FC8 = ops::FullyConnectedU8S8;
constexpr float nan_f = std::numeric_limits<float>::quiet_NaN();
constexpr float inf_f = std::numeric_limits<float>::infinity();

// The f32 result y = fma(float(v), float(sx * sw), b) against the same formula in f64: float(v) and the scale
// product are each rounded once (2^-24 relative) and the fma once more, so |y - y64| <= 3 * 2^-24 * (|v sx sw| + |b|).
constexpr double fp32_bound = 3.0 / 16777216.0;

/// A 64-byte aligned scratch buffer of n bytes.
struct Scratch {
  std::vector<std::byte> storage;
  std::span<std::byte> bytes;
  explicit Scratch(std::size_t n) : storage(n + tensor_alignment) {
    auto p = reinterpret_cast<std::uintptr_t>(storage.data());
    bytes = {storage.data() + ((tensor_alignment - p % tensor_alignment) % tensor_alignment), n};
  }
};

Tensor run_fc(const FC8::Plan& plan, const Tensor& x, ThreadPool* pool) {
  const std::int64_t n = x.shape()[0];
  Scratch ws(FC8::workspace_bytes(plan, n, pool ? pool->size() : 1));
  Tensor y = primsel::testing::poisoned({n, plan.out_features}, Layout::nchw);
  const Status s = ops::fully_connected_u8s8(plan, x.view(), y.view(), Context{pool, ws.bytes});
  INFO(message_of(s));
  REQUIRE(s.ok());
  return y;
}

/// The scheme computed here: per-row dynamic u8 x per-channel s8, exact integer sums.
struct Reference {
  Tensor f32;     ///< act(fma(float(v), sx * sw, b)): what the op must produce bit for bit
  Tensor f64;     ///< act(v * sx * sw + b) in double
  Tensor bound;   ///< fp32_bound * (|v sx sw| + |b|) per output
  Tensor qerror;  ///< quantisation error bound against the f32 layer: sx / 2 * sum |w| + sw / 2 * sum |x^|

  static Reference of(const Tensor& x, const Tensor& w, const Tensor* bias, Activation act) {
    const std::int64_t n = x.shape()[0], out = w.shape()[0], in = w.shape()[1];
    const quant::QRange range = kernels::u8s8_default_ukernel.a_range;
    auto qw = quant::quantize_weights_per_channel(w.floats(), out).value();
    Reference r{Tensor({n, out}), Tensor({n, out}), Tensor({n, out}), Tensor({n, out})};
    std::vector<std::uint8_t> qx(static_cast<std::size_t>(in));
    for (std::int64_t j = 0; j < n; ++j) {
      const QuantParams p = quant::quantize_dynamic(
          x.floats().subspan(static_cast<std::size_t>(j * in), static_cast<std::size_t>(in)), range, qx);
      double sum_xhat = 0;
      for (std::uint8_t q : qx) sum_xhat += std::abs(double(quant::dequantize(q, p)));
      for (std::int64_t o = 0; o < out; ++o) {
        std::int64_t v = 0;
        double sum_w = 0;
        for (std::int64_t k = 0; k < in; ++k) {
          v += (std::int64_t{qx[static_cast<std::size_t>(k)]} - p.zero_point) *
               qw.values[static_cast<std::size_t>(o * in + k)];
          sum_w += std::abs(double(w.floats()[static_cast<std::size_t>(o * in + k)]));
        }
        REQUIRE(std::abs(v) < (std::int64_t{1} << 31));
        const float sw = qw.scales[static_cast<std::size_t>(o)];
        const float b = bias ? bias->floats()[static_cast<std::size_t>(o)] : 0.0f;
        const auto at = static_cast<std::size_t>(j * out + o);
        r.f32.floats()[at] = act.apply(std::fma(static_cast<float>(v), p.scale * sw, b));
        const double exact = double(v) * p.scale * sw + b;
        r.f64.floats()[at] = static_cast<float>(std::clamp<double>(exact, act.lo, act.hi));
        r.bound.floats()[at] = static_cast<float>(fp32_bound * (std::abs(double(v) * p.scale * sw) + std::abs(b)));
        r.qerror.floats()[at] = static_cast<float>(p.scale / 2 * sum_w + sw / 2.0 * sum_xhat);
      }
    }
    return r;
  }
};

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.bytes(), b.bytes(), a.size_bytes()) == 0;
}

/// Checks y against the reference: bit for bit, within fp32_bound of f64, within the quantisation bound of the f32
/// layer's `f32`.
void check_against(const Tensor& y, const Reference& r, const Tensor& f32) {
  CHECK(same_bits(y, r.f32));
  std::size_t off64 = 0, offq = 0;
  for (std::size_t i = 0; i < y.floats().size(); ++i) {
    const double got = y.floats()[i];
    off64 += std::abs(got - r.f64.floats()[i]) > r.bound.floats()[i] + 1e-37 ? 1 : 0;
    // The f32 layer's own rounding is far below the quantisation error; 1e-5 of the output covers it.
    offq += std::abs(got - f32.floats()[i]) > r.qerror.floats()[i] * 1.0001 + 1e-5 * std::abs(got) ? 1 : 0;
  }
  CHECK(off64 == 0);
  CHECK(offq == 0);
}

Tensor f32_fc(const Tensor& x, const Tensor& w, const Tensor* b, Activation act) {
  auto plan = ops::FullyConnected::plan(w.view(), b ? ConstTensorView(b->view()) : ConstTensorView{}, act).value();
  const std::int64_t n = x.shape()[0];
  Scratch ws(ops::FullyConnected::workspace_bytes(plan, n, 1));
  Tensor y({n, plan.out_features});
  REQUIRE(ops::fully_connected(plan, x.view(), y.view(), Context{nullptr, ws.bytes}).ok());
  return y;
}

}  // namespace

TEST_CASE("FullyConnectedU8S8 equals the quantised arithmetic exactly over batches, shapes, bias, activations, threads",
          "[int8][fc]") {
  ThreadPool two(2);
  Rng rng(41);
  const Activation acts[] = {Activation::none(), Activation::relu(), Activation::relu6(), {-0.5f, 2.0f}};
  int index = 0;
  for (std::int64_t in : {1, 3, 13, 37, 67, 130, 1283})
    for (std::int64_t out : {1, 7, 17, 63, 65, 129})
      for (std::int64_t n : {1, 2, 3, 4, 5}) {
        ++index;
        if (in * out > 20000 && n > 2 && index % 3 != 0) continue;  // keep the sweep quick
        ThreadPool* pool = index % 2 ? &two : nullptr;
        const bool has_bias = index % 3 != 0;
        const Activation act = acts[index % 4];
        INFO("in " << in << " out " << out << " batch " << n << " threads " << (pool ? 2 : 1) << " bias " << has_bias
                   << " clamp [" << act.lo << ", " << act.hi << "]");
        const Tensor w = filled({out, in}, rng, false), b = filled({out}, rng, false), x = filled({n, in}, rng, false);
        const Tensor* bp = has_bias ? &b : nullptr;
        auto plan = FC8::plan(w.view(), bp ? ConstTensorView(b.view()) : ConstTensorView{}, act);
        INFO(message_of(plan));
        REQUIRE(plan.ok());
        check_against(run_fc(*plan, x, pool), Reference::of(x, w, bp, act), f32_fc(x, w, bp, act));
      }
}

TEST_CASE("FullyConnectedU8S8: each row is quantised alone, so a batch gives each row's own result", "[int8][fc]") {
  ThreadPool two(2);
  Rng rng(12);
  const std::int64_t in = 301, out = 75;
  const Tensor w = filled({out, in}, rng, false), b = filled({out}, rng, false);
  auto plan = FC8::plan(w.view(), b.view()).value();
  Tensor x = filled({7, in}, rng, false);
  for (std::int64_t k = 0; k < in; ++k) x.floats()[static_cast<std::size_t>(3 * in + k)] *= 100;  // a loud row
  const Tensor batch = run_fc(plan, x, &two);
  for (std::int64_t n : {1, 2, 5, 7}) {
    const Tensor head = Tensor::from({n, in}, x.floats().first(static_cast<std::size_t>(n * in)));
    const Tensor y = run_fc(plan, head, n % 2 ? nullptr : &two);
    INFO("batch " << n);
    CHECK(std::memcmp(y.bytes(), batch.bytes(), y.size_bytes()) == 0);
  }
}

TEST_CASE("FullyConnectedU8S8 on constant, zero and huge rows", "[int8][fc]") {
  Rng rng(9);
  const std::int64_t in = 45, out = 19;
  const Tensor w = filled({out, in}, rng, false), b = filled({out}, rng, false);
  auto plan = FC8::plan(w.view(), b.view()).value();
  Tensor x({4, in});
  for (std::int64_t k = 0; k < in; ++k) {
    x.floats()[static_cast<std::size_t>(k)] = 2.5f;                                                   // min == max > 0
    x.floats()[static_cast<std::size_t>(in + k)] = -3.0f;                                             // min == max < 0
    x.floats()[static_cast<std::size_t>(2 * in + k)] = 0.0f;                                          // zeros
    x.floats()[static_cast<std::size_t>(3 * in + k)] = (k % 2 ? 1e30f : -7e29f) * float(k + 1) / in;  // huge
  }
  const Tensor y = run_fc(plan, x, nullptr);
  check_against(y, Reference::of(x, w, &b, {}), f32_fc(x, w, &b, {}));
  for (std::int64_t o = 0; o < out; ++o)
    CHECK(y.floats()[static_cast<std::size_t>(2 * out + o)] == b.floats()[static_cast<std::size_t>(o)]);
  for (float v : y.floats()) CHECK(std::isfinite(v));
}

TEST_CASE("FullyConnectedU8S8: NaN and -Inf act as the row's low end, +Inf as its high end; outputs stay finite",
          "[int8][fc]") {
  ThreadPool two(2);
  Rng rng(17);
  const std::int64_t in = 70, out = 33;
  const Tensor w = filled({out, in}, rng, false), b = filled({out}, rng, false);
  auto plan = FC8::plan(w.view(), b.view(), Activation::relu()).value();
  for (std::int64_t n : {1, 5}) {
    Tensor x = filled({n, in}, rng, false), same = x;
    for (std::int64_t j = 0; j < n; ++j) {
      float lo = 0, hi = 0;  // the row's range, widened to 0
      for (std::int64_t k = 0; k < in; ++k)
        lo = std::min(lo, x.floats()[static_cast<std::size_t>(j * in + k)]),
        hi = std::max(hi, x.floats()[static_cast<std::size_t>(j * in + k)]);
      const std::size_t at = static_cast<std::size_t>(j * in);
      x.floats()[at + 3] = nan_f, same.floats()[at + 3] = lo;
      x.floats()[at + 10] = -inf_f, same.floats()[at + 10] = lo;
      x.floats()[at + 11] = inf_f, same.floats()[at + 11] = hi;
    }
    INFO("batch " << n);
    const Tensor y = run_fc(plan, x, &two);
    CHECK(same_bits(y, run_fc(plan, same, nullptr)));
    for (float v : y.floats()) CHECK(std::isfinite(v));
  }
  // A row of NaN quantises to zeros: the output is act(bias).
  Tensor all_nan({1, in});
  for (float& v : all_nan.floats()) v = nan_f;
  const Tensor y = run_fc(plan, all_nan, nullptr);
  for (std::int64_t o = 0; o < out; ++o)
    CHECK(y.floats()[static_cast<std::size_t>(o)] == std::max(0.0f, b.floats()[static_cast<std::size_t>(o)]));
}

TEST_CASE("FullyConnectedU8S8 weights: symmetric s8 without -128, per output row; Gemm nodes and input layouts",
          "[int8][fc]") {
  Rng rng(5);
  const std::int64_t in = 23, out = 18, n = 3;
  Tensor w = filled({out, in}, rng, false);
  for (std::int64_t o = 0; o < out; ++o) w.floats()[static_cast<std::size_t>(o * in + o % in)] = -1e6f * float(o + 1);
  auto plan = FC8::plan(w.view()).value();
  const gemm::PackedU8S8B& pw = plan.weights;
  const std::int64_t stored = (out + pw.kernel().nr - 1) / pw.kernel().nr * pw.k4() * pw.kernel().nr * 4;
  int lowest = 0;
  for (std::int64_t i = 0; i < stored; ++i) lowest = std::min<int>(lowest, pw.data()[i]);
  CHECK(lowest == -127);  // each row's largest magnitude is negative: it maps to -127, never -128
  for (std::int64_t o = 0; o < out; ++o)
    CHECK(plan.weight_scales[static_cast<std::size_t>(o)] == Approx(1e6 * double(o + 1) / 127).epsilon(1e-6));

  // A Gemm with transB = 0, alpha and beta is the same layer as plan() of the scaled, transposed weights.
  Tensor w_in_out({in, out}), w_half({out, in});
  for (std::int64_t o = 0; o < out; ++o)
    for (std::int64_t k = 0; k < in; ++k) {
      w_in_out.floats()[static_cast<std::size_t>(k * out + o)] = w.floats()[static_cast<std::size_t>(o * in + k)];
      w_half.floats()[static_cast<std::size_t>(o * in + k)] = 0.5f * w.floats()[static_cast<std::size_t>(o * in + k)];
    }
  const Tensor c = filled({1, out}, rng, false);
  Tensor c2({out});
  for (std::int64_t o = 0; o < out; ++o)
    c2.floats()[static_cast<std::size_t>(o)] = 2 * c.floats()[static_cast<std::size_t>(o)];
  const GemmParams g{.alpha = 0.5f, .beta = 2.0f, .trans_b = false, .activation = Activation::relu6()};
  auto from_gemm = FC8::plan_gemm(g, w_in_out.view(), c.view());
  REQUIRE(from_gemm.ok());
  auto direct = FC8::plan(w_half.view(), c2.view(), Activation::relu6()).value();
  const Tensor x = filled({n, in}, rng, false);
  CHECK(same_bits(run_fc(*from_gemm, x, nullptr), run_fc(direct, x, nullptr)));

  // [N, C, 1, 1] in every layout reads as the [N, C] matrix.
  const Tensor y2d = run_fc(direct, x, nullptr);
  const Tensor x4d = Tensor::from({n, in, 1, 1}, x.floats());
  for (Layout l : primsel::testing::op_layouts) {
    INFO(to_string(l));
    CHECK(same_bits(run_fc(direct, primsel::testing::to_poisoned_layout(x4d, l), nullptr), y2d));
  }
}

TEST_CASE("FullyConnectedU8S8 rejects bad arguments with errors naming the op and shapes", "[int8][fc][errors]") {
  Rng rng(1);
  const Tensor w = filled({6, 10}, rng, false), x = filled({2, 10}, rng, false);
  auto plan = FC8::plan(w.view());
  REQUIRE(plan.ok());
  Scratch ws(FC8::workspace_bytes(*plan, 2, 1));
  const Context ctx{nullptr, ws.bytes};
  Tensor y({2, 6});
  REQUIRE(ops::fully_connected_u8s8(*plan, x.view(), y.view(), ctx).ok());

  const Tensor x_wrong = filled({2, 11}, rng);
  auto s = ops::fully_connected_u8s8(*plan, x_wrong.view(), y.view(), ctx);
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().code() == ErrorCode::shape_mismatch);
  CHECK_THAT(message_of(s),
             Catch::Contains("FullyConnectedU8S8") && Catch::Contains("2x11") && Catch::Contains("10 inputs"));
  Tensor y_wrong({2, 7});
  s = ops::fully_connected_u8s8(*plan, x.view(), y_wrong.view(), ctx);
  REQUIRE_FALSE(s.ok());
  CHECK_THAT(message_of(s), Catch::Contains("2x7") && Catch::Contains("2x6"));
  s = ops::fully_connected_u8s8(*plan, x.view(), y.view(), Context{nullptr, ws.bytes.first(8)});
  REQUIRE_FALSE(s.ok());
  CHECK_THAT(message_of(s), Catch::Contains("workspace"));
  Scratch big(ws.bytes.size() + 64);
  s = ops::fully_connected_u8s8(*plan, x.view(), y.view(), Context{nullptr, big.bytes.subspan(4)});
  REQUIRE_FALSE(s.ok());
  CHECK_THAT(message_of(s), Catch::Contains("aligned"));

  const Tensor w3 = filled({2, 3, 4}, rng);
  auto bad = FC8::plan(w3.view());
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(message_of(bad), Catch::Contains("FullyConnectedU8S8") && Catch::Contains("2x3x4"));
  const Tensor b_wrong = filled({5}, rng);
  bad = FC8::plan(w.view(), b_wrong.view());
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(message_of(bad), Catch::Contains("bias must have 6"));
  Tensor w_nan = w;
  w_nan.floats()[13] = nan_f;
  bad = FC8::plan(w_nan.view());
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(message_of(bad), Catch::Contains("FullyConnectedU8S8") && Catch::Contains("non-finite weight"));
  const Tensor too_wide({1, gemm::u8s8_max_k + 1});
  bad = FC8::plan(too_wide.view());
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(message_of(bad), Catch::Contains("32769 input features exceed"));
  bad = FC8::plan_gemm(GemmParams{.trans_a = true}, w.view());
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(message_of(bad), Catch::Contains("trans_a"));
}

TEST_CASE("FullyConnectedU8S8 with input means corrects its bias for the weights' rounding", "[int8][fc]") {
  // Rows near a common mean (as a classifier's pooled features are): the correction moves the bias by
  // -sum_k (w_q - w) * mean_k exactly, and the outputs' error falls to what the rows' spread leaves.
  Rng rng(11);
  const std::int64_t in = 301, out = 37, batch = 4;
  Tensor w({out, in}), b({out}), x({batch, in});
  for (float& v : w.floats()) v = static_cast<float>(rng.uniform(-1.0, 1.0));
  for (float& v : b.floats()) v = static_cast<float>(rng.uniform(-1.0, 1.0));
  std::vector<float> means(static_cast<std::size_t>(in));
  for (float& m : means) m = static_cast<float>(rng.uniform(0.5, 2.0));
  for (std::int64_t r = 0; r < batch; ++r)
    for (std::int64_t k = 0; k < in; ++k)
      x.data<float>()[r * in + k] = means[static_cast<std::size_t>(k)] + static_cast<float>(rng.uniform(-0.05, 0.05));
  for (const bool with_bias : {true, false}) {
    INFO("bias: " << with_bias);
    const ConstTensorView bias = with_bias ? ConstTensorView(b.view()) : ConstTensorView{};
    auto plain = FC8::plan(w.view(), bias);
    auto corrected = FC8::plan(w.view(), bias, {}, false, means);
    REQUIRE(plain.ok());
    REQUIRE(corrected.ok());
    auto q = quant::quantize_weights_per_channel(w.floats(), out);
    REQUIRE(q.ok());
    REQUIRE(corrected->bias.size() == static_cast<std::size_t>(out));
    for (std::int64_t o = 0; o < out; ++o) {
      double shift = 0;
      for (std::int64_t k = 0; k < in; ++k)
        shift += (q->values[static_cast<std::size_t>(o * in + k)] * static_cast<double>(q->scales[static_cast<std::size_t>(o)]) -
                  w.data<float>()[o * in + k]) * means[static_cast<std::size_t>(k)];
      const double expected = (with_bias ? b.data<float>()[o] : 0.0) - shift;
      CHECK(corrected->bias[static_cast<std::size_t>(o)] == Approx(expected).margin(1e-6));
    }
    const Tensor y_plain = run_fc(*plain, x, nullptr), y_corrected = run_fc(*corrected, x, nullptr);
    double err_plain = 0, err_corrected = 0;
    for (std::int64_t r = 0; r < batch; ++r)
      for (std::int64_t o = 0; o < out; ++o) {
        double exact = with_bias ? b.data<float>()[o] : 0.0;
        for (std::int64_t k = 0; k < in; ++k) exact += static_cast<double>(w.data<float>()[o * in + k]) * x.data<float>()[r * in + k];
        err_plain += std::pow(y_plain.data<float>()[r * out + o] - exact, 2);
        err_corrected += std::pow(y_corrected.data<float>()[r * out + o] - exact, 2);
      }
    INFO("squared error: " << err_plain << " uncorrected, " << err_corrected << " corrected");
    CHECK(err_corrected < 0.5 * err_plain);
  }
  auto wrong = FC8::plan(w.view(), b.view(), {}, false, std::vector<float>(3, 1.0f));
  REQUIRE_FALSE(wrong.ok());
  CHECK_THAT(wrong.error().what(), Catch::Contains("3 input means for 301 input features"));
}
