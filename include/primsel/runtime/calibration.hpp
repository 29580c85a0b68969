// Post-training calibration of a whole graph for int8: the reference executor runs the sample inputs, a
// RangeObserver per activation (every 4-D f32 value: graph inputs and node outputs, after fused activations) sees
// them, and each gets the u8 parameters of its calibrated range. The samples and their f32 outputs are kept: the
// accuracy budget of a mixed-precision binding is checked on them (Network::bind with Precision::mixed).
//
// The reference executor, not a bound network, runs the samples: calibration comes before binding (its parameters
// decide which int8 candidates exist), and its outputs are the oracle the int8 error is measured against.
//
//   auto cal = calibrate_graph(net.graph(), {{image0}, {image1}, {image2}}).value();
#pragma once

#include <cmath>
#include <cstddef>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "primsel/core/error.hpp"
#include "primsel/core/tensor.hpp"
#include "primsel/graph/graph.hpp"
#include "primsel/primitives/int8/quant_concept.hpp"
#include "primsel/quant/calibrate.hpp"
#include "primsel/runtime/reference_executor.hpp"

namespace primsel {

/// What calibration learned about one graph.
struct Calibration {
  std::vector<std::optional<QuantParams>> params;  ///< by ValueId: the u8 parameters of each calibrated activation
  std::vector<std::vector<Tensor>> samples;        ///< the inputs: one vector (a tensor per graph input) per sample
  std::vector<std::vector<Tensor>> expected;       ///< the reference f32 outputs of each sample
  /// by ValueId: each channel's mean (dimension 1; a 2-D value's features) over the samples, for the int8 layers'
  /// bias correction (ConvQuant::input_mean); empty where not observed or when calibrated without it.
  std::vector<std::vector<float>> means;

  bool empty() const noexcept { return params.empty(); }
  /// The u8 parameters of value v, if it was calibrated.
  std::optional<QuantParams> of(ValueId v) const {
    return v >= 0 && static_cast<std::size_t>(v) < params.size() ? params[static_cast<std::size_t>(v)] : std::nullopt;
  }
  /// Value v's channel means, empty if none were taken.
  std::span<const float> mean_of(ValueId v) const noexcept {
    return v >= 0 && static_cast<std::size_t>(v) < means.size() ? std::span<const float>(means[static_cast<std::size_t>(v)])
                                                               : std::span<const float>{};
  }
};

/// Calibrates finalized graph `g` on `samples` (each: one nchw/f32 tensor per graph input). Needs at least one
/// sample; more give ranges closer to deployment (a few dozen are typical). Each range is quantised into `levels`,
/// by default what this target's int8 GEMM kernels are exact for (u8_activation_levels: 255 levels, or 127 on
/// AVX2 without VNNI), and the parameters carry them (QuantParams::qmax), so every u8 producer stays within.
/// With `bias_correction` the channel means of every 4-D and 2-D activation are kept too (Calibration::means).
inline Expected<Calibration> calibrate_graph(const Graph& g, std::vector<std::vector<Tensor>> samples,
                                             quant::CalibrationMethod method = quant::CalibrationMethod::mse,
                                             quant::QRange levels = u8_activation_levels, bool bias_correction = true) {
  PRIMSEL_CHECK(!samples.empty(), ErrorCode::invalid_argument,
                "calibrating '" + g.name() + "' needs at least one sample input");
  std::vector<std::optional<quant::RangeObserver>> observers(g.values().size());
  auto observable = [&g](ValueId v) {
    const Value& val = g.value(v);
    return !val.is_constant() && val.shape.rank() == 4;
  };
  for (ValueId v : g.inputs())
    if (observable(v)) observers[static_cast<std::size_t>(v)].emplace();
  for (const Node& n : g.nodes())
    if (observable(n.outputs[0])) observers[static_cast<std::size_t>(n.outputs[0])].emplace();

  Calibration cal;
  // Channel sums and element counts per channel, in double: millions of activations are summed.
  std::vector<std::vector<double>> sums(bias_correction ? g.values().size() : 0);
  std::vector<double> counts(sums.size());
  auto add_to_mean = [&](ValueId v, const Tensor& t) {
    const Shape& sh = t.shape();
    if (sums.empty() || g.value(v).is_constant() || (sh.rank() != 4 && sh.rank() != 2) || t.dtype() != DType::f32) return;
    const std::int64_t n = sh[0], c = sh[1], inner = sh.rank() == 4 ? sh[2] * sh[3] : 1;
    std::vector<double>& sum = sums[static_cast<std::size_t>(v)];
    sum.resize(static_cast<std::size_t>(c));
    const float* x = t.data<float>();
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t ch = 0; ch < c; ++ch) {
        double s = 0;
        for (std::int64_t k = 0; k < inner; ++k) s += x[(i * c + ch) * inner + k];
        sum[static_cast<std::size_t>(ch)] += s;
      }
    counts[static_cast<std::size_t>(v)] += static_cast<double>(n * inner);
  };
  for (std::size_t s = 0; s < samples.size(); ++s) {
    const std::vector<Tensor>& in = samples[s];
    for (std::size_t k = 0; k < in.size() && k < g.inputs().size(); ++k) {
      if (auto& o = observers[static_cast<std::size_t>(g.inputs()[k])]) o->observe(in[k].floats());
      add_to_mean(g.inputs()[k], in[k]);
    }
    auto outs = run_reference(g, in, [&](std::size_t node, Tensor& out) -> Status {
      if (auto& o = observers[static_cast<std::size_t>(g.nodes()[node].outputs[0])]) o->observe(out.floats());
      add_to_mean(g.nodes()[node].outputs[0], out);
      return {};
    });
    if (!outs) return Error(std::move(outs).error()).with_context(ErrorContext{"calibration sample " + std::to_string(s), {}, {}});
    cal.expected.push_back(std::move(*outs));
  }
  cal.params.resize(g.values().size());
  for (std::size_t v = 0; v < observers.size(); ++v)
    if (observers[v] && observers[v]->count() > 0) cal.params[v] = observers[v]->params(method, levels);
  cal.means.resize(sums.size());
  for (std::size_t v = 0; v < sums.size(); ++v)
    for (double s : sums[v]) cal.means[v].push_back(static_cast<float>(s / counts[v]));
  cal.samples = std::move(samples);
  return cal;
}

/// Relative L2 error of `actual` against `expected` over all samples and outputs: ||a - e|| / ||e||. The accuracy
/// budget is stated in it (0.01 = outputs within 1% in norm); an all-zero reference counts any difference as 1.
inline double relative_output_error(const std::vector<std::vector<Tensor>>& expected,
                                    const std::vector<std::vector<Tensor>>& actual) noexcept {
  double diff = 0, norm = 0;
  for (std::size_t s = 0; s < expected.size() && s < actual.size(); ++s)
    for (std::size_t k = 0; k < expected[s].size() && k < actual[s].size(); ++k) {
      const auto e = expected[s][k].floats();
      const auto a = actual[s][k].floats();
      for (std::size_t i = 0; i < e.size() && i < a.size(); ++i) {
        const double d = static_cast<double>(a[i]) - e[i];
        diff += d * d, norm += static_cast<double>(e[i]) * e[i];
      }
    }
  if (!std::isfinite(diff)) return std::numeric_limits<double>::infinity();
  return norm > 0 ? std::sqrt(diff / norm) : (diff > 0 ? 1.0 : 0.0);
}

}  // namespace primsel
