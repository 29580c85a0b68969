// Cost-aware cascade thresholds: given, on a labelled validation set, a score per (input, model) — higher means
// more likely right — which models are right, and each model's measured cost, choose per-model thresholds t[j]
// (models cheapest first; an input goes to the first model j with score >= t[j]; the last model takes the rest)
// that minimise the mean cost per input subject to accuracy >= the best single model's accuracy - margin.
// Exact branch and bound over the thresholds (the cost and oracle-accuracy bounds prune); each model run alone,
// without computing any score, is a candidate too. Deterministic: same problem, same plan. A rule that meets the
// bar exactly on the fitting inputs may not on new ones, so by default the fitting margin is tightened until
// 5-fold cross-validation, with 1.645 standard errors to spare (one-sided 95 %), still meets it (ThresholdOptions::folds, guard_z).
//
//   auto plan = search_thresholds({.models = 3, .score = s, .right = r, .model_ms = ms, .score_ms = 0.004,
//                                  .kind = CascadeKind::premodel}, {.margin = 0.005}).value();
//   plan.scores_used ? choose_by_thresholds(scores_of(x), plan.thresholds) : plan.alone
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <span>
#include <string>
#include <vector>

#include "primsel/core/error.hpp"

namespace primsel::select {

/// Where the scores come from, which decides what an input costs.
enum class CascadeKind {
  /// A premodel scores every model before any runs (KnnPremodel's estimates): an input costs the premodel
  /// (`score_ms`) plus the one model chosen.
  premodel,
  /// Each model scores its own answer after running (e.g. its top softmax probability): an input costs every
  /// model run on the way up to the one that accepts it. A model with threshold +inf is skipped, not run.
  self_confidence,
};

struct ThresholdProblem {
  std::size_t models = 0;                ///< m, ordered cheapest first
  std::span<const float> score;          ///< n x m, row-major: how sure model j is right on input i (not NaN)
  std::span<const std::uint8_t> right;   ///< n x m, row-major: nonzero when model j is right on input i
  std::span<const double> model_ms;      ///< m measured costs, ms per input
  double score_ms = 0;                   ///< cost of computing one input's scores (the premodel), ms
  CascadeKind kind = CascadeKind::premodel;
};

struct ThresholdOptions {
  /// Allowed accuracy loss against the most accurate single model, as a fraction (0.005: half a point).
  double margin = 0.005;
  /// Distinct threshold values tried per model; more distinct scores are thinned to evenly spaced ones (by rank).
  /// kNN estimates have at most k + 1 distinct values, so this matters for continuous scores only.
  std::size_t max_levels = 64;
  /// Search nodes before giving up on proving optimality (the plan is then the best found; `exhaustive` false).
  std::size_t max_nodes = 20'000'000;
  /// Guard against thresholds that fit the inputs' few errors too closely: with folds >= 2, the rule is fitted
  /// with the loosest margin (from `margin` down to 0, one input at a time, at most 33 steps) whose thresholds, fitted on all folds
  /// but one and applied to that one (input i is in fold i % folds), still meet the bar over all inputs.
  /// 0 or 1: fit with `margin` directly.
  std::size_t folds = 5;
  /// How sure the held-out check must be: the held-out loss against the best single model, b - c (b: inputs only
  /// it gets right, c: inputs only the rule gets right), plus guard_z paired standard errors sqrt(b + c)
  /// (McNemar's), must stay within margin x inputs. 0: the held-out loss alone. A few validation errors decide
  /// the thresholds, so 1.645 (one-sided 95 %, the default) keeps a rule that met the bar by luck from being chosen.
  double guard_z = 1.645;
};

/// The chosen rule and what it did on the problem's inputs.
struct ThresholdPlan {
  /// false: run model `alone` on every input and compute no score (cheaper than any cascade that meets the bar).
  bool scores_used = false;
  std::size_t alone = 0;
  /// Per model: the first model j with score >= thresholds[j] takes the input; +inf: never (and, for
  /// self-confidence, not run); the last is -inf.
  std::vector<float> thresholds;
  double accuracy = 0;            ///< fraction right on the problem's inputs
  double mean_ms = 0;             ///< mean cost per input, scores included
  double required_accuracy = 0;   ///< best single accuracy - margin (as a whole number of inputs)
  std::size_t best_single = 0;    ///< the most accurate single model (of equals, the cheapest)
  double best_single_accuracy = 0;
  bool exhaustive = true;         ///< the search proved the plan optimal (did not hit max_nodes)
  double fit_margin = 0;          ///< the margin the thresholds were fitted with (<= margin: see `folds`)
  double cv_accuracy = -1;        ///< pooled held-out accuracy at fit_margin (-1: no cross-validation)
};

/// The premodel rule: the first model whose score reaches its threshold; the last model otherwise.
inline std::size_t choose_by_thresholds(std::span<const float> score, std::span<const float> thresholds) noexcept {
  const std::size_t n = std::min(score.size(), thresholds.size());
  for (std::size_t j = 0; j + 1 < n; ++j)
    if (score[j] >= thresholds[j]) return j;
  return n == 0 ? 0 : n - 1;
}

namespace detail {

class ThresholdSearch {
 public:
  ThresholdSearch(const ThresholdProblem& p, const ThresholdOptions& o) : p_(p), o_(o) {
    n_ = p.score.size() / p.models;
    m_ = p.models;
    // suffix_[i * (m + 1) + j]: some model j.. is right on input i (the oracle from stage j on).
    suffix_.assign(n_ * (m_ + 1), 0);
    for (std::size_t i = 0; i < n_; ++i)
      for (std::size_t j = m_; j-- > 0;) suffix_[i * (m_ + 1) + j] = suffix_[i * (m_ + 1) + j + 1] | (p.right[i * m_ + j] != 0);
    min_after_.assign(m_ + 1, std::numeric_limits<double>::infinity());
    for (std::size_t j = m_; j-- > 0;) min_after_[j] = std::min(min_after_[j + 1], p.model_ms[j]);
    levels_.resize(m_);
    for (std::size_t j = 0; j + 1 < m_; ++j) {
      std::vector<float> v(n_);
      for (std::size_t i = 0; i < n_; ++i) v[i] = p.score[i * m_ + j];
      std::sort(v.begin(), v.end(), std::greater<>());
      v.erase(std::unique(v.begin(), v.end()), v.end());
      if (v.size() > o.max_levels) {  // evenly spaced by rank, always keeping the smallest (accept everything)
        std::vector<float> thin;
        for (std::size_t l = 1; l <= o.max_levels; ++l) thin.push_back(v[l * v.size() / o.max_levels - 1]);
        thin.erase(std::unique(thin.begin(), thin.end()), thin.end());
        v = std::move(thin);
      }
      levels_[j] = std::move(v);
    }
  }

  ThresholdPlan run() {
    ThresholdPlan plan;
    std::vector<std::size_t> right(m_, 0);
    for (std::size_t i = 0; i < n_; ++i)
      for (std::size_t j = 0; j < m_; ++j) right[j] += p_.right[i * m_ + j] != 0;
    std::size_t best = 0;
    for (std::size_t j = 1; j < m_; ++j)
      if (right[j] > right[best] || (right[j] == right[best] && p_.model_ms[j] < p_.model_ms[best])) best = j;
    // In whole inputs, so that "margin 0" means "as many right as the best model", free of rounding.
    const double slack = o_.margin * static_cast<double>(n_);
    required_ = static_cast<std::size_t>(std::max(0.0, std::ceil(static_cast<double>(right[best]) - slack - 1e-9)));
    plan.best_single = best;
    plan.best_single_accuracy = static_cast<double>(right[best]) / static_cast<double>(n_);
    plan.required_accuracy = static_cast<double>(required_) / static_cast<double>(n_);

    // The incumbent: the cheapest single model that meets the bar (the best one always does).
    for (std::size_t j = 0; j < m_; ++j) {
      const double cost = p_.model_ms[j] * static_cast<double>(n_);
      if (right[j] >= required_ && (!found_ || better(cost, right[j]))) {
        found_ = true, best_cost_ = cost, best_right_ = right[j], plan.alone = j;
      }
    }
    const std::size_t alone = plan.alone;
    std::vector<std::uint32_t> all(n_);
    std::iota(all.begin(), all.end(), 0u);
    current_.assign(m_, std::numeric_limits<float>::infinity());
    bool cascade = false;
    if (m_ > 1) {
      dfs(0, all, p_.score_ms * static_cast<double>(n_), 0);
      cascade = !best_thresholds_.empty();
    }
    plan.scores_used = cascade;
    plan.exhaustive = nodes_ <= o_.max_nodes;
    if (cascade) plan.thresholds = best_thresholds_;
    else {
      plan.alone = alone;
      plan.thresholds.assign(m_, std::numeric_limits<float>::infinity());
      plan.thresholds[alone] = -std::numeric_limits<float>::infinity();
    }
    plan.accuracy = static_cast<double>(best_right_) / static_cast<double>(n_);
    plan.mean_ms = best_cost_ / static_cast<double>(n_);
    return plan;
  }

 private:
  /// Lower cost wins; at equal cost, more inputs right. A later candidate must be strictly better (deterministic).
  bool better(double cost, std::size_t right) const { return cost < best_cost_ || (cost == best_cost_ && right > best_right_); }

  /// Stage j: `rest` are the inputs no earlier model took; `cost` and `got` (inputs right) so far.
  void dfs(std::size_t j, std::vector<std::uint32_t> rest, double cost, std::size_t got) {
    if (++nodes_ > o_.max_nodes) return;
    const std::size_t r = rest.size();
    if (r == 0 || j + 1 == m_) {  // the last model takes what is left (none left: later models are never reached)
      if (r > 0) {
        cost += p_.model_ms[j] * static_cast<double>(r);
        for (std::uint32_t i : rest) got += p_.right[i * m_ + j] != 0;
        current_[j] = -std::numeric_limits<float>::infinity();
      }
      if (got >= required_ && better(cost, got)) best_cost_ = cost, best_right_ = got, best_thresholds_ = current_;
      if (r > 0) current_[j] = std::numeric_limits<float>::infinity();
      return;
    }
    // The most confident first: a threshold takes a prefix.
    std::stable_sort(rest.begin(), rest.end(), [&](std::uint32_t a, std::uint32_t b) { return p_.score[a * m_ + j] > p_.score[b * m_ + j]; });
    const bool runs_all = p_.kind == CascadeKind::self_confidence;
    // Level +inf first: model j takes nothing (self-confidence: is not even run).
    std::size_t taken = 0, got_here = 0;
    for (std::size_t l = 0; l <= levels_[j].size(); ++l) {
      const float t = l == 0 ? std::numeric_limits<float>::infinity() : levels_[j][l - 1];
      const std::size_t before = taken;
      while (taken < r && p_.score[rest[taken] * m_ + j] >= t) {
        const std::uint32_t i = rest[taken++];
        got_here += p_.right[i * m_ + j] != 0;
      }
      if (l > 0 && taken == before) continue;  // the same split as the previous level
      // What the remaining inputs can still add: the oracle of the later models (now computed over them).
      std::size_t later_oracle = 0;
      for (std::size_t q = taken; q < r; ++q) later_oracle += suffix_[rest[q] * (m_ + 1) + j + 1];
      const double here = runs_all && l > 0 ? p_.model_ms[j] * static_cast<double>(r) : p_.model_ms[j] * static_cast<double>(taken);
      const double bound = cost + here + min_after_[j + 1] * static_cast<double>(r - taken);
      const std::size_t can = got + got_here + later_oracle;
      if (can < required_ || (found_ && (bound > best_cost_ || (bound == best_cost_ && can <= best_right_)))) continue;
      current_[j] = taken == r ? -std::numeric_limits<float>::infinity() : t;
      dfs(j + 1, std::vector<std::uint32_t>(rest.begin() + static_cast<std::ptrdiff_t>(taken), rest.end()), cost + here,
          got + got_here);
      current_[j] = std::numeric_limits<float>::infinity();
      if (nodes_ > o_.max_nodes) return;
    }
  }

  const ThresholdProblem& p_;
  const ThresholdOptions& o_;
  std::size_t n_ = 0, m_ = 0, required_ = 0, nodes_ = 0;
  std::vector<std::uint8_t> suffix_;
  std::vector<double> min_after_;
  std::vector<std::vector<float>> levels_;
  std::vector<float> current_, best_thresholds_;
  bool found_ = false;
  double best_cost_ = 0;
  std::size_t best_right_ = 0;
};

}  // namespace detail

/// The model `plan` picks for an input with scores `score` (premodel rule; for self-confidence, the model that
/// accepts, given each model's score as if all ran).
inline std::size_t choose_by_plan(const ThresholdPlan& plan, std::span<const float> score) noexcept {
  return plan.scores_used ? choose_by_thresholds(score, plan.thresholds) : plan.alone;
}

/// Chooses the thresholds (see the top of this file). Errors name the argument that is wrong.
inline Expected<ThresholdPlan> search_thresholds(const ThresholdProblem& p, const ThresholdOptions& o = {}) {
  const std::size_t m = p.models;
  PRIMSEL_CHECK(m > 0, ErrorCode::invalid_argument, "threshold search: no models");
  PRIMSEL_CHECK(!p.score.empty() && p.score.size() % m == 0, ErrorCode::invalid_argument,
                "threshold search: " + std::to_string(p.score.size()) + " scores are not a whole, nonzero number of inputs x " +
                    std::to_string(m) + " models");
  const std::size_t n = p.score.size() / m;
  PRIMSEL_CHECK(n <= std::numeric_limits<std::uint32_t>::max(), ErrorCode::invalid_argument, "threshold search: too many inputs");
  PRIMSEL_CHECK(p.right.size() == n * m, ErrorCode::invalid_argument,
                "threshold search: " + std::to_string(n) + " inputs x " + std::to_string(m) + " models need " +
                    std::to_string(n * m) + " correctness values, got " + std::to_string(p.right.size()));
  PRIMSEL_CHECK(p.model_ms.size() == m, ErrorCode::invalid_argument,
                "threshold search: " + std::to_string(m) + " models need " + std::to_string(m) + " costs, got " +
                    std::to_string(p.model_ms.size()));
  for (std::size_t j = 0; j < m; ++j)
    PRIMSEL_CHECK(std::isfinite(p.model_ms[j]) && p.model_ms[j] >= 0, ErrorCode::invalid_argument,
                  "threshold search: model " + std::to_string(j) + "'s cost is " + std::to_string(p.model_ms[j]) +
                      " ms; costs must be finite and >= 0");
  PRIMSEL_CHECK(std::isfinite(p.score_ms) && p.score_ms >= 0, ErrorCode::invalid_argument,
                "threshold search: the score cost is " + std::to_string(p.score_ms) + " ms; it must be finite and >= 0");
  for (std::size_t i = 0; i < p.score.size(); ++i)
    PRIMSEL_CHECK(!std::isnan(p.score[i]), ErrorCode::invalid_argument,
                  "threshold search: the score of input " + std::to_string(i / m) + ", model " + std::to_string(i % m) + " is NaN");
  PRIMSEL_CHECK(o.margin >= 0 && o.margin <= 1, ErrorCode::invalid_argument,
                "threshold search: margin must be in [0, 1] (a fraction of the inputs), got " + std::to_string(o.margin));
  PRIMSEL_CHECK(o.max_levels >= 1 && o.max_nodes >= 1, ErrorCode::invalid_argument,
                "threshold search: max_levels and max_nodes must be >= 1");
  PRIMSEL_CHECK(o.guard_z >= 0 && std::isfinite(o.guard_z), ErrorCode::invalid_argument,
                "threshold search: guard_z must be finite and >= 0, got " + std::to_string(o.guard_z));
  ThresholdOptions direct = o;
  direct.folds = 0;
  ThresholdPlan plan = detail::ThresholdSearch(p, direct).run();
  plan.fit_margin = o.margin;
  if (o.folds < 2 || n < o.folds) return plan;
  // Cross-validation: the required number right over all inputs stays that of `margin`; the fitting margin
  // tightens one input at a time until the held-out choices meet it.
  const std::size_t required = static_cast<std::size_t>(std::llround(plan.required_accuracy * static_cast<double>(n)));
  const std::size_t best = static_cast<std::size_t>(std::llround(plan.best_single_accuracy * static_cast<double>(n)));
  std::vector<float> score;
  std::vector<std::uint8_t> right;
  // At most 33 fitting margins, evenly spaced (in whole inputs) from `margin` to 0.
  const std::size_t span = best - required, steps = std::min<std::size_t>(span, 32);
  for (std::size_t step = 0; step <= steps; ++step) {
    const std::size_t r = steps == 0 ? best : required + (span * step + steps / 2) / steps;
    ThresholdOptions fit = direct;
    fit.margin = static_cast<double>(best - r) / static_cast<double>(n);
    std::size_t held_right = 0, only_best = 0, only_rule = 0;
    bool exhaustive = true;
    for (std::size_t f = 0; f < o.folds; ++f) {
      score.clear(), right.clear();
      for (std::size_t i = 0; i < n; ++i)
        if (i % o.folds != f) {
          score.insert(score.end(), p.score.begin() + static_cast<std::ptrdiff_t>(i * m), p.score.begin() + static_cast<std::ptrdiff_t>((i + 1) * m));
          right.insert(right.end(), p.right.begin() + static_cast<std::ptrdiff_t>(i * m), p.right.begin() + static_cast<std::ptrdiff_t>((i + 1) * m));
        }
      ThresholdProblem part = p;
      part.score = score, part.right = right;
      const ThresholdPlan fold_plan = detail::ThresholdSearch(part, fit).run();
      exhaustive = exhaustive && fold_plan.exhaustive;
      for (std::size_t i = f; i < n; i += o.folds) {
        const bool rule = p.right[i * m + choose_by_plan(fold_plan, p.score.subspan(i * m, m))] != 0;
        const bool single = p.right[i * m + plan.best_single] != 0;
        held_right += rule, only_best += single && !rule, only_rule += rule && !single;
      }
    }
    const double loss = static_cast<double>(only_best) - static_cast<double>(only_rule) +
                        o.guard_z * std::sqrt(static_cast<double>(only_best + only_rule));
    if (loss <= o.margin * static_cast<double>(n) + 1e-9 || r == best) {
      plan = detail::ThresholdSearch(p, fit).run();
      plan.exhaustive = plan.exhaustive && exhaustive;
      plan.fit_margin = fit.margin;
      plan.cv_accuracy = static_cast<double>(held_right) / static_cast<double>(n);
      // The bar reported stays that of `margin`; the plan met a tighter one on these inputs.
      plan.required_accuracy = static_cast<double>(required) / static_cast<double>(n);
      break;
    }
  }
  return plan;
}

}  // namespace primsel::select
