// The latency predictor's experiment (docs/predictor.md): measure every (conv layer, primitive) pair of zoo models,
// then leave one model out — train on the others, predict the held-out model's layers — and report per model the
// mean Kendall tau of each layer's candidate order, the top-1/top-2 hit rates (is the measured fastest among the
// predicted fastest 1/2) and the fraction of pairs top-2 would measure, for each predictor kind.
//
//   ./build/benchmarks/predictor_bench --samples /tmp/samples.txt --models lenet5,squeezenet1_1,resnet18
// Measured samples are appended to --samples, so a rerun only measures what is missing.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "primsel/predict/collect.hpp"
#include "primsel/predict/latency_predictor.hpp"
#include "primsel/predict/rank_stats.hpp"
#include "primsel/search/greedy.hpp"
#include "primsel/zoo/zoo.hpp"

using namespace primsel;
using namespace primsel::predict;

namespace {

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::size_t at = 0;
  while (at <= s.size()) {
    const std::size_t comma = s.find(',', at);
    const std::string part = s.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
    if (!part.empty()) out.push_back(part);
    if (comma == std::string::npos) break;
    at = comma + 1;
  }
  return out;
}

/// Samples of `model` at `threads`, measured now (weights uncalibrated: timing does not depend on their values).
Expected<std::vector<Sample>> measure_model(const std::string& model, int threads) {
  PRIMSEL_ASSIGN_OR_RETURN(Graph g, zoo::build(model, {.calibrate = false}));
  PRIMSEL_ASSIGN_OR_RETURN(auto net, Network<Greedy>::create(std::move(g)));
  PRIMSEL_RETURN_IF_ERROR(net.measure({.threads = threads}));
  std::fprintf(stderr, "measured %s at %d thread(s) in %.1f s\n", model.c_str(), threads,
               net.report().measure_ms / 1000);
  return collect_samples(net, threads, model);
}

/// One conv node of a held-out model: its candidates' samples (consecutive in the file; a repeated primitive
/// starts the next node, so identical neighbouring layers stay apart).
std::vector<std::vector<const Sample*>> layers_of(const std::vector<Sample>& samples, const std::string& model) {
  std::vector<std::vector<const Sample*>> out;
  for (const Sample& s : samples) {
    if (s.source != model) continue;
    bool same = !out.empty() && out.back().front()->desc == s.desc && out.back().front()->threads == s.threads;
    for (const Sample* o : same ? out.back() : std::vector<const Sample*>{}) same = same && o->primitive != s.primitive;
    if (same)
      out.back().push_back(&s);
    else
      out.push_back({&s});
  }
  return out;
}

/// Sums over layers; rates() turns them into the reported numbers. Sums, so that models pool layer-weighted.
struct Score {
  double tau = 0, top1 = 0, top2 = 0;                 // over layers with >= 2 candidates
  double pairs = 0, picked = 0, adaptive_picked = 0;  // candidates: all, measured by top-2, by the adaptive rule
  double best = 0, top2_best = 0, adaptive_best = 0;  // summed per-layer fastest time: of all, of those measured
  double abs_log_err = 0, within_sigma = 0, preds = 0;
  int ranked = 0;
  Score& operator+=(const Score& o) {
    tau += o.tau, top1 += o.top1, top2 += o.top2, pairs += o.pairs, picked += o.picked;
    adaptive_picked += o.adaptive_picked, best += o.best, top2_best += o.top2_best, adaptive_best += o.adaptive_best;
    abs_log_err += o.abs_log_err, within_sigma += o.within_sigma, preds += o.preds, ranked += o.ranked;
    return *this;
  }
};

/// Scores `predict(desc, primitive, threads) -> Prediction` on a held-out model's layers. The adaptive rule
/// measures the predicted fastest plus, of the next ones, those whose predicted time is within one combined
/// standard deviation of it (at most 2): it spends measurements only where the predictor is unsure.
template <class Predict>
Score score(const std::vector<std::vector<const Sample*>>& layers, Predict&& predict) {
  Score r;
  for (const auto& l : layers) {
    std::vector<double> measured, predicted, sigma;
    for (const Sample* s : l) {
      const Prediction p = predict(s->desc, s->primitive, s->threads);
      measured.push_back(s->ms), predicted.push_back(p.ms), sigma.push_back(p.log_sigma);
      const double err = std::abs(std::log(p.ms / s->ms));
      r.abs_log_err += err, r.within_sigma += err <= p.log_sigma ? 1 : 0, r.preds += 1;
    }
    const std::vector<std::size_t> order = order_ascending(predicted);
    const std::size_t b = order[0], second = order[std::min<std::size_t>(1, order.size() - 1)];
    const bool unsure = std::log(predicted[second] / predicted[b]) <= std::hypot(sigma[b], sigma[second]);
    r.pairs += double(l.size());
    r.picked += double(std::min<std::size_t>(2, l.size()));
    r.adaptive_picked += unsure ? double(std::min<std::size_t>(2, l.size())) : 1.0;
    r.best += *std::min_element(measured.begin(), measured.end());
    r.top2_best += std::min(measured[b], measured[second]);
    r.adaptive_best += unsure ? std::min(measured[b], measured[second]) : measured[b];
    if (l.size() < 2) continue;
    ++r.ranked;
    r.tau += kendall_tau(measured, predicted);
    r.top1 += best_in_top_k(measured, predicted, 1), r.top2 += best_in_top_k(measured, predicted, 2);
  }
  return r;
}

void print_header() {
  std::printf(
      "| predictor | held out | layers | tau | top-1 | top-2 | top-2 pairs | top-2 gap | adaptive pairs | "
      "adaptive gap | mean abs log err | within 1 sigma |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
}

void print_row(const std::string& config, const std::string& model, const Score& s) {
  const double n = std::max(s.ranked, 1);
  std::printf("| %s | %s | %d | %.3f | %.1f%% | %.1f%% | %.1f%% | %.2f%% | %.1f%% | %.2f%% | %.3f | %.1f%% |\n",
              config.c_str(), model.c_str(), s.ranked, s.tau / n, 100 * s.top1 / n, 100 * s.top2 / n,
              100 * s.picked / s.pairs, 100 * (s.top2_best / s.best - 1), 100 * s.adaptive_picked / s.pairs,
              100 * (s.adaptive_best / s.best - 1), s.abs_log_err / s.preds, 100 * s.within_sigma / s.preds);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> models{"lenet5", "squeezenet1_1", "mobilenet_v2", "resnet18", "googlenet"};
  std::vector<int> threads{1};
  std::string samples_path, header_path, out_path;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has = i + 1 < argc;
    if (a == "--models" && has) {
      models = split(argv[++i]);
    } else if (a == "--threads" && has) {
      threads.clear();
      for (const std::string& t : split(argv[++i])) threads.push_back(std::stoi(t));
    } else if (a == "--samples" && has) {
      samples_path = argv[++i];
    } else if (a == "--header" && has) {
      header_path = argv[++i];
    } else if (a == "--out" && has) {
      out_path = argv[++i];
    } else {
      std::printf(
          "usage: predictor_bench [--models a,b,..] [--threads 1,2,..] [--samples FILE] [--out FILE.txt]"
          " [--header FILE.hpp]\n");
      return a == "--help" ? 0 : 2;
    }
  }
  std::vector<Sample> samples;
  if (!samples_path.empty()) {
    if (auto loaded = load_samples(samples_path))
      samples = std::move(*loaded);
    else if (loaded.error().code() != ErrorCode::io_error)
      std::fprintf(stderr, "%s\n", loaded.error().what());
  }
  for (const std::string& m : models)
    for (int t : threads) {
      bool have = false;
      for (const Sample& s : samples) have = have || (s.source == m && s.threads == t);
      if (have) continue;
      auto got = measure_model(m, t);
      if (!got) {
        std::fprintf(stderr, "%s\n", got.error().what());
        return 1;
      }
      samples.insert(samples.end(), got->begin(), got->end());
      if (!samples_path.empty()) save_samples(samples_path, samples).value();
    }
  // Only the chosen models and thread counts take part.
  std::erase_if(samples, [&](const Sample& s) {
    return std::find(models.begin(), models.end(), s.source) == models.end() ||
           std::find(threads.begin(), threads.end(), s.threads) == threads.end();
  });
  std::printf("%zu samples of %zu models\n\n", samples.size(), models.size());

  struct Config {
    std::string name;
    PredictorOptions options;
  };
  const std::vector<Config> configs{
      {"ridge l=0.1", {.kind = PredictorKind::ridge, .lambda = 0.1}},
      {"ridge l=1", {.kind = PredictorKind::ridge, .lambda = 1}},
      {"ridge l=10", {.kind = PredictorKind::ridge, .lambda = 10}},
      {"knn k=1", {.kind = PredictorKind::knn, .k = 1}},
      {"knn k=3", {.kind = PredictorKind::knn, .k = 3}},
      {"knn k=5", {.kind = PredictorKind::knn, .k = 5}},
      {"ridge_knn l=1 k=3", {.kind = PredictorKind::ridge_knn, .lambda = 1, .k = 3}},
      {"ridge_knn l=1 k=5", {.kind = PredictorKind::ridge_knn, .lambda = 1, .k = 5}},
      {"ridge_knn l=10 k=5", {.kind = PredictorKind::ridge_knn, .lambda = 10, .k = 5}},
  };
  print_header();
  std::map<std::string, Score> pooled;
  // Baseline: rank by the work proxy alone (no learning; its times are in arbitrary units).
  for (const std::string& m : models) {
    const Score s = score(layers_of(samples, m), [](const ConvDesc& d, std::string_view p, int) {
      return Prediction{work_proxy(d, p)[0], 1, true};
    });
    print_row("work proxy", m, s), pooled["work proxy"] += s;
  }
  for (const Config& c : configs)
    for (const std::string& m : models) {
      std::vector<Sample> train;
      for (const Sample& s : samples)
        if (s.source != m) train.push_back(s);
      auto p = LatencyPredictor::train(train, c.options);
      if (!p) {
        std::fprintf(stderr, "%s\n", p.error().what());
        return 1;
      }
      const Score s = score(layers_of(samples, m),
                            [&](const ConvDesc& d, std::string_view prim, int t) { return p->predict(d, prim, t); });
      print_row(c.name, m, s), pooled[c.name] += s;
    }
  std::printf("\nAll held-out layers pooled:\n\n");
  print_header();
  print_row("work proxy", "all", pooled["work proxy"]);
  for (const Config& c : configs) print_row(c.name, "all", pooled[c.name]);

  // The default predictor trained on everything: its size, and the files a device would ship.
  const LatencyPredictor all = LatencyPredictor::train(samples).value();
  const std::string text = all.serialize();
  std::printf("\ndefault predictor on all %zu samples: %zu primitives, %zu bytes serialised\n", samples.size(),
              all.primitives().size(), text.size());
  if (!out_path.empty()) {
    std::ofstream(out_path, std::ios::binary) << text;
  }
  if (!header_path.empty()) {
    std::ofstream(header_path, std::ios::binary) << all.to_cpp_header("zoo_predictor");
  }
}
