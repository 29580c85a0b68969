// Adaptive model selection on the digits data set: four CNNs of very different cost, a premodel that picks one per
// image, and what that buys on held-out images — accuracy and mean latency of each network alone, of the oracle
// (the cheapest network that is right), of the accuracy-first premodel and of the cost-aware rule fitted on the
// validation images, premodel and every network run included.
// Usage: model_selection [data/digits [margin]]   (the committed models and data set, which tools/digits/ made; the
// cost-aware rule's accuracy margin on the validation images, in points, default 0.5)
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include <primsel/primsel.hpp>
#include <primsel/select/labelled_set.hpp>
#include <primsel/select/model_selector.hpp>

using namespace primsel;
using namespace primsel::select;

namespace {

template <class T>
T check(Expected<T> r) {
  if (!r) {
    std::fprintf(stderr, "error: %s\n", r.error().what());
    std::exit(1);
  }
  return std::move(*r);
}

/// Mean time per image of each strategy (`run_one(strategy, image)`), from the median of `passes` timed passes over
/// the images. Strategies take turns within each pass, so a shared machine's changing load hits them alike.
template <class F>
std::vector<double> mean_ms(std::size_t strategies, std::size_t images, F&& run_one, int passes = 15) {
  std::vector<std::vector<double>> t(strategies);
  for (int p = 0; p < passes; ++p)
    for (std::size_t s = 0; s < strategies; ++s) {
      const auto t0 = std::chrono::steady_clock::now();
      for (std::size_t i = 0; i < images; ++i) run_one(s, i);
      t[s].push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() /
                     static_cast<double>(images));
    }
  std::vector<double> median;
  for (auto& v : t) {
    std::nth_element(v.begin(), v.begin() + passes / 2, v.end());
    median.push_back(v[static_cast<std::size_t>(passes / 2)]);
  }
  return median;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = std::string(argc > 1 ? argv[1] : "data/digits") + "/";
  const double margin = argc > 2 ? std::atof(argv[2]) / 100 : 0.005;  // the cost-aware fit's margin, in points
  const LabelledSet all = check(load_labelled_set(dir + "digits.bin"));
  const LabelledSet val = all.part(LabelledSet::validation), test = all.part(LabelledSet::test);

  // Each network bound to this machine's fastest primitives, one thread.
  std::vector<ModelSelector<>::Entry> nets;
  for (const char* name : {"tiny", "small", "medium", "large"}) {
    auto net = check(Network<QLearning<>>::create(check(io::onnx::load_model(dir + name + ".onnx"))));
    if (Status s = net.bind({.threads = 1}); !s) return std::fprintf(stderr, "error: %s\n", s.error().what()), 1;
    nets.push_back({name, std::move(net)});
  }
  auto sel = check(ModelSelector<>::create(std::move(nets)));
  const std::size_t m = sel.size();

  // The premodel learns from the validation part: images the networks were not trained on.
  if (Status s = sel.train(val.images, val.labels); !s) return std::fprintf(stderr, "error: %s\n", s.error().what()), 1;
  std::printf("premodel: kNN over %zu validation images x %zu features, k = %d chosen by leave-one-out:\n",
              sel.premodel().samples(), InputFeatures::count, sel.premodel().k());
  for (const KTrial& t : sel.k_trials())
    std::printf("  k %2d  accuracy %6.2f %%  mean network time %.4f ms%s\n", t.k, 100 * t.accuracy, t.model_ms,
                t.k == sel.premodel().k() ? "  <- chosen" : "");
  std::printf("premodel cost (features + kNN + cascade): %.4f ms per image\n\n", sel.premodel_ms());

  // The cost-aware rule, fitted on the same validation images: the cheapest rule (premodel thresholds per k, the
  // networks' own confidence, or one network alone) within 0.5 points of the most accurate network there.
  if (Status s = sel.fit_cost_aware(val.images, val.labels, {.margin = margin}); !s)
    return std::fprintf(stderr, "error: %s\n", s.error().what()), 1;
  auto describe = [&](const CostAwareTrial& t) {
    std::string s = !t.plan.scores_used ? sel.name(t.plan.alone) + " alone"
                    : t.kind == CascadeKind::premodel ? "premodel k " + std::to_string(t.k) + ", thresholds"
                                                      : "self-confidence, thresholds";
    if (t.plan.scores_used)
      for (std::size_t j = 0; j < m; ++j) {
        const float v = t.plan.thresholds[j];
        s += (j ? " / " : " ") + (v == std::numeric_limits<float>::infinity() ? std::string("skip")
                                  : v == -std::numeric_limits<float>::infinity() ? std::string("all")
                                                                                  : std::to_string(v).substr(0, 5));
      }
    return s;
  };
  const ThresholdPlan& fit = sel.cost_aware().plan;
  std::printf("cost-aware rule on the validation images: bar %.2f %% (%s %.2f %% - %.2f), candidates:\n",
              100 * fit.required_accuracy, sel.name(fit.best_single).c_str(), 100 * fit.best_single_accuracy, 100 * margin);
  for (const CostAwareTrial& t : sel.cost_aware_trials())
    std::printf("  %-16s accuracy %6.2f %%  expected %.4f ms  %s\n",
                t.kind == CascadeKind::premodel ? ("premodel k " + std::to_string(t.k)).c_str() : "self-confidence",
                100 * t.plan.accuracy, t.plan.mean_ms, describe(t).c_str());
  std::printf("  chosen: %s (expected %.4f ms; fitted with margin %.2f points, %zu-fold held-out accuracy %.2f %%)\n\n",
              describe(sel.cost_aware()).c_str(), fit.mean_ms, 100 * fit.fit_margin, CostAwareOptions{}.search.folds, 100 * fit.cv_accuracy);

  // Would a cheaper premodel change the choice? Its features alone, and the premodel's best thresholds if it were
  // free (a bound for fewer features or fewer reference samples).
  {
    float f[InputFeatures::count];
    const double features_ms = mean_ms(1, test.size(), [&](std::size_t, std::size_t i) {
      InputFeatures::extract(test.images[i].view(), f);
      asm volatile("" : : "r"(f) : "memory");  // keep the features
    })[0];
    const std::vector<std::uint8_t> val_right = check(sel.correctness(val.images, val.labels));
    std::vector<float> est(val.size() * m);
    double free_ms = std::numeric_limits<double>::infinity();
    int free_k = 0;
    for (const CostAwareTrial& t : sel.cost_aware_trials()) {
      if (t.kind != CascadeKind::premodel) continue;
      for (std::size_t i = 0; i < val.size(); ++i) sel.premodel().estimate_stored(i, std::span<float>(est.data() + i * m, m), t.k);
      std::vector<double> model_ms;
      for (std::size_t j = 0; j < m; ++j) model_ms.push_back(sel.model_ms(j));
      const ThresholdPlan free = check(search_thresholds({m, est, val_right, model_ms, 0.0, CascadeKind::premodel}, {.margin = margin}));
      if (free.mean_ms < free_ms) free_ms = free.mean_ms, free_k = t.k;
    }
    std::printf("premodel cost: features %.4f ms + kNN %.4f ms; with a free premodel its best rule (k %d) would cost "
                "%.4f ms per image, against %.4f ms for the chosen rule\n\n",
                features_ms, std::max(0.0, sel.premodel_ms() - features_ms), free_k, free_ms, fit.mean_ms);
  }
  // Who is right on each test image, and the choices of the oracle and of the premodel.
  const std::vector<std::uint8_t> right = check(sel.correctness(test.images, test.labels));
  const std::size_t n = test.size();
  std::vector<std::size_t> oracle(n, 0), chosen(n, 0), aware(n, 0);
  std::vector<double> acc(m, 0.0);
  double oracle_acc = 0, chosen_acc = 0, aware_acc = 0;
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < m; ++j) acc[j] += right[i * m + j] / static_cast<double>(n);
    while (oracle[i] + 1 < m && !right[i * m + oracle[i]]) ++oracle[i];  // none right: the costliest
    oracle_acc += right[i * m + oracle[i]] / static_cast<double>(n);
    (void)sel.use_cost_aware(false);
    chosen[i] = check(sel.select(test.images[i].view()));
    chosen_acc += right[i * m + chosen[i]] / static_cast<double>(n);
    (void)sel.use_cost_aware(true);
    aware[i] = check(sel.select(test.images[i].view()));
    aware_acc += right[i * m + aware[i]] / static_cast<double>(n);
  }

  // Latencies, measured by running the bound networks over the test images.
  // Strategies 0..m-1: one network alone; m: the oracle's choices; m + 1: the accuracy-first premodel; m + 2: the
  // cost-aware rule (premodel and every network run included). Switching rules is a flag.
  std::vector<double> ms = mean_ms(m + 3, n, [&](std::size_t s, std::size_t i) {
    const ConstTensorView x = test.images[i].view();
    if (s < m) (void)sel.run_model(s, x);
    else if (s == m) (void)sel.run_model(oracle[i], x);
    else {
      (void)sel.use_cost_aware(s == m + 2);
      (void)sel.run(x);
    }
  });
  const double oracle_ms = ms[m], chosen_ms = ms[m + 1], aware_ms = ms[m + 2];
  std::size_t best = 0;  // the most accurate single network; of equals, the fastest (the harder comparison)
  for (std::size_t j = 1; j < m; ++j)
    if (acc[j] > acc[best] || (acc[j] == acc[best] && ms[j] < ms[best])) best = j;

  auto mix = [&](const std::vector<std::size_t>& c) {
    std::string s;
    for (std::size_t j = 0; j < m; ++j) s += (j ? "/" : "") + std::to_string(std::count(c.begin(), c.end(), j));
    return s;
  };
  std::printf("held-out test part: %zu images; latency = mean per image, 1 thread\n\n", n);
  std::printf("| strategy | accuracy | vs oracle | mean latency | vs %s | runs %s |\n", sel.name(best).c_str(),
              [&] { std::string s; for (std::size_t j = 0; j < m; ++j) s += (j ? "/" : "") + sel.name(j); return s; }().c_str());
  std::printf("|---|---:|---:|---:|---:|---:|\n");
  for (std::size_t j = 0; j < m; ++j)
    std::printf("| %s only | %.2f %% | %+.2f | %.4f ms | %.2fx | %s |\n", sel.name(j).c_str(), 100 * acc[j],
                100 * (acc[j] - oracle_acc), ms[j], ms[j] / ms[best], mix(std::vector<std::size_t>(n, j)).c_str());
  std::printf("| oracle (cheapest right) | %.2f %% | %+.2f | %.4f ms | %.2fx | %s |\n", 100 * oracle_acc, 0.0, oracle_ms,
              oracle_ms / ms[best], mix(oracle).c_str());
  std::printf("| premodel, accuracy first (k %d) | %.2f %% | %+.2f | %.4f ms | %.2fx | %s |\n", sel.premodel().k(), 100 * chosen_acc,
              100 * (chosen_acc - oracle_acc), chosen_ms, chosen_ms / ms[best], mix(chosen).c_str());
  std::printf("| cost-aware (%s) | %.2f %% | %+.2f | %.4f ms | %.2fx | %s |\n\n", describe(sel.cost_aware()).c_str(), 100 * aware_acc,
              100 * (aware_acc - oracle_acc), aware_ms, aware_ms / ms[best], mix(aware).c_str());
  for (const auto& [label, a, t] : {std::tuple{"accuracy-first premodel", chosen_acc, chosen_ms}, std::tuple{"cost-aware rule", aware_acc, aware_ms}})
    std::printf("target, %s: accuracy >= %s - 0.5 points: %s (%+.2f points); latency <= 0.6x %s: %s (%.2fx)\n", label,
                sel.name(best).c_str(), a >= acc[best] - 0.005 ? "met" : "MISSED", 100 * (a - acc[best]), sel.name(best).c_str(),
                t <= 0.6 * ms[best] ? "met" : "MISSED", t / ms[best]);
  return 0;
}
