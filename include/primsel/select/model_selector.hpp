// ModelSelector: several bound networks for the same task, ordered by measured cost, and a premodel that picks
// per input which one to run — a cheap network for easy inputs, a costly one only when needed. The premodel reads
// cheap input features (InputFeatures) and estimates, per network, the chance it answers right (KnnPremodel, a
// cascade of kNN classifiers trained offline from a labelled set); SelectPolicy turns the estimates into a choice.
// Source: Taylor et al., "Adaptive deep learning model selection on embedded systems" (LCTES 2018).
//
//   std::vector<ModelSelector<>::Entry> nets;                      // bound Network<>s, any order
//   nets.push_back({"tiny", std::move(tiny)});  nets.push_back({"large", std::move(large)});
//   auto sel = ModelSelector<>::create(std::move(nets)).value();   // measures each network's run time
//   sel.train(val.images, val.labels).value();                     // runs every network on every input
//   sel.save_premodel("digits.premodel").value();                  // ... or load_premodel() next time
//   auto r = sel.run(image).value();                                // r.model ran; r.outputs are its outputs
//   sel.fit_cost_aware(val.images, val.labels).value();            // cheapest rule within 0.5 points (threshold_search.hpp)
//   std::printf("%s (premodel %.3f ms)\n", sel.name(r.model).c_str(), sel.premodel_ms());
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "primsel/core/random.hpp"
#include "primsel/runtime/measure.hpp"
#include "primsel/runtime/network.hpp"
#include "primsel/search/qlearning.hpp"
#include "primsel/select/input_features.hpp"
#include "primsel/select/knn_premodel.hpp"
#include "primsel/select/select_policy.hpp"
#include "primsel/select/threshold_search.hpp"

namespace primsel::select {

/// The feature-set tag premodel files carry; a file made with other features is refused.
inline std::string input_features_tag() { return "input-features-" + std::to_string(InputFeatures::version); }

/// How train() builds the premodel.
struct PremodelOptions {
  /// Neighbours the kNN consults; 0: chosen by leave-one-out on the training inputs — each input's choice is made
  /// from the other inputs' neighbours under the selector's policy — as the k with the lowest mean model time
  /// among those whose accuracy is within `slack` of the most accurate k's. (Against the best single network
  /// instead, the rule would chase a network that is right on every validation input: 100 % is no target.)
  int k = 0;
  double slack = 0.005;
  std::vector<int> k_candidates{1, 3, 5, 7, 9, 11, 15, 21, 31, 45, 63};
};

/// What the leave-one-out evaluation of one k found on the training inputs.
struct KTrial {
  int k = 0;
  double accuracy = 0;  ///< fraction of inputs whose chosen network was right
  double model_ms = 0;  ///< mean measured time of the chosen networks (without the premodel)
};

/// How fit_cost_aware() chooses its rule.
struct CostAwareOptions {
  /// Allowed accuracy loss against the most accurate single network on the fitting inputs (0.005: half a point).
  double margin = 0.005;
  /// The premodel's k values tried (each with its own thresholds); those not below the number of inputs are skipped.
  std::vector<int> k_candidates{1, 3, 5, 7, 9, 11, 15, 21, 31, 45, 63};
  /// Also try the cascade on the networks' own confidence (top softmax probability), which needs no premodel.
  bool self_confidence = true;
  ThresholdOptions search{};
};

/// One rule fit_cost_aware() weighed: premodel thresholds for one k, or the self-confidence cascade (k 0).
struct CostAwareTrial {
  CascadeKind kind = CascadeKind::premodel;
  int k = 0;
  ThresholdPlan plan;
};

/// The top softmax probability of `logits` (1 for one class, 0 when a value is NaN): how sure a classifier is.
inline float top1_confidence(std::span<const float> logits) noexcept {
  if (logits.empty()) return 0.0f;
  const float top = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (float v : logits) sum += std::exp(static_cast<double>(v - top));
  const double c = 1.0 / sum;
  return c == c ? static_cast<float>(c) : 0.0f;
}

template <Searcher S = QLearning<>, class Primitives = DefaultConvPrimitives>
class ModelSelector {
 public:
  using Net = Network<S, Primitives>;
  /// A bound network (Network<S, Primitives>) and the name premodel files know it by.
  struct Entry {
    std::string name;
    Net net;
  };
  struct Options {
    /// How each network's run time is measured (median over runs on a zero input of the right shape).
    MeasureOptions measure{.warmup = 3, .min_runs = 21, .max_runs = 201, .spread = 0.05, .cap_ms = 300.0};
    SelectPolicy policy = SelectPolicy::accuracy_first();
  };
  /// What run() returns: the index of the network that ran (cost order) and its outputs, owned by the selector
  /// and valid until the next run().
  struct Selection {
    std::size_t model = 0;
    std::span<const Tensor> outputs;
  };

  /// Takes bound networks with one input each, all of the same shape; measures each one's run time and orders them
  /// cheapest first (a stable sort: equal costs keep the given order).
  static Expected<ModelSelector> create(std::vector<Entry> nets, const Options& o = {}) {
    PRIMSEL_CHECK(!nets.empty(), ErrorCode::invalid_argument, "a model selector needs at least one network");
    PRIMSEL_CHECK(nets.size() <= KnnPremodel::max_models, ErrorCode::invalid_argument,
                  "a model selector takes at most " + std::to_string(KnnPremodel::max_models) + " networks");
    ModelSelector s;
    s.options_ = o;
    const Graph& g0 = nets[0].net.graph();
    PRIMSEL_CHECK(g0.inputs().size() == 1, ErrorCode::invalid_argument,
                  "network '" + nets[0].name + "' has " + std::to_string(g0.inputs().size()) + " inputs; a selector's networks take one");
    s.input_shape_ = g0.value(g0.inputs()[0]).shape;
    std::vector<double> ms;
    for (Entry& e : nets) {
      const Graph& g = e.net.graph();
      PRIMSEL_CHECK(e.net.bound(), ErrorCode::invalid_argument, "network '" + e.name + "' is not bound: call bind() first");
      PRIMSEL_CHECK(g.inputs().size() == 1 && g.value(g.inputs()[0]).shape == s.input_shape_, ErrorCode::shape_mismatch,
                    "network '" + e.name + "' does not take one " + to_string(s.input_shape_) + " input like '" + nets[0].name + "'");
      for (const Entry& other : nets)
        PRIMSEL_CHECK(&other == &e || other.name != e.name, ErrorCode::invalid_argument, "two networks are named '" + e.name + "'");
    }
    PRIMSEL_ASSIGN_OR_RETURN(Tensor zero, Tensor::create(s.input_shape_));
    for (Entry& e : nets) {
      std::vector<Tensor> outs;
      for (ValueId v : e.net.graph().outputs()) {
        PRIMSEL_ASSIGN_OR_RETURN(Tensor t, Tensor::create(e.net.graph().value(v).shape));
        outs.push_back(std::move(t));
      }
      s.models_.push_back({std::move(e.name), std::move(e.net), 0.0, std::move(outs), {}});
      Model& m = s.models_.back();
      for (Tensor& t : m.outputs) m.views.push_back(t.view());
      const ConstTensorView in = zero.view();
      Status status;
      m.ms = median_ms([&] { status = m.net.run(std::span<const ConstTensorView>(&in, 1), m.views); }, o.measure);
      PRIMSEL_RETURN_IF_ERROR(status);
    }
    std::stable_sort(s.models_.begin(), s.models_.end(), [](const Model& a, const Model& b) { return a.ms < b.ms; });
    for (const Model& m : s.models_) s.ms_.push_back(m.ms);
    s.estimate_.assign(s.models_.size(), 0.0f);
    return s;
  }

  std::size_t size() const noexcept { return models_.size(); }
  const std::string& name(std::size_t i) const noexcept { return models_[i].name; }
  /// Measured run time of network i (ms, median); networks are ordered by it.
  double model_ms(std::size_t i) const noexcept { return models_[i].ms; }
  Net& network(std::size_t i) noexcept { return models_[i].net; }
  const Shape& input_shape() const noexcept { return input_shape_; }
  const KnnPremodel& premodel() const noexcept { return premodel_; }
  /// Measured cost of the premodel per input (features + kNN), in ms; 0 before train() or load_premodel().
  double premodel_ms() const noexcept { return premodel_ms_; }
  const SelectPolicy& policy() const noexcept { return options_.policy; }
  void set_policy(const SelectPolicy& p) noexcept { options_.policy = p; }

  /// Runs every network on every input: result[i * size() + j] is 1 when network j's first output has its
  /// largest value at index labels[i] (top-1 classification).
  Expected<std::vector<std::uint8_t>> correctness(std::span<const Tensor> inputs, std::span<const int> labels) {
    return correctness(inputs, labels, nullptr);
  }
  /// The same, also writing each network's top1_confidence() on each input into `confidence` (same layout).
  Expected<std::vector<std::uint8_t>> correctness(std::span<const Tensor> inputs, std::span<const int> labels,
                                                  std::vector<float>* confidence) {
    PRIMSEL_CHECK(inputs.size() == labels.size(), ErrorCode::invalid_argument,
                  std::to_string(inputs.size()) + " inputs but " + std::to_string(labels.size()) + " labels");
    std::vector<std::uint8_t> right(inputs.size() * models_.size());
    if (confidence) confidence->assign(right.size(), 0.0f);
    for (std::size_t i = 0; i < inputs.size(); ++i)
      for (std::size_t j = 0; j < models_.size(); ++j) {
        PRIMSEL_RETURN_IF_ERROR(run_model(j, inputs[i]));
        right[i * models_.size() + j] = argmax(models_[j].outputs[0]) == labels[i];
        if (confidence) (*confidence)[i * models_.size() + j] = top1_confidence(models_[j].outputs[0].floats());
      }
    return right;
  }

  /// The cost-aware rule: on labelled inputs — the ones the premodel was trained on, in the same order (its
  /// estimates for them are leave-one-out) — choose the rule that minimises the mean time per input, premodel and
  /// every network run included, subject to accuracy >= the most accurate single network's - `margin` on those
  /// inputs (search_thresholds()). Candidates: premodel thresholds for each k of `k_candidates`; the cascade on the
  /// networks' own confidence (run the cheapest, escalate while its top softmax probability is below its threshold);
  /// any network alone, without a premodel. The winner (lowest time; ties: more right, then the earlier candidate)
  /// drives select() and run() until use_cost_aware(false). Not stored in the premodel file: fit again after loading.
  Status fit_cost_aware(std::span<const Tensor> inputs, std::span<const int> labels, const CostAwareOptions& o = {}) {
    PRIMSEL_CHECK(premodel_.trained(), ErrorCode::invalid_argument,
                  "fit_cost_aware: the model selector has no premodel: train() or load_premodel() first");
    PRIMSEL_CHECK(inputs.size() == premodel_.samples(), ErrorCode::invalid_argument,
                  "fit_cost_aware: " + std::to_string(inputs.size()) + " inputs, but the premodel was trained on " +
                      std::to_string(premodel_.samples()) + "; pass the premodel's training inputs");
    std::vector<float> confidence;
    PRIMSEL_ASSIGN_OR_RETURN(const std::vector<std::uint8_t> right, correctness(inputs, labels, &confidence));
    const std::size_t n = inputs.size(), m = models_.size();
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < m; ++j)
        PRIMSEL_CHECK((right[i * m + j] != 0) == premodel_.correct(i, j), ErrorCode::invalid_argument,
                      "fit_cost_aware: input " + std::to_string(i) + " is not the premodel's training input " + std::to_string(i) +
                          " (network '" + models_[j].name + "' disagrees on it); pass the premodel's training inputs in order");
    cost_trials_.clear();
    std::vector<float> score(n * m);
    for (int k : o.k_candidates) {
      if (k < 1 || k > KnnPremodel::max_k || static_cast<std::size_t>(k) >= n) continue;
      for (std::size_t i = 0; i < n; ++i) premodel_.estimate_stored(i, std::span<float>(score.data() + i * m, m), k);
      PRIMSEL_ASSIGN_OR_RETURN(ThresholdPlan plan, search_thresholds({m, score, right, ms_, premodel_ms_, CascadeKind::premodel},
                                                                     with_margin(o)));
      cost_trials_.push_back({CascadeKind::premodel, k, std::move(plan)});
    }
    if (o.self_confidence) {
      PRIMSEL_ASSIGN_OR_RETURN(ThresholdPlan plan, search_thresholds({m, confidence, right, ms_, 0.0, CascadeKind::self_confidence},
                                                                     with_margin(o)));
      cost_trials_.push_back({CascadeKind::self_confidence, 0, std::move(plan)});
    }
    PRIMSEL_CHECK(!cost_trials_.empty(), ErrorCode::invalid_argument,
                  "fit_cost_aware: no candidate k below the " + std::to_string(n) + " inputs and self_confidence off");
    const CostAwareTrial* best = &cost_trials_[0];
    for (const CostAwareTrial& t : cost_trials_)
      if (t.plan.mean_ms < best->plan.mean_ms || (t.plan.mean_ms == best->plan.mean_ms && t.plan.accuracy > best->plan.accuracy)) best = &t;
    cost_aware_ = *best;
    cost_aware_on_ = true;
    return {};
  }

  /// The rule fit_cost_aware() chose, and every candidate it weighed (empty before).
  const CostAwareTrial& cost_aware() const noexcept { return cost_aware_; }
  const std::vector<CostAwareTrial>& cost_aware_trials() const noexcept { return cost_trials_; }
  bool cost_aware_active() const noexcept { return cost_aware_on_; }
  /// Switches between the cost-aware rule (after fit_cost_aware()) and the SelectPolicy cascade.
  Status use_cost_aware(bool on) {
    PRIMSEL_CHECK(!on || !cost_trials_.empty(), ErrorCode::invalid_argument, "no cost-aware rule: fit_cost_aware() first");
    cost_aware_on_ = on;
    return {};
  }

  /// Trains the premodel on labelled inputs: which networks classify each one right (top-1), and its features.
  /// Use inputs the networks were not trained on, or the premodel learns that every network is always right.
  Status train(std::span<const Tensor> inputs, std::span<const int> labels, const PremodelOptions& o = {}) {
    PRIMSEL_ASSIGN_OR_RETURN(const std::vector<std::uint8_t> right, correctness(inputs, labels));
    return train_from(inputs, right, o);
  }

  /// Trains the premodel from a correctness matrix (inputs x networks in this selector's order; nonzero = right):
  /// for tasks other than top-1 classification, or correctness computed once and reused.
  Status train_from(std::span<const Tensor> inputs, std::span<const std::uint8_t> right, const PremodelOptions& o = {}) {
    std::vector<float> features(inputs.size() * InputFeatures::count);
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      PRIMSEL_RETURN_IF_ERROR(check_input(inputs[i].view()));
      InputFeatures::extract(inputs[i].view(), std::span<float, InputFeatures::count>(features.data() + i * InputFeatures::count,
                                                                                     InputFeatures::count));
    }
    std::vector<std::string> names;
    for (const Model& m : models_) names.push_back(m.name);
    PRIMSEL_CHECK(o.k > 0 || !o.k_candidates.empty(), ErrorCode::invalid_argument, "no k to choose from");
    PRIMSEL_ASSIGN_OR_RETURN(premodel_, KnnPremodel::train(features, InputFeatures::count, right, std::move(names),
                                                           input_features_tag(), {.k = o.k > 0 ? o.k : o.k_candidates[0]}));
    k_trials_.clear();
    forget_cost_aware();  // its thresholds were fitted to the old premodel's estimates
    if (o.k == 0) PRIMSEL_RETURN_IF_ERROR(choose_k(o));
    measure_premodel();
    return {};
  }

  /// The leave-one-out results behind the automatic choice of k (empty when k was given).
  const std::vector<KTrial>& k_trials() const noexcept { return k_trials_; }

  Status save_premodel(const std::string& path) const { return premodel_.save(path); }

  /// Loads a premodel file written by save_premodel() for networks of the same names (in any cost order).
  Status load_premodel(const std::string& path) {
    PRIMSEL_ASSIGN_OR_RETURN(KnnPremodel pm, KnnPremodel::load(path));
    PRIMSEL_CHECK(pm.feature_set() == input_features_tag() && pm.dims() == InputFeatures::count, ErrorCode::invalid_model,
                  "premodel '" + path + "' uses features '" + pm.feature_set() + "' (" + std::to_string(pm.dims()) +
                      "), this selector computes '" + input_features_tag() + "' (" + std::to_string(InputFeatures::count) + ")");
    std::vector<std::string> names;
    for (const Model& m : models_) names.push_back(m.name);
    if (Status s = pm.reorder(names); !s) return Error(ErrorCode::invalid_model, "premodel '" + path + "': " + s.error().message());
    premodel_ = std::move(pm);
    forget_cost_aware();
    measure_premodel();
    return {};
  }

  /// Which network the policy (or the active cost-aware rule) picks for `input` (cost order index). No allocation.
  /// The self-confidence cascade can only tell by running the networks: select() then runs them too.
  Expected<std::size_t> select(const ConstTensorView& input) {
    PRIMSEL_CHECK(premodel_.trained(), ErrorCode::invalid_argument, "the model selector has no premodel: train() or load_premodel() first");
    PRIMSEL_RETURN_IF_ERROR(check_input(input));
    if (cost_aware_on_) {
      const ThresholdPlan& plan = cost_aware_.plan;
      if (!plan.scores_used) return plan.alone;
      if (cost_aware_.kind == CascadeKind::self_confidence) return climb(input);
      InputFeatures::extract(input, features_);
      premodel_.estimate(features_, estimate_, cost_aware_.k);
      return choose_by_thresholds(estimate_, plan.thresholds);
    }
    return choose(input);
  }

  /// Picks a network for `input` and runs it. No allocation: outputs live in the selector.
  Expected<Selection> run(const ConstTensorView& input) {
    const bool climbs = cost_aware_on_ && cost_aware_.plan.scores_used && cost_aware_.kind == CascadeKind::self_confidence;
    PRIMSEL_ASSIGN_OR_RETURN(const std::size_t j, select(input));
    if (!climbs) PRIMSEL_RETURN_IF_ERROR(models_[j].net.run(std::span<const ConstTensorView>(&input, 1), models_[j].views));
    return Selection{j, models_[j].outputs};
  }

  /// Runs network j (cost order) on `input`, bypassing the premodel: for baselines. Outputs as in run().
  Expected<std::span<const Tensor>> run_model(std::size_t j, const ConstTensorView& input) {
    PRIMSEL_CHECK(j < models_.size(), ErrorCode::invalid_argument,
                  "no network " + std::to_string(j) + " (the selector has " + std::to_string(models_.size()) + ")");
    PRIMSEL_RETURN_IF_ERROR(models_[j].net.run(std::span<const ConstTensorView>(&input, 1), models_[j].views));
    return std::span<const Tensor>(models_[j].outputs);
  }

 private:
  struct Model {
    std::string name;
    Net net;
    double ms = 0;
    std::vector<Tensor> outputs;
    std::vector<TensorView> views;
  };

  ModelSelector() = default;

  Status check_input(const ConstTensorView& x) const {
    PRIMSEL_CHECK(x.shape() == input_shape_ && x.format() == Format{}, ErrorCode::shape_mismatch,
                  "the selector's networks take " + to_string(input_shape_) + " nchw/f32, got " + to_string(x.shape()) + " " +
                      to_string(x.format()));
    const std::string why = InputFeatures::check(x);
    PRIMSEL_CHECK(why.empty(), ErrorCode::unsupported, why);
    return {};
  }

  /// The self-confidence cascade: run the networks not skipped (threshold +inf), cheapest first, until one is
  /// confident enough; the last one run answers otherwise.
  Expected<std::size_t> climb(const ConstTensorView& x) {
    const std::vector<float>& t = cost_aware_.plan.thresholds;
    std::size_t last = models_.size() - 1;
    while (last > 0 && t[last] == std::numeric_limits<float>::infinity()) --last;
    for (std::size_t j = 0; j <= last; ++j) {
      if (t[j] == std::numeric_limits<float>::infinity()) continue;
      PRIMSEL_RETURN_IF_ERROR(models_[j].net.run(std::span<const ConstTensorView>(&x, 1), models_[j].views));
      if (j == last || top1_confidence(models_[j].outputs[0].floats()) >= t[j]) return j;
    }
    return last;
  }

  void forget_cost_aware() noexcept {
    cost_trials_.clear();
    cost_aware_ = {};
    cost_aware_on_ = false;
  }

  static ThresholdOptions with_margin(const CostAwareOptions& o) {
    ThresholdOptions t = o.search;
    t.margin = o.margin;
    return t;
  }

  std::size_t choose(const ConstTensorView& x) noexcept {
    InputFeatures::extract(x, features_);
    premodel_.estimate(features_, estimate_);
    return choose_model(estimate_, ms_, premodel_ms_, options_.policy);
  }

  /// Leave-one-out on the premodel's own samples for every candidate k; keeps the rule's winner (PremodelOptions).
  Status choose_k(const PremodelOptions& o) {
    const std::size_t n = premodel_.samples();
    for (int k : o.k_candidates) {
      if (k < 1 || k > KnnPremodel::max_k || static_cast<std::size_t>(k) >= n) continue;
      PRIMSEL_RETURN_IF_ERROR(premodel_.set_k(k));
      KTrial t{k, 0, 0};
      for (std::size_t i = 0; i < n; ++i) {
        premodel_.estimate_stored(i, estimate_);
        const std::size_t j = choose_model(estimate_, ms_, premodel_ms_, options_.policy);
        t.accuracy += premodel_.correct(i, j), t.model_ms += ms_[j];
      }
      t.accuracy /= static_cast<double>(n), t.model_ms /= static_cast<double>(n);
      k_trials_.push_back(t);
    }
    PRIMSEL_CHECK(!k_trials_.empty(), ErrorCode::invalid_argument,
                  "no candidate k below the " + std::to_string(n) + " training inputs");
    double most = 0;
    for (const KTrial& t : k_trials_) most = std::max(most, t.accuracy);
    const KTrial* best = nullptr;
    for (const KTrial& t : k_trials_)
      if (t.accuracy >= most - o.slack && (!best || t.model_ms < best->model_ms)) best = &t;
    return premodel_.set_k(best->k);
  }

  /// The premodel's cost: features + kNN + cascade, on a random input (the work does not depend on the data).
  void measure_premodel() {
    Tensor x(input_shape_);
    Rng rng(1);
    for (float& f : x.floats()) f = static_cast<float>(rng.uniform());
    premodel_ms_ = median_ms([&] { (void)choose(x.view()); }, options_.measure);  // choose() writes members: not elided
  }

  static int argmax(const Tensor& t) {
    const auto v = t.floats();
    return v.empty() ? -1 : static_cast<int>(std::max_element(v.begin(), v.end()) - v.begin());
  }

  Options options_;
  Shape input_shape_;
  std::vector<Model> models_;
  std::vector<double> ms_;
  KnnPremodel premodel_;
  double premodel_ms_ = 0;
  std::vector<KTrial> k_trials_;
  CostAwareTrial cost_aware_;
  std::vector<CostAwareTrial> cost_trials_;
  bool cost_aware_on_ = false;
  std::array<float, InputFeatures::count> features_{};
  std::vector<float> estimate_;
};

}  // namespace primsel::select
