#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "op_test_util.hpp"
#include "primsel/core/thread_pool.hpp"
#include "primsel/primitives/ops/fully_connected.hpp"
#include "primsel/primitives/reference/gemm.hpp"

using namespace primsel;
using primsel::testing::check_matches;
using primsel::testing::filled;
using primsel::testing::message_of;
using primsel::testing::poisoned;
using primsel::testing::to_poisoned_layout;

namespace {

// Real-valued fills: the GEMV and the GEMM sum in other orders than the reference (which may also contract to FMA);
// the error grows like sqrt(IN) ulp of the partial sums: ~2e-6 of the largest output at IN = 2048, so 2e-5 leaves
// a 10x margin.
constexpr double fc_real_tolerance = 2e-5;

/// A 64-byte aligned scratch buffer of n bytes.
struct Scratch {
  std::vector<std::byte> storage;
  std::span<std::byte> bytes;
  explicit Scratch(std::size_t n) : storage(n + tensor_alignment) {
    auto p = reinterpret_cast<std::uintptr_t>(storage.data());
    bytes = {storage.data() + ((tensor_alignment - p % tensor_alignment) % tensor_alignment), n};
  }
};

Tensor reference_fc(const Tensor& x2d, const Tensor& w, const Tensor* bias, Activation act) {
  Tensor y({x2d.shape()[0], w.shape()[0]});
  reference::gemm(x2d.view(), w.view(), bias ? ConstTensorView(bias->view()) : ConstTensorView{},
                  GemmParams{.trans_b = true, .activation = act}, y.view());
  return y;
}

/// Runs the planned layer on x (any accepted shape/layout) and compares with `expected`.
void run_and_check(const ops::FullyConnected::Plan& plan, const Tensor& x, const Tensor& expected, ThreadPool* pool,
                   double tolerance = 0) {
  const std::int64_t n = x.shape()[0];
  Scratch ws(ops::FullyConnected::workspace_bytes(plan, n, pool ? pool->size() : 1));
  const Context ctx{pool, ws.bytes};
  Tensor y = poisoned({n, plan.out_features}, Layout::nchw);
  const Status s = ops::fully_connected(plan, x.view(), y.view(), ctx);
  INFO(message_of(s));
  REQUIRE(s.ok());
  check_matches(expected, y, tolerance);
}

}  // namespace

TEST_CASE("FullyConnected equals the reference Gemm exactly on small-integer fills", "[ops][fc]") {
  ThreadPool two(2);
  Rng rng(31);
  const Activation acts[] = {Activation::none(), Activation::relu(), Activation::relu6(), {-3.0f, 40.0f}};
  int index = 0;
  for (std::int64_t in : {1, 3, 17, 33, 300, 520})
    for (std::int64_t out : {1, 5, 8, 17, 33, 100})
      for (std::int64_t n : {1, 2, 3, 4, 5, 9}) {
        ++index;
        ThreadPool* pool = index % 2 ? &two : nullptr;
        const bool has_bias = index % 3 != 0;
        const Activation act = acts[index % 4];
        INFO("in " << in << " out " << out << " batch " << n << " threads " << (pool ? 2 : 1) << " bias " << has_bias
                   << " clamp [" << act.lo << ", " << act.hi << "]");
        const Tensor w = filled({out, in}, rng), b = filled({out}, rng, true, 20), x = filled({n, in}, rng);
        auto plan = ops::FullyConnected::plan(w.view(), has_bias ? ConstTensorView(b.view()) : ConstTensorView{}, act);
        INFO(message_of(plan));
        REQUIRE(plan.ok());
        run_and_check(*plan, x, reference_fc(x, w, has_bias ? &b : nullptr, act), pool);
      }
}

TEST_CASE("FullyConnected reads flattened nchw and [N, C, 1, 1] inputs in every layout", "[ops][fc]") {
  ThreadPool two(2);
  Rng rng(8);
  for (std::int64_t c : {1, 3, 5, 8, 17, 33})
    for (std::int64_t n : {1, 2, 6}) {
      const std::int64_t out = 2 * c + 1;
      const Tensor w = filled({out, c}, rng), b = filled({out}, rng);
      auto plan = ops::FullyConnected::plan(w.view(), b.view(), Activation::relu());
      REQUIRE(plan.ok());
      const Tensor x = filled({n, c, 1, 1}, rng);
      const Tensor x2d = Tensor::from({n, c}, x.floats());
      const Tensor expected = reference_fc(x2d, w, &b, Activation::relu());
      for (Layout l : primsel::testing::op_layouts) {
        INFO("x " << to_string(x.shape()) << " " << to_string(l));
        run_and_check(*plan, to_poisoned_layout(x, l), expected, n % 2 ? &two : nullptr);
      }
    }
  // nchw [N, C, H, W] is already the flattened row-major matrix.
  const Tensor w = filled({10, 3 * 5 * 7}, rng), x = filled({2, 3, 5, 7}, rng);
  auto plan = ops::FullyConnected::plan(w.view());
  REQUIRE(plan.ok());
  run_and_check(*plan, x, reference_fc(Tensor::from({2, 105}, x.floats()), w, nullptr, {}), &two);
}

TEST_CASE("FullyConnected on real-valued data, wide layers over threads", "[ops][fc]") {
  ThreadPool two(2);
  Rng rng(77);
  for (auto [in, out, n] : {std::tuple<std::int64_t, std::int64_t, std::int64_t>{512, 1000, 1},
                            {1280, 250, 2},
                            {2048, 64, 16},
                            {700, 130, 4},
                            {257, 7, 33}}) {
    INFO("in " << in << " out " << out << " batch " << n);
    const Tensor w = filled({out, in}, rng, false), b = filled({out}, rng, false), x = filled({n, in}, rng, false);
    auto plan = ops::FullyConnected::plan(w.view(), b.view());
    REQUIRE(plan.ok());
    const Tensor expected = reference_fc(x, w, &b, {});
    run_and_check(*plan, x, expected, &two, fc_real_tolerance);
    run_and_check(*plan, x, expected, nullptr, fc_real_tolerance);
  }
}

TEST_CASE("FullyConnected plans ONNX Gemm nodes: transB both ways, alpha, beta, broadcast C", "[ops][fc]") {
  Rng rng(5);
  const std::int64_t in = 19, out = 11, n = 3;
  const Tensor x = filled({n, in}, rng), w_out_in = filled({out, in}, rng);
  Tensor w_in_out({in, out});
  for (std::int64_t o = 0; o < out; ++o)
    for (std::int64_t k = 0; k < in; ++k) w_in_out.data<float>()[k * out + o] = w_out_in.data<float>()[o * in + k];
  const Tensor c1 = filled({out}, rng), c2 = filled({1, out}, rng), c0 = filled({1}, rng);
  // alpha and beta powers of two keep integer fills exact even though they are folded in at plan time.
  for (bool trans_b : {true, false})
    for (const Tensor* c : {&c1, &c2, &c0, static_cast<const Tensor*>(nullptr)})
      for (float alpha : {1.0f, 0.5f})
        for (float beta : {1.0f, 2.0f}) {
          const GemmParams g{.alpha = alpha, .beta = beta, .trans_b = trans_b, .activation = Activation::relu6()};
          const Tensor& b = trans_b ? w_out_in : w_in_out;
          INFO("trans_b " << trans_b << " C " << (c ? to_string(c->shape()) : "none") << " alpha " << alpha << " beta "
                          << beta);
          Tensor expected({n, out});
          reference::gemm(x.view(), b.view(), c ? ConstTensorView(c->view()) : ConstTensorView{}, g, expected.view());
          auto plan = ops::FullyConnected::plan_gemm(g, b.view(), c ? ConstTensorView(c->view()) : ConstTensorView{});
          INFO(message_of(plan));
          REQUIRE(plan.ok());
          run_and_check(*plan, x, expected, nullptr);
        }
}

TEST_CASE("FullyConnected rejects bad arguments with errors naming the op and shapes", "[ops][fc][errors]") {
  Rng rng(1);
  const Tensor w = filled({6, 10}, rng), x = filled({2, 10}, rng);
  auto plan = ops::FullyConnected::plan(w.view());
  REQUIRE(plan.ok());
  Scratch ws(ops::FullyConnected::workspace_bytes(*plan, 2, 1));
  const Context ctx{nullptr, ws.bytes};
  Tensor y({2, 6});
  REQUIRE(ops::fully_connected(*plan, x.view(), y.view(), ctx).ok());

  const Tensor x_wrong = filled({2, 11}, rng);
  auto s = ops::fully_connected(*plan, x_wrong.view(), y.view(), ctx);
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().code() == ErrorCode::shape_mismatch);
  CHECK_THAT(message_of(s),
             Catch::Contains("FullyConnected") && Catch::Contains("2x11") && Catch::Contains("10 inputs"));

  Tensor y_wrong({2, 7});
  s = ops::fully_connected(*plan, x.view(), y_wrong.view(), ctx);
  REQUIRE_FALSE(s.ok());
  CHECK_THAT(message_of(s), Catch::Contains("FullyConnected") && Catch::Contains("2x7") && Catch::Contains("2x6"));

  s = ops::fully_connected(*plan, x.view(), y.view(), Context{nullptr, ws.bytes.first(8)});
  REQUIRE_FALSE(s.ok());
  CHECK_THAT(message_of(s), Catch::Contains("workspace"));

  Scratch big(ws.bytes.size() + 64);
  s = ops::fully_connected(*plan, x.view(), y.view(), Context{nullptr, big.bytes.subspan(4)});
  REQUIRE_FALSE(s.ok());
  CHECK_THAT(message_of(s), Catch::Contains("aligned"));

  const Tensor spatial = to_layout(filled({2, 10, 1, 1}, rng), Layout::nchw8c).value();
  REQUIRE(ops::fully_connected(*plan, spatial.view(), y.view(), ctx).ok());
  const Tensor blocked_hw = to_layout(filled({2, 5, 2, 1}, rng), Layout::nchw8c).value();
  s = ops::fully_connected(*plan, blocked_hw.view(), y.view(), ctx);
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().code() == ErrorCode::unsupported);
  CHECK_THAT(message_of(s),
             Catch::Contains("FullyConnected") && Catch::Contains("nchw8c") && Catch::Contains("convert"));

  const Tensor w3 = filled({2, 3, 4}, rng);
  auto bad = ops::FullyConnected::plan(w3.view());
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(message_of(bad), Catch::Contains("FullyConnected") && Catch::Contains("2x3x4"));
  const Tensor b_wrong = filled({5}, rng);
  bad = ops::FullyConnected::plan(w.view(), b_wrong.view());
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(message_of(bad), Catch::Contains("bias must have 6"));
  bad = ops::FullyConnected::plan_gemm(GemmParams{.trans_a = true}, w.view());
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(message_of(bad), Catch::Contains("Gemm") && Catch::Contains("trans_a"));
  const Tensor per_row = filled({2, 6}, rng);
  bad = ops::FullyConnected::plan_gemm(GemmParams{.trans_b = true}, w.view(), per_row.view());
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(message_of(bad), Catch::Contains("per-row C"));
}
