// SelectPolicy and the cascade that applies it: given, for each model (cheapest first), the premodel's estimate
// that the model answers this input right, take the cheapest model whose estimate reaches the policy's confidence,
// among the models that fit its latency budget. This is the cascade of per-model "will it be right" classifiers of
// Taylor et al., "Adaptive deep learning model selection on embedded systems" (LCTES 2018).
//
//   choose_model(p, model_ms, premodel_ms, SelectPolicy::accuracy_first())   // tiny if sure, else up the chain
//   choose_model(p, model_ms, premodel_ms, SelectPolicy::latency_budget(0.5)) // never a model slower than 0.5 ms
#pragma once

#include <cstddef>
#include <span>

namespace primsel::select {

struct SelectPolicy {
  /// A model is taken when the premodel estimates at least this chance that it answers right (the fraction of the
  /// k nearest training inputs it answered right). 1: only when every neighbour agrees, the accuracy-first
  /// setting; lower values take cheap models more often, trading accuracy for time.
  double confidence = 1.0;
  /// Per-input budget in ms for premodel + model (0: none). Models measured slower than what the budget leaves
  /// after the premodel are never chosen; when no model fits, the cheapest runs.
  double budget_ms = 0;

  /// Best accuracy: climb the cascade until a model is (nearly) sure to be right; no time limit.
  static constexpr SelectPolicy accuracy_first(double confidence = 1.0) { return {confidence, 0}; }
  /// Best accuracy within a per-input time budget (premodel included).
  static constexpr SelectPolicy latency_budget(double ms, double confidence = 1.0) { return {confidence, ms}; }
};

/// The cascade. `p[i]`: estimated chance that model i answers right; `model_ms[i]`: its measured run time; models
/// are ordered by cost, cheapest first. Returns the first model within the budget whose estimate reaches the
/// confidence; if none does, the model within the budget with the highest estimate (a tie goes to the costlier
/// model, which is the more accurate one in a sensible model set).
inline std::size_t choose_model(std::span<const float> p, std::span<const double> model_ms, double premodel_ms,
                                const SelectPolicy& policy) noexcept {
  const std::size_t n = p.size() < model_ms.size() ? p.size() : model_ms.size();
  if (n == 0) return 0;
  std::size_t eligible = 1;  // models [0, eligible) fit the budget; the cheapest always "fits"
  if (policy.budget_ms > 0) {
    while (eligible < n && premodel_ms + model_ms[eligible] <= policy.budget_ms) ++eligible;
  } else {
    eligible = n;
  }
  for (std::size_t i = 0; i < eligible; ++i)
    if (static_cast<double>(p[i]) >= policy.confidence) return i;
  std::size_t best = eligible - 1;
  for (std::size_t i = eligible - 1; i-- > 0;)
    if (p[i] > p[best]) best = i;
  return best;
}

}  // namespace primsel::select
