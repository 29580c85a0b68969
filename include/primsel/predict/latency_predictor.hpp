// LatencyPredictor: predicts how long a primitive takes on a convolution layer, from (layer, primitive, threads,
// ms) samples that Network::measure() already produces (the tuning cache doubles as training data). One model per
// primitive on log-features (layer_features.hpp), predicting log(ms / work proxy), so that with little data it
// falls back to "time proportional to the primitive's work":
//   - ridge:     Bayesian ridge regression; uncertainty = residual spread x sqrt(1 + leverage), so it grows away
//                from the training layers (e.g. another thread count);
//   - knn:       inverse-distance mean of the k nearest training layers in standardised feature space;
//                uncertainty = leave-one-out error, grown by the distance to the nearest layer;
//   - ridge_knn: ridge plus its residuals at the k nearest training layers, faded out with distance (default).
// docs/predictor.md has the experiment that chose the default, and the file format.
//
//   auto p = predict::LatencyPredictor::train(samples, {}).value();
//   predict::Prediction t = p.predict(desc, "winograd_f43", 1);    // t.ms, t.log_sigma
//   Status s = p.calibrate(ten_layers_from_another_device);        // rescale to that device
#pragma once

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <map>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "primsel/core/error.hpp"
#include "primsel/graph/conv_desc.hpp"
#include "primsel/predict/layer_features.hpp"
#include "primsel/runtime/tuning_cache.hpp"

namespace primsel::predict {

/// One measured (layer, primitive) pair: the training data of the predictor.
struct Sample {
  ConvDesc desc;
  std::string primitive;
  int threads = 1;
  double ms = 0;       ///< measured median time
  std::string source;  ///< where it came from (model name), for leave-one-model-out; may be empty
};

/// ridge: linear in the log-features; knn: nearest training layers; ridge_knn: ridge plus the kernel-weighted
/// ridge residuals of the nearest training layers (the trend from ridge, local corrections from neighbours).
enum class PredictorKind { ridge, knn, ridge_knn };

constexpr std::string_view to_string(PredictorKind k) noexcept {
  return k == PredictorKind::ridge ? "ridge" : k == PredictorKind::knn ? "knn" : "ridge_knn";
}

/// Defaults: the winner of the leave-one-model-out experiment in docs/predictor.md.
struct PredictorOptions {
  PredictorKind kind = PredictorKind::ridge_knn;
  double lambda = 10.0;     ///< ridge: penalty on the standardised coefficients (the intercept is free)
  int k = 5;                ///< knn, ridge_knn: neighbours averaged
  double min_sigma = 0.03;  ///< floor of any log-scale uncertainty: timing noise on a shared machine is ~3%
};

/// calibrate()'s priors. Defaults: set a priori (not tuned on the transfer experiment's evaluation layers).
struct CalibrationOptions {
  double prior_samples = 2;  ///< a primitive's offset and slope are shrunk as if this many more samples said 0
  /// A primitive's own slope needs this many of its samples (else the global one). Off by default: on real
  /// AVX-512 -> AVX2 transfers the slopes lowered tau in every variant measured (docs/predictor.md); 5 turns them on.
  int min_slope_samples = std::numeric_limits<int>::max();
  bool layer_effects = true;  ///< per-primitive terms from contrasts within each calibration layer (see calibrate)
};

struct Prediction {
  double ms = 0;
  double log_sigma = 0;          ///< standard deviation of log(ms): ms * exp(+-log_sigma) is a ~68% band
  bool known_primitive = false;  ///< false: no training sample had this primitive; a generic model answered
};

/// A trained predictor written as constexpr arrays (to_cpp_header()); from_embedded() rebuilds it.
struct EmbeddedModel {
  std::string_view name;
  std::span<const double> numbers;
};
struct EmbeddedPredictor {
  int version = 0;
  std::span<const double> header;
  std::span<const EmbeddedModel> models;
};

class LatencyPredictor {
 public:
  static constexpr int format_version = 2;  ///< 2: per-primitive calibration slope; 1 is still read

  /// Trains one model per primitive seen in `samples` plus a generic one (all samples) for unseen primitives.
  static Expected<LatencyPredictor> train(std::span<const Sample> samples, PredictorOptions o = {}) {
    PRIMSEL_CHECK(!samples.empty(), ErrorCode::invalid_argument, "latency predictor: no training samples");
    PRIMSEL_CHECK(o.lambda > 0 && o.k >= 1 && o.min_sigma > 0, ErrorCode::invalid_argument,
                  "latency predictor: lambda, k and min_sigma must be positive");
    for (const Sample& s : samples)
      PRIMSEL_CHECK(s.ms > 0 && std::isfinite(s.ms) && s.threads >= 1, ErrorCode::invalid_argument,
                    "latency predictor: sample " + s.primitive + " on " + to_string(s.desc) +
                        " needs a positive time and thread count");
    LatencyPredictor p;
    p.opt_ = o;
    std::map<std::string, std::vector<const Sample*>> by_primitive;
    std::vector<const Sample*> all;
    for (const Sample& s : samples) by_primitive[s.primitive].push_back(&s), all.push_back(&s);
    for (const auto& [name, group] : by_primitive) p.models_.push_back(p.fit(name, group));
    p.generic_ = p.fit(std::string(generic_name), all);
    return p;
  }

  /// Predicted time of `primitive` on layer `d` with `threads` threads, and how uncertain it is.
  Prediction predict(const ConvDesc& d, std::string_view primitive, int threads) const {
    const Model* m = find(primitive);
    const Model& use = m ? *m : generic_;
    const LayerFeatures f = layer_features(d, primitive, threads, dtype_of(primitive));
    auto [t, sigma] = evaluate(use, f);
    // An unseen primitive: the generic model's spread mixes every primitive's level; add the worst known
    // primitive's spread on top, so it is never more confident than a primitive it has data for.
    if (!m) sigma = std::hypot(sigma, max_known_sigma_);
    const double raw = t + f[f_log_proxy];
    const double log_ms = cal_a_ + cal_b_ * raw + (m ? m->offset + m->slope * raw : 0.0);
    return {std::exp(log_ms), std::sqrt(sigma * sigma + cal_sigma_ * cal_sigma_), m != nullptr};
  }

  /// Transfers the predictor to another device from a handful of samples measured there (<= 10 layers is the
  /// intent). Rankings across CPUs are largely preserved, so only a rescaling of the log time is fitted:
  ///   log ms_new = a + b * r + offset[p] + slope[p] * (r - centre[p]),  r = log ms predicted by the trained model
  /// 1. (a, b), all samples: with fewer than 3 samples or predictions spanning less than a factor e within the
  ///    primitives, b = 1 and a is the mean residual (a constant slowdown); otherwise b is the least-squares slope
  ///    of the samples centred per primitive (not confounded with the offsets of step 2), clamped to [0.5, 2].
  /// 2. Per primitive p, on what (a, b) leaves: an offset and a slope, each a ridge estimate shrunk toward the
  ///    global rescale (0) as if `o.prior_samples` more samples agreed with it — one odd sample cannot move a
  ///    primitive far, and with no samples a primitive keeps the global rescale. Kernels change their relative
  ///    speed across ISAs (AVX2 direct convolution slows more than GEMM), which only a per-primitive term sees;
  ///    the slope (a primitive whose slowdown grows with the layer's size; off unless `o.min_slope_samples` is
  ///    set) only from that many samples of p spanning a factor e, and b + slope stays in [0.5, 2]. With
  ///    `o.layer_effects` (default) each layer measured gets its own level too (profiled out exactly), so the
  ///    offsets are fitted on contrasts within a layer.
  /// The remaining residual spread joins every prediction's uncertainty. Each call starts again from the trained
  /// model (it does not compound); an empty span removes the calibration. A sample with a non-positive or
  /// non-finite time or threads < 1 is an error, and the calibration is then left as it was.
  Status calibrate(std::span<const Sample> few, CalibrationOptions o = {}) {
    PRIMSEL_CHECK(o.prior_samples > 0 && std::isfinite(o.prior_samples) && o.min_slope_samples >= 2,
                  ErrorCode::invalid_argument,
                  "latency predictor calibration: prior_samples must be positive and min_slope_samples >= 2");
    for (const Sample& s : few)
      PRIMSEL_CHECK(s.ms > 0 && std::isfinite(s.ms) && s.threads >= 1, ErrorCode::invalid_argument,
                    "latency predictor calibration: sample " + s.primitive + " on " + to_string(s.desc) +
                        " needs a positive, finite time and thread count");
    cal_a_ = 0, cal_b_ = 1, cal_sigma_ = 0;
    for (Model& m : models_) m.offset = 0, m.slope = 0;
    const std::size_t n = few.size();
    if (n == 0) return {};
    std::vector<double> raw(n), y(n);
    std::vector<Model*> model_of(n);
    for (std::size_t i = 0; i < n; ++i) {
      raw[i] = std::log(predict(few[i].desc, few[i].primitive, few[i].threads).ms);
      y[i] = std::log(few[i].ms);
      const Model* m = find(few[i].primitive);
      model_of[i] = m ? &models_[static_cast<std::size_t>(m - models_.data())] : nullptr;
    }
    // b from the variation within each primitive's samples (each primitive centred on its own means): the per-
    // primitive offsets fitted below would otherwise leak into b — when primitives swap ranks across devices,
    // a layer's slower-predicted candidate is the faster one there, which a line over all samples reads as b < 1.
    struct Sums {
      double raw = 0, y = 0, count = 0;
    };
    std::map<std::string_view, Sums> per_primitive;
    for (std::size_t i = 0; i < n; ++i) {
      Sums& m = per_primitive[few[i].primitive];
      m.raw += raw[i], m.y += y[i], ++m.count;
    }
    std::vector<double> raw_within(n), y_within(n);
    for (std::size_t i = 0; i < n; ++i) {
      const Sums& m = per_primitive[few[i].primitive];
      raw_within[i] = raw[i] - m.raw / m.count, y_within[i] = y[i] - m.y / m.count;
    }
    const auto [b, global_slope] = line_slope(raw_within, y_within, 0.0);
    cal_b_ = global_slope ? std::clamp(b, 0.5, 2.0) : 1.0;
    cal_a_ = mean(y) - cal_b_ * mean(raw);
    double dof = global_slope ? 2.0 : 1.0;  // parameters fitted, for the residual spread
    // Per-primitive terms on what (a, b) leaves. With layer effects each calibration layer also gets a free level u
    // (a nuisance, unused when predicting): a layer's shared deviation — its shape suits the trained model less, or
    // a load burst hit its measurement — then says nothing about a primitive, whose terms come from the contrasts
    // between the candidates of one layer, the very thing a per-layer ranking depends on.
    std::vector<double> e(n);
    std::size_t layers = 0;
    std::vector<std::size_t> layer_of(n);
    for (std::size_t i = 0; i < n; ++i) {
      e[i] = y[i] - cal_a_ - cal_b_ * raw[i];
      std::size_t j = 0;
      while (j < i && !(few[j].desc == few[i].desc && few[j].threads == few[i].threads)) ++j;
      layer_of[i] = j < i ? layer_of[j] : layers++;
    }
    struct Term {
      Model* m;
      std::vector<std::size_t> at;  // its samples
      double centre = 0, offset = 0, slope = 0;
      bool sloped = false;
    };
    std::vector<Term> terms;
    for (std::size_t i = 0; i < n; ++i) {
      if (!model_of[i]) continue;  // an unknown primitive informs the global rescale (and its layer's level) only
      auto t = std::find_if(terms.begin(), terms.end(), [&](const Term& x) { return x.m == model_of[i]; });
      if (t == terms.end()) t = terms.insert(terms.end(), Term{model_of[i], {}});
      t->at.push_back(i);
    }
    // Slopes first, on the residuals without layer levels: a slope is a change across layers, which a free level per
    // layer would absorb (the two are confounded). Ridge on the centred predictions: the penalty is prior_samples
    // points at one log unit (a factor e).
    for (Term& t : terms) {
      std::vector<double> r, d;
      for (std::size_t i : t.at) r.push_back(raw[i]), d.push_back(e[i]);
      t.centre = mean(r);
      const auto [slope, spread] = line_slope(r, d, o.prior_samples);
      t.sloped = static_cast<int>(r.size()) >= o.min_slope_samples && spread;
      if (t.sloped) t.slope = std::clamp(slope, 0.5 - cal_b_, 2.0 - cal_b_);
    }
    // Offsets: ridge least squares on d = residual - slope term, with the layer levels profiled out exactly (each
    // sample's one-hot primitive vector and d centred on its layer's mean), a system of one row per primitive:
    //   (prior_samples I + sum_i (x_i - mean_layer x)(x_i - mean_layer x)') offsets = sum_i (x_i - mean_layer x) d_i
    // Without layer effects nothing is centred and each offset is sum d / (n_p + prior_samples).
    const std::size_t P = terms.size();
    std::vector<int> term_of(n, -1);
    std::vector<double> d(n);
    for (std::size_t t = 0; t < P; ++t)
      for (std::size_t i : terms[t].at) term_of[i] = static_cast<int>(t);
    for (std::size_t i = 0; i < n; ++i)
      d[i] = e[i] - (term_of[i] >= 0
                         ? terms[std::size_t(term_of[i])].slope * (raw[i] - terms[std::size_t(term_of[i])].centre)
                         : 0.0);
    const std::size_t L = o.layer_effects ? layers : n;  // without layer effects every sample is its own "layer"
    std::vector<double> xbar(L * P, 0.0), dbar(L, 0.0), size(L, 0.0);
    auto group = [&](std::size_t i) { return o.layer_effects ? layer_of[i] : i; };
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t l = group(i);
      size[l] += 1, dbar[l] += d[i];
      if (term_of[i] >= 0) xbar[l * P + std::size_t(term_of[i])] += 1;
    }
    for (std::size_t l = 0; l < L; ++l) {
      dbar[l] /= size[l];
      for (std::size_t t = 0; t < P; ++t) xbar[l * P + t] /= size[l];
    }
    std::vector<double> A(P * P, 0.0), c(P, 0.0), x(P);
    for (std::size_t t = 0; t < P; ++t) A[t * P + t] = o.prior_samples;
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t l = group(i);
      const bool centre = o.layer_effects;
      for (std::size_t t = 0; t < P; ++t)
        x[t] = (term_of[i] == static_cast<int>(t) ? 1.0 : 0.0) - (centre ? xbar[l * P + t] : 0.0);
      const double di = d[i] - (centre ? dbar[l] : 0.0);
      for (std::size_t t = 0; t < P; ++t) {
        c[t] += x[t] * di;
        for (std::size_t q = 0; q < P; ++q) A[t * P + q] += x[t] * x[q];
      }
    }
    if (P > 0) {
      const std::vector<double> inv = spd_inverse(A, P);
      for (std::size_t t = 0; t < P; ++t) {
        double v = 0;
        for (std::size_t q = 0; q < P; ++q) v += inv[t * P + q] * c[q];
        terms[t].offset = v;
      }
    }
    double rss = 0;
    for (const Term& t : terms) {
      t.m->slope = t.slope;
      t.m->offset = t.offset - t.slope * t.centre;  // stored for r = 0
      dof +=
          static_cast<double>(t.at.size()) / (static_cast<double>(t.at.size()) + o.prior_samples) + (t.sloped ? 1 : 0);
    }
    // The spread left for a new layer: without the layer levels, which are unknown there.
    for (std::size_t i = 0; i < n; ++i) {
      const double fit =
          cal_a_ + cal_b_ * raw[i] + (model_of[i] ? model_of[i]->offset + model_of[i]->slope * raw[i] : 0.0);
      rss += (y[i] - fit) * (y[i] - fit);
    }
    cal_sigma_ = static_cast<double>(n) > dof ? std::sqrt(rss / (static_cast<double>(n) - dof)) : 0.0;
    return {};
  }

  PredictorKind kind() const noexcept { return opt_.kind; }
  const PredictorOptions& options() const noexcept { return opt_; }
  /// Primitives with a model of their own, and how many samples trained each.
  std::vector<std::pair<std::string, int>> primitives() const {
    std::vector<std::pair<std::string, int>> out;
    for (const Model& m : models_) out.emplace_back(m.name, m.count);
    return out;
  }

  /// A text file: a version line, a comment, the header numbers, one line per model, an FNV-1a checksum.
  ///   primsel-latency-predictor 2
  ///   # ridge, 21 features: log_macs log_in_bytes ...
  ///   header <n> <numbers>
  ///   model <primitive> <n> <numbers>        (the generic model is named "*")
  ///   checksum <16 hex digits>
  std::string serialize() const {
    std::string body = "primsel-latency-predictor " + std::to_string(format_version) + "\n# " +
                       std::string(to_string(opt_.kind)) + ", " + std::to_string(feature_count) + " features:";
    for (std::string_view f : feature_names) body += " " + std::string(f);
    body += "\nheader" + numbers_text(header_numbers()) + "\n";
    for (const Model* m : all_models())
      body += "model " + primsel::detail::escape(m->name) + numbers_text(model_numbers(*m)) + "\n";
    return body + "checksum " + hex64(fnv1a(body)) + "\n";
  }

  /// Reads serialize()'s text. A wrong version, a bad checksum, a truncated file or an inconsistent model is an
  /// error that says which; it never crashes.
  static Expected<LatencyPredictor> parse(std::string_view text) {
    auto bad = [](const std::string& why) {
      return Error(ErrorCode::invalid_argument, "latency predictor file: " + why);
    };
    const std::string magic = "primsel-latency-predictor ";
    if (!text.starts_with(magic)) return bad("does not start with '" + magic + "<version>'");
    const std::size_t eol = text.find('\n');
    if (eol == std::string_view::npos) return bad("truncated after the first line");
    const std::string_view version = text.substr(magic.size(), eol - magic.size());
    if (version != "1" && version != std::to_string(format_version))
      return bad("version " + std::string(version) + ", this build reads versions 1 to " +
                 std::to_string(format_version));
    const std::size_t check = text.rfind("checksum ");
    if (check == std::string_view::npos || (check > 0 && text[check - 1] != '\n'))
      return bad("no checksum line: the file is truncated");
    std::string_view sum = text.substr(check + 9);
    while (!sum.empty() && (sum.back() == '\n' || sum.back() == '\r')) sum.remove_suffix(1);
    if (sum != hex64(fnv1a(text.substr(0, check)))) return bad("checksum mismatch: the file is damaged or was edited");
    std::vector<double> header;
    std::vector<std::pair<std::string, std::vector<double>>> models;
    std::istringstream in{std::string(text.substr(eol + 1, check - eol - 1))};
    std::string line;
    for (int no = 2; std::getline(in, line); ++no) {
      if (line.empty() || line[0] == '#') continue;
      std::istringstream ls(line);
      std::string tag, name;
      ls >> tag;
      if (tag == "model") {
        ls >> name;
        name = primsel::detail::unescape(name);
      } else if (tag != "header") {
        return bad("line " + std::to_string(no) + ": unknown record '" + tag + "'");
      }
      std::size_t count = 0;
      if (!(ls >> count) || count > (1u << 24)) return bad("line " + std::to_string(no) + ": missing number count");
      std::vector<double> v(count);
      for (double& x : v) {
        std::string tok;
        if (!(ls >> tok)) return bad("line " + std::to_string(no) + ": fewer numbers than the count says");
        auto [ptr, ec] = std::from_chars(tok.data(), tok.data() + tok.size(), x);
        if (ec != std::errc() || ptr != tok.data() + tok.size() || !std::isfinite(x))
          return bad("line " + std::to_string(no) + ": '" + tok + "' is not a finite number");
      }
      if (tag == "header")
        header = std::move(v);
      else
        models.emplace_back(std::move(name), std::move(v));
    }
    std::vector<EmbeddedModel> views;
    for (const auto& [name, v] : models) views.push_back({name, v});
    return decode(version == "1" ? 1 : format_version, header, views);
  }

  /// Rebuilds a predictor from constexpr tables written by to_cpp_header(), checking them as parse() does.
  static Expected<LatencyPredictor> from_embedded(const EmbeddedPredictor& e) {
    return decode(e.version, e.header, e.models);
  }

  /// A header that embeds this predictor as constexpr arrays:
  ///   #include "my_device_predictor.hpp"
  ///   auto p = predict::LatencyPredictor::from_embedded(predict::embedded::my_device).value();
  std::string to_cpp_header(std::string_view name) const {
    const std::string n(name);
    std::string s = "// Generated by primsel::predict::LatencyPredictor::to_cpp_header(\"" + n + "\"); do not edit.\n" +
                    "#pragma once\n\n#include \"primsel/predict/latency_predictor.hpp\"\n\n" +
                    "namespace primsel::predict::embedded {\n\n";
    auto array = [&](const std::string& id, const std::vector<double>& v) {
      s += "inline constexpr double " + id + "[] = {";
      for (std::size_t i = 0; i < v.size(); ++i) s += (i % 6 == 0 ? "\n    " : " ") + number(v[i]) + ",";
      s += "\n};\n";
    };
    array(n + "_header", header_numbers());
    const std::vector<const Model*> ms = all_models();
    for (std::size_t i = 0; i < ms.size(); ++i) array(n + "_model" + std::to_string(i), model_numbers(*ms[i]));
    s += "inline constexpr EmbeddedModel " + n + "_models[] = {\n";
    for (std::size_t i = 0; i < ms.size(); ++i)
      s += "    {\"" + ms[i]->name + "\", " + n + "_model" + std::to_string(i) + "},\n";
    s += "};\ninline constexpr EmbeddedPredictor " + n + "{" + std::to_string(format_version) + ", " + n + "_header, " +
         n + "_models};\n\n}  // namespace primsel::predict::embedded\n";
    return s;
  }

 private:
  static constexpr std::string_view generic_name = "*";
  static constexpr std::size_t F = feature_count;
  static constexpr double prior_sigma = 0.5;  // log-scale spread assumed before any residual is seen
  static constexpr double prior_weight = 2;   // ... worth this many residuals

  struct Model {
    std::string name;
    int count = 0;
    double sigma = 0;                 // residual spread (log scale)
    double offset = 0, slope = 0;     // calibrate()'s per-primitive terms: + offset + slope * log ms predicted
    std::vector<double> mean, scale;  // feature standardisation, F each
    std::vector<double> coef;         // ridge: intercept + F (ridge_knn: + typical distance); knn: {typical distance}
    std::vector<double> cov;          // ridge: (Z'Z + lambda I)^-1, upper triangle of (F+1)^2
    std::vector<double> points;       // knn: distinct layers x (F standardised features + target (ridge_knn: residual))
  };

  /// Least-squares slope of y on x, centred, with `ridge` added to sum (x - mean)^2; and whether x spans enough
  /// for a slope at all (>= 3 points, spread of at least ~a factor e in time).
  static std::pair<double, bool> line_slope(const std::vector<double>& x, const std::vector<double>& y, double ridge) {
    const double mx = mean(x), my = mean(y);
    double sxx = 0, sxy = 0;
    for (std::size_t i = 0; i < x.size(); ++i) sxx += (x[i] - mx) * (x[i] - mx), sxy += (x[i] - mx) * (y[i] - my);
    const bool spread = x.size() >= 3 && sxx / static_cast<double>(x.size()) >= 0.25;
    return {spread ? sxy / (sxx + ridge) : 0.0, spread};
  }
  static double mean(const std::vector<double>& v) {
    double s = 0;
    for (double x : v) s += x;
    return v.empty() ? 0.0 : s / static_cast<double>(v.size());
  }
  /// int8 primitives are named after their types (im2col_u8s8): their elements are one byte.
  static DType dtype_of(std::string_view primitive) {
    return primitive.find("u8s8") != std::string_view::npos ? DType::u8 : DType::f32;
  }
  const Model* find(std::string_view primitive) const {
    for (const Model& m : models_)
      if (m.name == primitive) return &m;
    return nullptr;
  }
  std::vector<const Model*> all_models() const {
    std::vector<const Model*> out;
    for (const Model& m : models_) out.push_back(&m);
    out.push_back(&generic_);
    return out;
  }
  std::vector<double> standardise(const Model& m, const LayerFeatures& f) const {
    std::vector<double> z(F);
    for (std::size_t j = 0; j < F; ++j) z[j] = (f[j] - m.mean[j]) / m.scale[j];
    return z;
  }
  static double blend_sigma(double sum_sq, double dof) {
    return std::sqrt((sum_sq + prior_weight * prior_sigma * prior_sigma) / (std::max(dof, 0.0) + prior_weight));
  }

  /// The model's log(ms / proxy) for features f and its uncertainty, before calibration.
  std::pair<double, double> evaluate(const Model& m, const LayerFeatures& f) const {
    const std::vector<double> z = standardise(m, f);
    if (opt_.kind == PredictorKind::knn) return knn_part(m, z);
    const auto [t, sigma] = ridge_part(m, z);
    if (opt_.kind == PredictorKind::ridge) return {t, sigma};
    // ridge_knn: add the neighbours' residuals (inverse-distance mean of the k nearest), faded out as the nearest
    // moves beyond a few typical distances between training layers: far from the data, ridge's trend alone.
    const std::vector<std::pair<double, double>> near = nearest(m, z);
    if (near.empty()) return {t, sigma};
    double sw = 0, sr = 0;
    for (const auto& [d, r] : near) {
      const double w = 1 / (d + 1e-3);
      sw += w, sr += w * r;
    }
    const double reach = 3 * std::max(m.coef[F + 1], 1e-3), d1 = near[0].first;
    return {t + sr / sw * reach * reach / (reach * reach + d1 * d1), sigma};
  }

  /// Ridge: coefficients times [1, z]; uncertainty sigma * sqrt(1 + leverage), leverage = a' (Z'Z + lambda)^-1 a.
  std::pair<double, double> ridge_part(const Model& m, const std::vector<double>& z) const {
    double t = m.coef[0], h = 0;
    auto a = [&](std::size_t i) { return i == 0 ? 1.0 : z[i - 1]; };
    for (std::size_t i = 0; i <= F; ++i) {
      if (i > 0) t += m.coef[i] * z[i - 1];
      for (std::size_t j = 0; j <= F; ++j) h += a(i) * cov_at(m, i, j) * a(j);
    }
    return {t, std::max(opt_.min_sigma, m.sigma * std::sqrt(1 + std::max(h, 0.0)))};
  }

  /// The k nearest stored points to z: (distance, target).
  std::vector<std::pair<double, double>> nearest(const Model& m, const std::vector<double>& z) const {
    std::vector<std::pair<double, double>> near;
    for (std::size_t p = 0; p < m.points.size() / (F + 1); ++p) {
      const double* row = m.points.data() + p * (F + 1);
      double d2 = 0;
      for (std::size_t j = 0; j < F; ++j) d2 += (row[j] - z[j]) * (row[j] - z[j]);
      near.emplace_back(std::sqrt(d2), row[F]);
    }
    const std::size_t k = std::min<std::size_t>(static_cast<std::size_t>(opt_.k), near.size());
    std::partial_sort(near.begin(), near.begin() + static_cast<std::ptrdiff_t>(k), near.end());
    near.resize(k);
    return near;
  }

  /// knn: inverse-distance weighted mean of the k nearest targets; uncertainty grows with the distance to the
  /// nearest one, in units of the typical distance between training layers.
  std::pair<double, double> knn_part(const Model& m, const std::vector<double>& z) const {
    const std::vector<std::pair<double, double>> near = nearest(m, z);
    double sw = 0, st = 0;
    for (const auto& [d, t] : near) {
      const double w = 1 / (d + 1e-3);
      sw += w, st += w * t;
    }
    const double typical = std::max(m.coef[0], 1e-3), d1 = near.empty() ? 1.0 : near[0].first / typical;
    return {sw > 0 ? st / sw : 0.0, std::max(opt_.min_sigma, m.sigma * std::sqrt(1 + d1 * d1))};
  }

  /// Stored neighbours: standardised features (rows from column 1 on) and target, one point per distinct layer —
  /// networks repeat layers (ResNet blocks), and a repeated layer's targets are averaged into one point.
  static std::vector<double> points_of(const std::vector<std::vector<double>>& rows, const std::vector<double>& t) {
    std::vector<double> pts;
    std::vector<int> copies;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      std::size_t p = 0;
      for (; p < copies.size(); ++p)
        if (std::equal(rows[i].begin() + 1, rows[i].end(), pts.begin() + static_cast<std::ptrdiff_t>(p * (F + 1))))
          break;
      if (p == copies.size()) {
        pts.insert(pts.end(), rows[i].begin() + 1, rows[i].end());
        pts.push_back(0.0);
        copies.push_back(0);
      }
      double& mean_t = pts[p * (F + 1) + F];
      mean_t += (t[i] - mean_t) / ++copies[p];
    }
    return pts;
  }

  /// Median distance from a training row (standardised features from column 1 on) to its nearest other, distinct
  /// row. Distinct: networks repeat layers (ResNet blocks), and duplicates at distance 0 would make it 0.
  static double typical_distance(const std::vector<std::vector<double>>& rows) {
    std::vector<double> nearest;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      double best = 1e300;
      for (std::size_t q = 0; q < rows.size(); ++q) {
        if (q == i) continue;
        double d2 = 0;
        for (std::size_t j = 1; j < rows[i].size(); ++j) d2 += (rows[q][j] - rows[i][j]) * (rows[q][j] - rows[i][j]);
        if (d2 > 1e-18) best = std::min(best, std::sqrt(d2));
      }
      if (best < 1e300) nearest.push_back(best);
    }
    if (nearest.empty()) return 1.0;
    std::nth_element(nearest.begin(), nearest.begin() + static_cast<std::ptrdiff_t>(nearest.size() / 2), nearest.end());
    return nearest[nearest.size() / 2];
  }

  double cov_at(const Model& m, std::size_t i, std::size_t j) const {
    if (i > j) std::swap(i, j);
    return m.cov[i * (F + 1) - i * (i - 1) / 2 + (j - i)];  // row i of the upper triangle starts here
  }

  /// Inverse of a symmetric positive definite matrix (row-major, n x n) by Cholesky: the ridge system is
  /// (features + 1)^2, small enough that plain loops beat pulling a linear-algebra library into the header.
  static std::vector<double> spd_inverse(std::vector<double> a, std::size_t n) {
    for (std::size_t j = 0; j < n; ++j) {  // a = L L^T, L stored in the lower triangle
      double d = a[j * n + j];
      for (std::size_t k = 0; k < j; ++k) d -= a[j * n + k] * a[j * n + k];
      a[j * n + j] = std::sqrt(std::max(d, 1e-300));
      for (std::size_t i = j + 1; i < n; ++i) {
        double v = a[i * n + j];
        for (std::size_t k = 0; k < j; ++k) v -= a[i * n + k] * a[j * n + k];
        a[i * n + j] = v / a[j * n + j];
      }
    }
    std::vector<double> inv(n * n);
    for (std::size_t c = 0; c < n; ++c) {  // solve L L^T x = e_c
      std::vector<double> x(n, 0.0);
      for (std::size_t i = 0; i < n; ++i) {
        double v = i == c ? 1.0 : 0.0;
        for (std::size_t k = 0; k < i; ++k) v -= a[i * n + k] * x[k];
        x[i] = v / a[i * n + i];
      }
      for (std::size_t i = n; i-- > 0;) {
        double v = x[i];
        for (std::size_t k = i + 1; k < n; ++k) v -= a[k * n + i] * x[k];
        x[i] = v / a[i * n + i];
      }
      for (std::size_t i = 0; i < n; ++i) inv[i * n + c] = x[i];
    }
    return inv;
  }

  Model fit(std::string name, const std::vector<const Sample*>& group) {
    Model m;
    m.name = std::move(name);
    m.count = static_cast<int>(group.size());
    const std::size_t n = group.size(), P = F + 1;
    // Rows of [1, standardised features] and targets log(ms / proxy).
    std::vector<std::vector<double>> rows(n, std::vector<double>(P, 1.0));
    std::vector<double> y(n);
    for (std::size_t i = 0; i < n; ++i) {
      const Sample& s = *group[i];
      const LayerFeatures f = layer_features(s.desc, s.primitive, s.threads, dtype_of(s.primitive));
      std::copy(f.begin(), f.end(), rows[i].begin() + 1);
      y[i] = std::log(s.ms) - f[f_log_proxy];
    }
    m.mean.assign(F, 0.0), m.scale.assign(F, 1.0);
    for (std::size_t j = 0; j < F; ++j) {
      double sum = 0, sq = 0;
      for (const auto& r : rows) sum += r[j + 1];
      m.mean[j] = sum / double(n);
      for (const auto& r : rows) sq += (r[j + 1] - m.mean[j]) * (r[j + 1] - m.mean[j]);
      const double sd = std::sqrt(sq / double(n));
      // A feature constant in training (e.g. threads) keeps unit scale: it then has no coefficient, but a new
      // value still shows up as leverage (ridge) or distance (knn), i.e. as uncertainty.
      m.scale[j] = sd > 1e-9 ? sd : 1.0;
      for (auto& r : rows) r[j + 1] = (r[j + 1] - m.mean[j]) / m.scale[j];
    }
    if (opt_.kind != PredictorKind::knn) {
      std::vector<double> M(P * P, 0.0), Aty(P, 0.0);
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t a = 0; a < P; ++a) {
          Aty[a] += rows[i][a] * y[i];
          for (std::size_t b = 0; b < P; ++b) M[a * P + b] += rows[i][a] * rows[i][b];
        }
      const std::vector<double> AtA = M;
      for (std::size_t j = 1; j < P; ++j) M[j * P + j] += opt_.lambda;  // the intercept stays unpenalised
      const std::vector<double> Minv = spd_inverse(M, P);
      m.coef.assign(P, 0.0);
      for (std::size_t a = 0; a < P; ++a)
        for (std::size_t b = 0; b < P; ++b) m.coef[a] += Minv[a * P + b] * Aty[b];
      double rss = 0, dof = 0;  // dof: effective parameters, trace(Minv A'A)
      for (std::size_t i = 0; i < n; ++i) {
        double e = -y[i];
        for (std::size_t a = 0; a < P; ++a) e += m.coef[a] * rows[i][a];
        rss += e * e;
      }
      for (std::size_t a = 0; a < P; ++a)
        for (std::size_t b = 0; b < P; ++b) dof += Minv[a * P + b] * AtA[b * P + a];
      m.sigma = blend_sigma(rss, double(n) - dof);
      for (std::size_t i = 0; i < P; ++i)
        for (std::size_t j = i; j < P; ++j) m.cov.push_back(Minv[i * P + j]);
      // Neighbours carry ridge's (in-sample) residuals. The generic model stays plain ridge: it answers unseen
      // primitives, for which no neighbour is of the same primitive anyway (and it halves the file).
      if (opt_.kind == PredictorKind::ridge_knn) {
        std::vector<double> r(n);
        for (std::size_t i = 0; i < n; ++i) {
          r[i] = y[i];
          for (std::size_t a = 0; a < P; ++a) r[i] -= m.coef[a] * rows[i][a];
        }
        if (m.name != generic_name) m.points = points_of(rows, r);
        m.coef.push_back(typical_distance(rows));
      }
    } else {
      m.points = points_of(rows, y);
      // Leave-one-out over the stored points: each predicted from the others gives the error spread.
      m.coef = {typical_distance(rows)};
      const std::size_t np = m.points.size() / P;
      double sum_sq = 0;
      if (np >= 2) {
        Model loo = m;
        loo.sigma = 1;
        for (std::size_t i = 0; i < np; ++i) {
          loo.points = m.points;
          const auto at = loo.points.begin() + static_cast<std::ptrdiff_t>(i * P);
          loo.points.erase(at, at + static_cast<std::ptrdiff_t>(P));
          LayerFeatures f{};
          for (std::size_t j = 0; j < F; ++j) f[j] = m.points[i * P + j] * m.scale[j] + m.mean[j];
          const double e = evaluate(loo, f).first - m.points[i * P + F];
          sum_sq += e * e;
        }
      }
      m.sigma = blend_sigma(sum_sq, np >= 2 ? double(np) : 0.0);
    }
    if (m.name != generic_name) max_known_sigma_ = std::max(max_known_sigma_, m.sigma);
    return m;
  }

  // ---- flat numeric form, shared by serialize(), parse() and the embedded tables ----
  // header: kind, features, lambda, k, min_sigma, cal_a, cal_b, cal_sigma
  // model:  count, sigma, offset, slope (version >= 2), |coef|, |cov|, |points|, mean (F), scale (F), coef, cov, points
  std::vector<double> header_numbers() const {
    return {double(static_cast<int>(opt_.kind)),
            double(F),
            opt_.lambda,
            double(opt_.k),
            opt_.min_sigma,
            cal_a_,
            cal_b_,
            cal_sigma_};
  }
  static std::vector<double> model_numbers(const Model& m) {
    std::vector<double> v{
        double(m.count),        m.sigma, m.offset, m.slope, double(m.coef.size()), double(m.cov.size()),
        double(m.points.size())};
    for (const auto* part : {&m.mean, &m.scale, &m.coef, &m.cov, &m.points})
      v.insert(v.end(), part->begin(), part->end());
    return v;
  }
  static std::string number(double x) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.17g", x);
    return buf;
  }
  static std::string numbers_text(const std::vector<double>& v) {
    std::string s = " " + std::to_string(v.size());
    for (double x : v) s += " " + number(x);
    return s;
  }

  static Expected<LatencyPredictor> decode(int version, std::span<const double> h, std::span<const EmbeddedModel> ms) {
    auto bad = [](const std::string& why) { return Error(ErrorCode::invalid_argument, "latency predictor: " + why); };
    if (version != 1 && version != format_version)
      return bad("version " + std::to_string(version) + ", this build reads versions 1 to " +
                 std::to_string(format_version));
    const std::size_t x = version >= 2 ? 1 : 0, head = 6 + x;  // version 1 has no calibration slope
    if (h.size() != 8) return bad("header has " + std::to_string(h.size()) + " numbers, expected 8");
    if (h[0] != 0 && h[0] != 1 && h[0] != 2) return bad("unknown predictor kind " + number(h[0]));
    if (h[1] != double(F))
      return bad("trained with " + number(h[1]) + " features, this build computes " + std::to_string(F));
    if (!(h[2] > 0) || !(h[3] >= 1 && h[3] <= 1e6) || !(h[4] > 0) || !(h[7] >= 0))
      return bad("header options out of range");
    LatencyPredictor p;
    p.opt_ = {static_cast<PredictorKind>(int(h[0])), h[2], int(h[3]), h[4]};
    p.cal_a_ = h[5], p.cal_b_ = h[6], p.cal_sigma_ = h[7];
    bool generic = false;
    for (const EmbeddedModel& e : ms) {
      const std::string where = "model '" + std::string(e.name) + "': ";
      const std::span<const double> v = e.numbers;
      if (v.size() < head) return bad(where + "truncated");
      Model m;
      m.name = std::string(e.name);
      const double count = v[0], ncoef = v[3 + x], ncov = v[4 + x], npoints = v[5 + x];
      for (double c : {count, ncoef, ncov, npoints})
        if (!(c >= 0 && c <= 1e8 && c == std::floor(c))) return bad(where + "sizes are not counts");
      m.count = int(count), m.sigma = v[1], m.offset = v[2], m.slope = x ? v[3] : 0.0;
      const PredictorKind kind = p.opt_.kind;
      const bool linear = kind != PredictorKind::knn, local = kind != PredictorKind::ridge;
      const double want_coef = kind == PredictorKind::ridge ? F + 1 : kind == PredictorKind::knn ? 1 : F + 2;
      const double want_cov = linear ? (F + 1) * (F + 2) / 2 : 0;
      // Points: one per distinct training layer (at most count); ridge_knn's generic model has none.
      const bool points_ok = !local ? npoints == 0
                                    : std::fmod(npoints, double(F + 1)) == 0 && npoints <= count * (F + 1) &&
                                          (npoints > 0 || (kind == PredictorKind::ridge_knn && e.name == generic_name));
      if (m.count < 1 || ncoef != want_coef || ncov != want_cov || !points_ok)
        return bad(where + "sizes disagree with a " + std::string(to_string(kind)) + " model of " + std::to_string(F) +
                   " features");
      if (v.size() != head + 2 * F + std::size_t(ncoef + ncov + npoints))
        return bad(where + "has " + std::to_string(v.size()) + " numbers, its sizes say " +
                   std::to_string(head + 2 * F + std::size_t(ncoef + ncov + npoints)));
      if (!(m.sigma > 0)) return bad(where + "uncertainty must be positive");
      // calibrate() keeps b + slope within [0.5, 2] and b within [0.5, 2]
      if (!std::isfinite(m.offset) || !(std::abs(m.slope) <= 1.5)) return bad(where + "calibration out of range");
      auto take = [&, at = head](std::vector<double>& out, std::size_t k) mutable {
        out.assign(v.begin() + static_cast<std::ptrdiff_t>(at), v.begin() + static_cast<std::ptrdiff_t>(at + k));
        at += k;
      };
      take(m.mean, F), take(m.scale, F), take(m.coef, std::size_t(ncoef)), take(m.cov, std::size_t(ncov));
      take(m.points, std::size_t(npoints));
      for (double s : m.scale)
        if (!(s > 0)) return bad(where + "feature scales must be positive");
      if (m.name == generic_name) {
        if (generic) return bad("two generic models");
        generic = true;
        p.generic_ = std::move(m);
      } else {
        if (p.find(m.name)) return bad(where + "appears twice");
        p.max_known_sigma_ = std::max(p.max_known_sigma_, m.sigma);
        p.models_.push_back(std::move(m));
      }
    }
    if (!generic) return bad("the generic model '*' is missing (truncated?)");
    return p;
  }

  PredictorOptions opt_;
  std::vector<Model> models_;
  Model generic_;
  double max_known_sigma_ = 0;
  double cal_a_ = 0, cal_b_ = 1, cal_sigma_ = 0;  // calibrate()
};

}  // namespace primsel::predict
