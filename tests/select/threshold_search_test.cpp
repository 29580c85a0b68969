// The cost-aware threshold search: against brute force over every threshold on small synthetic problems (both cost
// models), the accuracy bar, edge cases (one model, every model wrong, margin 0, ties), the cross-validation guard
// and the argument errors. Costs are binary fractions so that sums are exact and ties are real ties.
#include <catch2/catch.hpp>

#include <limits>
#include <vector>

#include "primsel/core/random.hpp"
#include "primsel/select/threshold_search.hpp"

using namespace primsel;
using namespace primsel::select;
using Catch::Matchers::Contains;

namespace {

constexpr float skip_level = std::numeric_limits<float>::infinity();

struct CascadeCase {
  std::size_t m = 0;
  std::vector<float> score;
  std::vector<std::uint8_t> right;
  std::vector<double> ms;
  ThresholdProblem problem(CascadeKind kind, double score_ms) const { return {m, score, right, ms, score_ms, kind}; }
};

/// n inputs, m models; scores in quarters; a model is more often right when its score is high and when it is costly.
CascadeCase cascade_case(std::uint64_t seed, std::size_t n, std::size_t m) {
  CascadeCase s;
  s.m = m;
  Rng rng(seed);
  for (std::size_t j = 0; j < m; ++j) s.ms.push_back(static_cast<double>(1u << (2 * j)));  // 1, 4, 16, ...
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < m; ++j) {
      const float sc = static_cast<float>(rng.below(5)) / 4.0f;
      s.score.push_back(sc);
      s.right.push_back(rng.uniform() < 0.35 + 0.4 * sc + 0.2 * static_cast<double>(j) / static_cast<double>(m));
    }
  return s;
}

struct RuleOutcome {
  double cost = 0;  // total over inputs
  std::size_t right = 0;
};

/// What thresholds `t` do (the last model takes the rest), costs as the search counts them.
RuleOutcome apply_rule(const ThresholdProblem& p, const std::vector<float>& t) {
  const std::size_t m = p.models, n = p.score.size() / m;
  RuleOutcome o;
  for (std::size_t i = 0; i < n; ++i) {
    std::size_t j = 0;
    while (j + 1 < m && !(p.score[i * m + j] >= t[j])) ++j;
    o.right += p.right[i * m + j] != 0;
    o.cost += p.score_ms;
    if (p.kind == CascadeKind::premodel) o.cost += p.model_ms[j];
    else
      for (std::size_t q = 0; q <= j; ++q) o.cost += t[q] == skip_level ? 0.0 : p.model_ms[q];
  }
  return o;
}

/// Brute force: every combination of thresholds (+inf or a score value) and every model alone.
RuleOutcome brute_force_rule(const ThresholdProblem& p, double margin) {
  const std::size_t m = p.models, n = p.score.size() / m;
  std::vector<std::size_t> right(m, 0);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < m; ++j) right[j] += p.right[i * m + j] != 0;
  const std::size_t best = *std::max_element(right.begin(), right.end());
  const auto required = static_cast<std::size_t>(std::max(0.0, std::ceil(static_cast<double>(best) - margin * static_cast<double>(n) - 1e-9)));
  RuleOutcome top{std::numeric_limits<double>::infinity(), 0};
  auto consider = [&](RuleOutcome o) {
    if (o.right >= required && (o.cost < top.cost || (o.cost == top.cost && o.right > top.right))) top = o;
  };
  for (std::size_t j = 0; j < m; ++j) consider({p.model_ms[j] * static_cast<double>(n), right[j]});
  std::vector<std::vector<float>> levels(m);
  for (std::size_t j = 0; j + 1 < m; ++j) {
    levels[j] = {skip_level};
    for (std::size_t i = 0; i < n; ++i) levels[j].push_back(p.score[i * m + j]);
    std::sort(levels[j].begin(), levels[j].end());
    levels[j].erase(std::unique(levels[j].begin(), levels[j].end()), levels[j].end());
  }
  levels[m - 1] = {-skip_level};
  std::vector<std::size_t> at(m, 0);
  for (;;) {
    std::vector<float> t(m);
    for (std::size_t j = 0; j < m; ++j) t[j] = levels[j][at[j]];
    consider(apply_rule(p, t));
    std::size_t j = 0;
    while (j < m && ++at[j] == levels[j].size()) at[j++] = 0;
    if (j == m) break;
  }
  return top;
}

ThresholdOptions no_cv(double margin) { return {.margin = margin, .folds = 0}; }

}  // namespace

TEST_CASE("threshold search finds the brute-force optimum", "[select][threshold]") {
  for (std::uint64_t seed = 1; seed <= 12; ++seed)
    for (CascadeKind kind : {CascadeKind::premodel, CascadeKind::self_confidence})
      for (double margin : {0.0, 0.02, 0.1}) {
        const std::size_t m = seed % 3 == 0 ? 4 : 3;
        const CascadeCase s = cascade_case(seed, 30, m);
        const ThresholdProblem p = s.problem(kind, kind == CascadeKind::premodel ? 0.5 : 0.0);
        INFO("seed " << seed << ", " << (kind == CascadeKind::premodel ? "premodel" : "self-confidence") << ", margin " << margin);
        const auto plan = search_thresholds(p, no_cv(margin));
        REQUIRE(plan.ok());
        CHECK(plan->exhaustive);
        const RuleOutcome want = brute_force_rule(p, margin);
        CHECK(plan->mean_ms * 30 == Approx(want.cost).epsilon(1e-12));
        CHECK(plan->accuracy * 30 == Approx(static_cast<double>(want.right)));
        CHECK(plan->accuracy >= plan->required_accuracy);
        // The plan does what it says: applying its thresholds gives its accuracy and cost.
        if (plan->scores_used) {
          const RuleOutcome got = apply_rule(p, plan->thresholds);
          CHECK(got.cost == Approx(want.cost).epsilon(1e-12));
          CHECK(got.right == want.right);
          // Exactly one model takes every input that reaches it; the ones after it are never reached.
          const auto all = std::find(plan->thresholds.begin(), plan->thresholds.end(), -skip_level);
          REQUIRE(all != plan->thresholds.end());
          CHECK(std::all_of(all + 1, plan->thresholds.end(), [](float t) { return t == skip_level; }));
        } else {
          CHECK(plan->mean_ms == s.ms[plan->alone]);
        }
      }
}

TEST_CASE("threshold search: the bar is the best single model's accuracy minus the margin", "[select][threshold]") {
  const CascadeCase s = cascade_case(42, 60, 3);
  double last_ms = 0;
  for (double margin : {0.0, 0.05, 0.1, 0.2, 1.0}) {
    const auto plan = search_thresholds(s.problem(CascadeKind::premodel, 0.25), no_cv(margin)).value();
    INFO("margin " << margin);
    CHECK(plan.accuracy >= plan.required_accuracy);
    CHECK(plan.required_accuracy >= plan.best_single_accuracy - margin - 1e-12);
    CHECK(plan.required_accuracy < std::max(0.0, plan.best_single_accuracy - margin) + 1.0 / 60);
    // A looser bar skip_level costs more.
    if (margin > 0) CHECK(plan.mean_ms <= last_ms);
    last_ms = plan.mean_ms;
  }
  // Margin 1: anything goes, so the cheapest model alone (no premodel to pay for).
  const auto loose = search_thresholds(s.problem(CascadeKind::premodel, 0.25), no_cv(1.0)).value();
  CHECK_FALSE(loose.scores_used);
  CHECK(loose.alone == 0);
  CHECK(loose.mean_ms == 1.0);
}

TEST_CASE("threshold search edge cases", "[select][threshold]") {
  SECTION("one model: it runs alone") {
    const std::vector<float> score{0.2f, 0.9f, 0.5f};
    const std::vector<std::uint8_t> right{1, 0, 1};
    const std::vector<double> ms{3.0};
    const auto plan = search_thresholds({1, score, right, ms, 1.0, CascadeKind::premodel}, no_cv(0)).value();
    CHECK_FALSE(plan.scores_used);
    CHECK(plan.alone == 0);
    CHECK(plan.accuracy == Approx(2.0 / 3));
    CHECK(plan.mean_ms == 3.0);
    CHECK(plan.thresholds == std::vector<float>{-skip_level});
  }
  SECTION("every model wrong: the cheapest model, without scores") {
    const std::vector<float> score{1, 1, 0, 1, 0.5f, 0.5f};
    const std::vector<std::uint8_t> right(6, 0);
    const std::vector<double> ms{2.0, 1.0};  // not sorted: the search does not assume it
    for (CascadeKind kind : {CascadeKind::premodel, CascadeKind::self_confidence}) {
      const auto plan = search_thresholds({2, score, right, ms, 0.0, kind}, no_cv(0)).value();
      CHECK_FALSE(plan.scores_used);
      CHECK(plan.alone == 1);
      CHECK(plan.accuracy == 0);
      CHECK(plan.best_single_accuracy == 0);
    }
  }
  SECTION("margin 0: as many right as the best model, and cheaper when the scores allow") {
    // Model 0 is right exactly where its score is 1; model 1 is always right.
    const std::vector<float> score{1, 0, 0, 0, 1, 0, 0, 0};
    const std::vector<std::uint8_t> right{1, 1, 0, 1, 1, 1, 0, 1};
    const std::vector<double> ms{1.0, 8.0};
    const auto pre = search_thresholds({2, score, right, ms, 0.5, CascadeKind::premodel}, no_cv(0)).value();
    CHECK(pre.scores_used);
    CHECK(pre.accuracy == 1.0);
    CHECK(pre.thresholds == std::vector<float>{1.0f, -skip_level});
    CHECK(pre.mean_ms == 0.5 + (1.0 + 8.0) / 2);
    // Self-confidence pays model 0 on every input: 1 + 8 / 2 = 5 < 8.
    const auto self = search_thresholds({2, score, right, ms, 0.0, CascadeKind::self_confidence}, no_cv(0)).value();
    CHECK(self.scores_used);
    CHECK(self.mean_ms == 5.0);
    // Scores that cost more than they save: model 1 alone.
    const auto dear = search_thresholds({2, score, right, ms, 4.0, CascadeKind::premodel}, no_cv(0)).value();
    CHECK_FALSE(dear.scores_used);
    CHECK(dear.alone == 1);
  }
  SECTION("ties: equal cost and accuracy go to the earlier candidate, and the result is deterministic") {
    const std::vector<float> score{0.5f, 0.5f, 0.5f, 0.5f};
    const std::vector<std::uint8_t> right{1, 1, 1, 1};
    const std::vector<double> ms{2.0, 2.0};
    const auto plan = search_thresholds({2, score, right, ms, 0.0, CascadeKind::premodel}, no_cv(0)).value();
    CHECK_FALSE(plan.scores_used);
    CHECK(plan.alone == 0);
    const CascadeCase s = cascade_case(7, 50, 4);
    const auto a = search_thresholds(s.problem(CascadeKind::self_confidence, 0), {}).value();
    const auto b = search_thresholds(s.problem(CascadeKind::self_confidence, 0), {}).value();
    CHECK(a.thresholds == b.thresholds);
    CHECK(a.mean_ms == b.mean_ms);
  }
}

TEST_CASE("threshold search: the cross-validation guard only tightens the fitting margin", "[select][threshold]") {
  for (std::uint64_t seed = 20; seed < 26; ++seed) {
    const CascadeCase s = cascade_case(seed, 80, 3);
    INFO("seed " << seed);
    const auto loose = search_thresholds(s.problem(CascadeKind::premodel, 0.25), no_cv(0.05)).value();
    const auto guarded = search_thresholds(s.problem(CascadeKind::premodel, 0.25), {.margin = 0.05}).value();
    CHECK(loose.cv_accuracy == -1);
    CHECK(guarded.cv_accuracy >= 0);
    CHECK(guarded.cv_accuracy <= 1);
    CHECK(guarded.fit_margin <= 0.05);
    CHECK(guarded.required_accuracy == loose.required_accuracy);
    CHECK(guarded.accuracy >= loose.required_accuracy);
    CHECK(guarded.mean_ms >= loose.mean_ms);
    // A guard nothing passes falls back to margin 0.
    const auto strict = search_thresholds(s.problem(CascadeKind::premodel, 0.25), {.margin = 0.05, .guard_z = 100}).value();
    CHECK(strict.fit_margin == 0);
    CHECK(strict.accuracy >= strict.best_single_accuracy);
  }
}

TEST_CASE("threshold search refuses bad arguments, naming them", "[select][threshold]") {
  const std::vector<float> score{0.5f, 0.5f, 1, 0};
  const std::vector<std::uint8_t> right{1, 0, 1, 1};
  const std::vector<double> ms{1.0, 2.0};
  auto error = [](const Expected<ThresholdPlan>& r) { return r.ok() ? std::string("ok") : std::string(r.error().what()); };
  CHECK_THAT(error(search_thresholds({0, score, right, ms})), Contains("threshold search: no models"));
  CHECK_THAT(error(search_thresholds({3, score, right, ms})), Contains("4 scores are not a whole, nonzero number of inputs x 3 models"));
  CHECK_THAT(error(search_thresholds({2, {}, right, ms})), Contains("0 scores"));
  CHECK_THAT(error(search_thresholds({2, score, std::span(right).first(3), ms})),
             Contains("2 inputs x 2 models need 4 correctness values, got 3"));
  CHECK_THAT(error(search_thresholds({2, score, right, std::span(ms).first(1)})), Contains("2 models need 2 costs, got 1"));
  const std::vector<double> negative{1.0, -2.0};
  CHECK_THAT(error(search_thresholds({2, score, right, negative})), Contains("model 1's cost is -2.000000 ms"));
  CHECK_THAT(error(search_thresholds({2, score, right, ms, std::numeric_limits<double>::infinity()})),
             Contains("the score cost is inf ms"));
  const std::vector<float> nan_score{0.5f, 0.5f, std::numeric_limits<float>::quiet_NaN(), 0};
  CHECK_THAT(error(search_thresholds({2, nan_score, right, ms})), Contains("the score of input 1, model 0 is NaN"));
  CHECK_THAT(error(search_thresholds({2, score, right, ms}, {.margin = -0.1})), Contains("margin must be in [0, 1]"));
  CHECK_THAT(error(search_thresholds({2, score, right, ms}, {.margin = std::numeric_limits<double>::quiet_NaN()})),
             Contains("margin must be in [0, 1]"));
  CHECK_THAT(error(search_thresholds({2, score, right, ms}, {.margin = 1.5})), Contains("got 1.500000"));
  CHECK_THAT(error(search_thresholds({2, score, right, ms}, {.max_levels = 0})), Contains("max_levels and max_nodes must be >= 1"));
  CHECK_THAT(error(search_thresholds({2, score, right, ms}, {.guard_z = -1})), Contains("guard_z must be finite and >= 0"));
  CHECK(search_thresholds({2, score, right, ms}).ok());
}

TEST_CASE("choose_by_thresholds takes the first model whose score reaches its threshold", "[select][threshold]") {
  const std::vector<float> t{0.8f, skip_level, 0.5f, -skip_level};
  CHECK(choose_by_thresholds(std::vector<float>{0.9f, 1, 1, 1}, t) == 0);
  CHECK(choose_by_thresholds(std::vector<float>{0.7f, 1, 0.5f, 1}, t) == 2);  // model 1 is skipped even when sure
  CHECK(choose_by_thresholds(std::vector<float>{0.7f, 1, 0.4f, 0}, t) == 3);
  CHECK(choose_by_thresholds({}, {}) == 0);
}
