// ConvTester: the one shared check every convolution primitive passes, in the style of XNNPACK's testers.
//
//   ConvTester().ic(13).oc(24).hw(9, 7).k(3).stride(2).pad(1).check<Im2colGemm>();
//
// It builds the layer, runs the reference and the primitive (through the primitive's own input/output formats),
// and compares. Exact mode (the default) fills inputs, weights and bias with small integers: every product and
// partial sum is then an integer below 2^24, so any summation order gives the same fp32 result and a correct
// GEMM/direct primitive must equal the reference bit for bit. Transform-based primitives (Winograd, FFT) use
// real-valued fills and a tolerance relative to the output's magnitude (tolerances.hpp names them).
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "primsel/core/layout_convert.hpp"
#include "primsel/core/random.hpp"
#include "primsel/core/thread_pool.hpp"
#include "primsel/graph/shape_inference.hpp"
#include "primsel/primitives/concept.hpp"
#include "primsel/primitives/reference/conv.hpp"

namespace primsel::testing {

class ConvTester {
 public:
  ConvTester& batch(std::int64_t n) { d_.n = n; return *this; }
  ConvTester& ic(std::int64_t c) { d_.ic = c; return *this; }
  ConvTester& oc(std::int64_t c) { d_.oc = c; return *this; }
  ConvTester& hw(std::int64_t h, std::int64_t w) { d_.ih = h, d_.iw = w; return *this; }
  ConvTester& k(std::int64_t kh, std::int64_t kw = 0) { d_.kh = kh, d_.kw = kw ? kw : kh; return *this; }
  ConvTester& stride(std::int64_t sh, std::int64_t sw = 0) { d_.sh = sh, d_.sw = sw ? sw : sh; return *this; }
  ConvTester& dilation(std::int64_t dh, std::int64_t dw = 0) { d_.dh = dh, d_.dw = dw ? dw : dh; return *this; }
  ConvTester& pad(std::int64_t p) { d_.pads = {p, p, p, p}; return *this; }
  ConvTester& pad(std::int64_t top, std::int64_t left, std::int64_t bottom, std::int64_t right) {
    d_.pads = {top, left, bottom, right};
    return *this;
  }
  ConvTester& groups(std::int64_t g) { d_.groups = g; return *this; }
  ConvTester& depthwise(std::int64_t channels) { d_.groups = d_.ic = d_.oc = channels; return *this; }
  ConvTester& bias(bool b) { d_.has_bias = b; return *this; }
  ConvTester& activation(Activation a) { d_.activation = a; return *this; }
  ConvTester& threads(int t) { threads_ = t; return *this; }
  /// Real-valued fills compared with `relative` tolerance (max |error| / max |reference|) instead of exactness.
  ConvTester& tolerance(double relative) { tolerance_ = relative; return *this; }
  ConvTester& seed(std::uint64_t s) { seed_ = s; return *this; }

  /// The layer as it will be tested (output size filled in).
  ConvDesc desc() const {
    ConvDesc d = d_;
    d.oh = window_output_size(d.ih, d.kh, d.sh, d.pads.top, d.pads.bottom, d.dh);
    d.ow = window_output_size(d.iw, d.kw, d.sw, d.pads.left, d.pads.right, d.dw);
    return d;
  }

  template <ConvPrimitive P>
  void check() const {
    const ConvDesc d = desc();
    INFO(P::name << " on " << to_string(d) << " with " << threads_ << " thread(s)");
    REQUIRE(d.oh > 0);
    REQUIRE(d.ow > 0);
    const Support s = P::supports(d);
    INFO("declined: " << s.why);
    REQUIRE(s.ok);

    Rng rng(seed_);
    auto fill = [&](Tensor& t) {
      for (float& v : t.floats())
        v = tolerance_ > 0 ? static_cast<float>(rng.uniform(-1.0, 1.0)) : static_cast<float>(rng.below(5)) - 2.0f;
    };
    Tensor x({d.n, d.ic, d.ih, d.iw}), w({d.oc, d.ic_per_group(), d.kh, d.kw}), b({d.oc});
    fill(x), fill(w), fill(b);

    Tensor expected({d.n, d.oc, d.oh, d.ow});
    ConvParams p{.kernel = {d.kh, d.kw}, .stride = {d.sh, d.sw}, .dilation = {d.dh, d.dw}, .pads = d.pads,
                 .groups = d.groups, .activation = d.activation};
    reference::conv2d(x.view(), w.view(), d.has_bias ? b.data<float>() : nullptr, p, expected.view());

    const ConvWeights weights{w.view(), d.has_bias ? ConstTensorView(b.view()) : ConstTensorView{}};
    auto plan = P::plan(d, weights);
    INFO((plan.ok() ? "" : plan.error().what()));
    REQUIRE(plan.ok());
    const Format in_format = P::input_format(d), out_format = P::output_format(d);
    auto input = to_layout(x, in_format.layout);
    REQUIRE(input.ok());
    // Poison the output so a primitive that skips elements cannot pass by accident.
    Tensor out({d.n, d.oc, d.oh, d.ow}, out_format);
    std::fill(out.floats().begin(), out.floats().end(), std::nanf(""));
    ThreadPool pool(threads_);
    std::vector<std::byte> scratch(P::workspace_bytes(d, threads_) + tensor_alignment);
    auto* aligned = reinterpret_cast<std::byte*>(
        (reinterpret_cast<std::uintptr_t>(scratch.data()) + tensor_alignment - 1) & ~(tensor_alignment - 1));
    const Context ctx{&pool, {aligned, P::workspace_bytes(d, threads_)}};
    P::run(*plan, input->view(), out.view(), ctx);
    auto got = to_layout(out, Layout::nchw);
    REQUIRE(got.ok());
    compare(expected, *got);
    if (is_blocked(out_format.layout)) {  // the layout's promise: padded tail channels read as zero
      auto round_trip = to_layout(*got, out_format.layout);
      REQUIRE(round_trip.ok());
      CHECK(std::memcmp(round_trip->bytes(), out.bytes(), out.size_bytes()) == 0);
    }
  }

 private:
  void compare(const Tensor& expected, const Tensor& got) const {
    const auto e = expected.floats(), g = got.floats();
    double max_ref = 0, max_err = 0;
    std::size_t worst = 0, mismatches = 0;
    for (std::size_t i = 0; i < e.size(); ++i) {
      max_ref = std::max(max_ref, std::abs(static_cast<double>(e[i])));
      const double err = std::isnan(g[i]) ? INFINITY : std::abs(static_cast<double>(e[i]) - g[i]);
      if (err > max_err) max_err = err, worst = i;
      mismatches += tolerance_ > 0 ? 0 : (e[i] != g[i]);
    }
    INFO("worst element " << worst << ": expected " << e[worst] << ", got " << g[worst]);
    if (tolerance_ > 0) {
      INFO("max error " << max_err << " vs output magnitude " << max_ref);
      CHECK(max_err <= tolerance_ * std::max(max_ref, 1e-6));
    } else {
      INFO(mismatches << " of " << e.size() << " elements differ");
      CHECK(mismatches == 0);
    }
  }

  ConvDesc d_{.ic = 1, .ih = 5, .iw = 5, .oc = 1};
  int threads_ = 1;
  double tolerance_ = 0;
  std::uint64_t seed_ = 1;
};

}  // namespace primsel::testing
