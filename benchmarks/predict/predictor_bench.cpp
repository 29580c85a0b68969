// The latency predictor's experiments (docs/predictor.md), on zoo models whose every (conv layer, primitive) pair is
// measured:
//   kinds    (default) leave one model out — train on the others, predict the held-out model's layers — and report
//            per model the mean Kendall tau of each layer's candidate order, top-1/top-2 hit rates and the pairs
//            top-2 would measure, for each predictor kind;
//   network  leave one model out on whole networks: measure only the candidates a rule picks, fill the others with
//            predictions, solve with Exact and price the binding on the fully measured problem (needs --cache-dir);
//   transfer train on samples of another device (--proxy FILE: another ISA build, or another thread count),
//            calibrate with <= 10 layers measured here, report tau per layer and the whole-network gap.
//
//   ./build/benchmarks/predictor_bench --samples /tmp/samples.txt --models lenet5,squeezenet1_1,resnet18
//   ./build/benchmarks/predictor_bench --cache-dir /tmp/nets --experiment network
//   ./build/benchmarks/predictor_bench_avx2 --cache-dir /tmp/nets --experiment transfer --proxy /tmp/s512.txt
// Samples carry their ISA in the source tag (`resnet50@avx512bw`); measured samples are added to --samples, so a
// rerun only measures what is missing. --cache-dir keeps each network's tuning cache (the whole problem, edges
// included) and a record of how long measuring each node took.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "primsel/core/simd.hpp"
#include "primsel/predict/calibration_layers.hpp"
#include "primsel/predict/collect.hpp"
#include "primsel/predict/latency_predictor.hpp"
#include "primsel/predict/rank_stats.hpp"
#include "primsel/search/exact.hpp"
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

// A sample's source is `<model>@<isa>`: files from builds for different ISAs (AVX-512, AVX2) can be told apart.
// Files written before the tag have a bare model name (ISA "").
const std::string this_isa{simd::isa};
std::string tag(const std::string& model, const std::string& isa = this_isa) { return model + "@" + isa; }
std::string model_of(const std::string& source) { return source.substr(0, source.find('@')); }
std::string isa_of(const std::string& source) {
  const std::size_t at = source.find('@');
  return at == std::string::npos ? std::string() : source.substr(at + 1);
}

/// Samples of `model` at `threads`, measured now (weights uncalibrated: timing does not depend on their values).
Expected<std::vector<Sample>> measure_model(const std::string& model, int threads) {
  PRIMSEL_ASSIGN_OR_RETURN(Graph g, zoo::build(model, {.calibrate = false}));
  PRIMSEL_ASSIGN_OR_RETURN(auto net, Network<Greedy>::create(std::move(g)));
  PRIMSEL_RETURN_IF_ERROR(net.measure({.threads = threads}));
  std::fprintf(stderr, "measured %s at %d thread(s) in %.1f s\n", model.c_str(), threads,
               net.report().measure_ms / 1000);
  return collect_samples(net, threads, tag(model));
}

/// One conv node of a held-out model: its candidates' samples (consecutive in the file; a repeated primitive
/// starts the next node, so identical neighbouring layers stay apart).
std::vector<std::vector<const Sample*>> layers_of(const std::vector<Sample>& samples, const std::string& model) {
  std::vector<std::vector<const Sample*>> out;
  for (const Sample& s : samples) {
    if (model_of(s.source) != model) continue;
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

// ---- whole networks -------------------------------------------------------------------------------------------

/// A conv node of a fully measured network: its candidates' times, each candidate's boundary conversion (node cost
/// minus time: nonzero where the layer reads a graph input or writes a graph output) and its share of the time
/// spent measuring the node (the node's wall time split in proportion to the candidates' ms: each candidate runs
/// 1 warm-up + 5..50 timed runs, and the run count per candidate is not recorded).
struct ConvLayer {
  std::size_t node = 0;
  ConvDesc desc;
  std::vector<std::string> primitives;
  std::vector<double> ms, boundary, measure_ms;
};

/// A fully measured network: the selection problem (node costs, measured conversion costs on every edge) and how
/// long measuring took — per node (progress callback) and for the conversions (the rest of measure_ms).
struct MeasuredNet {
  std::string model;
  int threads = 1;
  SelectionProblem problem;
  std::vector<ConvLayer> convs;
  std::vector<double> node_ms;
  double measure_ms = 0, conversion_ms = 0;

  std::vector<Sample> samples() const {
    std::vector<Sample> out;
    for (const ConvLayer& l : convs)
      for (std::size_t c = 0; c < l.ms.size(); ++c)
        if (l.ms[c] > 0) out.push_back({l.desc, l.primitives[c], threads, l.ms[c], tag(model)});
    return out;
  }
};

/// `model` at `threads`, measured fully once and then read back: the tuning cache keeps the problem, a side file
/// (`.record`) the per-candidate times without boundary conversions and the measuring times, which the cache lacks.
Expected<MeasuredNet> load_net(const std::string& model, int threads, const std::string& dir) {
  const std::string base = dir + "/" + tag(model) + "-t" + std::to_string(threads);
  const std::string cache = base + ".cache", record = base + ".record";
  PRIMSEL_ASSIGN_OR_RETURN(Graph g, zoo::build(model, {.calibrate = false}));
  PRIMSEL_ASSIGN_OR_RETURN(auto net, Network<Greedy>::create(std::move(g)));
  std::ifstream rec(record);
  if (!rec) std::filesystem::remove(cache);  // no record of the measuring times: measure again
  std::vector<double> done;
  BindOptions o{.threads = threads, .cache_path = cache};
  o.progress = [&](std::size_t, std::size_t, double ms) { done.push_back(ms); };
  PRIMSEL_RETURN_IF_ERROR(net.measure(o));
  MeasuredNet m{model, threads, net.problem(), {}, {}, net.report().measure_ms, 0};
  std::vector<std::vector<double>> ms;
  if (net.report().measured_from_cache) {
    std::string word;
    std::size_t n = 0;
    if (!(rec >> word >> m.measure_ms >> m.conversion_ms >> n) || word != "primsel-measure-record" ||
        n != m.problem.size())
      return Error(ErrorCode::invalid_argument, "'" + record + "' does not match '" + cache + "'; delete both");
    m.node_ms.resize(n), ms.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
      std::size_t k = 0;
      rec >> m.node_ms[i] >> k;
      ms[i].resize(k);
      for (double& x : ms[i]) rec >> x;
    }
    if (!rec) return Error(ErrorCode::invalid_argument, "'" + record + "' is truncated; delete it");
  } else {
    std::fprintf(stderr, "measured %s at %d thread(s) in %.1f s\n", model.c_str(), threads, m.measure_ms / 1000);
    for (std::size_t i = 0; i < done.size(); ++i) m.node_ms.push_back(done[i] - (i ? done[i - 1] : 0.0));
    m.conversion_ms = m.measure_ms - (done.empty() ? 0.0 : done.back());
    std::ofstream out(record);
    out << "primsel-measure-record " << m.measure_ms << " " << m.conversion_ms << " " << done.size() << "\n";
    for (std::size_t i = 0; i < done.size(); ++i) {
      ms.push_back(net.report().layers[i].ms);
      out << m.node_ms[i] << " " << ms[i].size();
      for (double x : ms[i]) out << " " << x;
      out << "\n";
    }
  }
  const Graph& graph = net.graph();
  for (std::size_t i = 0; i < graph.nodes().size(); ++i) {
    const Node& n = graph.nodes()[i];
    if (n.op != OpKind::Conv) continue;
    ConvLayer l{i, conv_desc(graph, n), m.problem.nodes[i].candidates, ms[i], {}, {}};
    if (l.ms.size() != l.primitives.size())
      return Error(ErrorCode::invalid_argument, "'" + record + "' disagrees with '" + cache + "'; delete both");
    double sum = 0;
    for (double x : l.ms) sum += x;
    for (std::size_t c = 0; c < l.ms.size(); ++c) {
      l.boundary.push_back(std::max(0.0, m.problem.nodes[i].cost[c] - l.ms[c]));
      l.measure_ms.push_back(sum > 0 ? m.node_ms[i] * l.ms[c] / sum : 0.0);
    }
    m.convs.push_back(std::move(l));
  }
  return m;
}

/// Which candidates of a conv layer get measured, from their predictions (all others keep the predicted time).
///   top1, top2: the 1 / 2 predicted fastest;
///   adaptive:   the predicted fastest, plus the runner-up when the two are within one combined sigma (log scale);
///   sigma_k:    top-k for growing k until the next candidate's predicted gap to the fastest exceeds the combined
///               sigma of the two (adaptive without its cap of 2).
enum class Rule { top1, top2, adaptive, sigma_k };
constexpr Rule rules[] = {Rule::top1, Rule::top2, Rule::adaptive, Rule::sigma_k};
constexpr const char* rule_name(Rule r) {
  return r == Rule::top1 ? "top-1" : r == Rule::top2 ? "top-2" : r == Rule::adaptive ? "adaptive" : "top-k by sigma";
}

/// The rule as Network's guided measuring runs it (predict/measure_rule.hpp).
std::vector<char> pick(const std::vector<Prediction>& p, Rule r) {
  switch (r) {
    case Rule::top1: return candidates_to_measure(p, MeasureRule::top_k, 1);
    case Rule::top2: return candidates_to_measure(p, MeasureRule::top_k, 2);
    case Rule::adaptive: return candidates_to_measure(p, MeasureRule::adaptive, 2);
    case Rule::sigma_k: break;
  }
  return candidates_to_measure(p, MeasureRule::adaptive, static_cast<int>(p.size()));
}

/// The outcome of a rule on one network; sums, so that models pool.
struct NetScore {
  double conv_pairs = 0, conv_measured = 0, pairs = 0, measured = 0;
  double conv_time = 0, conv_time_measured = 0, time = 0, time_measured = 0;  // measuring wall time, ms
  double optimum = 0, filled = 0, restricted = 0;                              // true cost of the bindings, ms
  double lazy = 0, lazy_conv_measured = 0, lazy_time_measured = 0;              // on demand: cost, pairs, time
  NetScore& operator+=(const NetScore& o) {
    lazy += o.lazy, lazy_conv_measured += o.lazy_conv_measured, lazy_time_measured += o.lazy_time_measured;
    conv_pairs += o.conv_pairs, conv_measured += o.conv_measured, pairs += o.pairs, measured += o.measured;
    conv_time += o.conv_time, conv_time_measured += o.conv_time_measured, time += o.time;
    time_measured += o.time_measured, optimum += o.optimum, filled += o.filled, restricted += o.restricted;
    return *this;
  }
};

/// Simulates predictor-guided measuring of `net` offline. Per conv node the rule's candidates keep their measured
/// cost and the others get predicted time + their measured boundary conversion; non-conv nodes (pooling, add,
/// concat: 1-2 cheap candidates) and every edge's conversion costs stay as measured — primsel times conversions
/// separately and cheaply. Exact solves (a) that filled problem and (b) the problem restricted to the measured
/// candidates; each binding is priced on the fully measured problem and compared with Exact's optimum there.
/// (c) "on demand": solve the filled problem; whenever the binding uses an unmeasured candidate, measure it (its
/// cost becomes the measured one) and solve again, until the binding uses measured candidates only.
/// `predict_ms`: wall time of the predictions themselves, charged to start-up.
NetScore simulate(const MeasuredNet& net, const std::vector<std::vector<Prediction>>& predictions, Rule rule,
                  double optimum, double predict_ms) {
  NetScore s;
  s.optimum = optimum;
  SelectionProblem filled = net.problem;
  std::vector<std::vector<char>> keep(net.problem.size());
  for (std::size_t i = 0; i < net.problem.size(); ++i) keep[i].assign(net.problem.choices(i), 1);
  std::vector<bool> is_conv(net.problem.size(), false);
  for (std::size_t l = 0; l < net.convs.size(); ++l) {
    const ConvLayer& c = net.convs[l];
    is_conv[c.node] = true;
    keep[c.node] = pick(predictions[l], rule);
    for (std::size_t k = 0; k < c.ms.size(); ++k) {
      s.conv_pairs += 1, s.conv_time += c.measure_ms[k];
      if (keep[c.node][k])
        s.conv_measured += 1, s.conv_time_measured += c.measure_ms[k];
      else
        filled.nodes[c.node].cost[k] = predictions[l][k].ms + c.boundary[k];
    }
  }
  s.pairs = s.conv_pairs, s.measured = s.conv_measured;
  for (std::size_t i = 0; i < net.problem.size(); ++i)
    if (!is_conv[i]) s.pairs += double(net.problem.choices(i)), s.measured += double(net.problem.choices(i));
  s.time = net.measure_ms;
  s.time_measured = net.measure_ms - s.conv_time + s.conv_time_measured + predict_ms;
  std::vector<std::vector<int>> index;
  const SearchResult r = Exact<>::search(restrict_problem(net.problem, keep, index), {});
  std::vector<int> binding(r.binding.size());
  for (std::size_t i = 0; i < binding.size(); ++i) binding[i] = index[i][static_cast<std::size_t>(r.binding[i])];
  s.restricted = net.problem.cost(binding);
  std::vector<int> chosen = Exact<>::search(filled, {}).binding;
  s.filled = net.problem.cost(chosen);
  s.lazy_conv_measured = s.conv_measured, s.lazy_time_measured = s.time_measured;
  for (bool more = true; more;) {
    more = false;
    for (std::size_t l = 0; l < net.convs.size(); ++l) {
      const std::size_t node = net.convs[l].node, k = static_cast<std::size_t>(chosen[node]);
      if (keep[node][k]) continue;
      keep[node][k] = 1, more = true;
      filled.nodes[node].cost[k] = net.problem.nodes[node].cost[k];
      s.lazy_conv_measured += 1, s.lazy_time_measured += net.convs[l].measure_ms[k];
    }
    if (more) chosen = Exact<>::search(filled, {}).binding;
  }
  s.lazy = net.problem.cost(chosen);
  return s;
}

/// Predictions for every candidate of every conv layer of `net`, and their wall time in ms.
template <class Predict>
std::pair<std::vector<std::vector<Prediction>>, double> predict_net(const MeasuredNet& net, Predict&& predict) {
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::vector<Prediction>> out;
  for (const ConvLayer& l : net.convs) {
    out.emplace_back();
    for (const std::string& p : l.primitives) out.back().push_back(predict(l.desc, p, net.threads));
  }
  return {out, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count()};
}

/// Mean Kendall tau (predicted vs measured) over `net`'s conv layers with a choice; and how many there are.
std::pair<double, int> layer_tau(const MeasuredNet& net, const std::vector<std::vector<Prediction>>& predictions) {
  double sum = 0;
  int n = 0;
  for (std::size_t l = 0; l < net.convs.size(); ++l) {
    if (net.convs[l].ms.size() < 2) continue;
    std::vector<double> pred;
    for (const Prediction& p : predictions[l]) pred.push_back(p.ms);
    sum += kendall_tau(net.convs[l].ms, pred), ++n;
  }
  return {sum, n};
}

void print_net_header() {
  std::printf(
      "| held out | rule | conv pairs measured | all pairs measured | gap, filled | gap, measured only | conv "
      "measuring time | start-up measuring time | on demand: gap | conv pairs | start-up measuring time |\n"
      "|---|---|---|---|---|---|---|---|---|---|---|\n");
}
void print_net_row(const std::string& model, const std::string& rule, const NetScore& s) {
  std::printf("| %s | %s | %.1f%% | %.1f%% | %.2f%% | %.2f%% | %.1f%% | %.1f%% (%.0f of %.0f ms) | %.2f%% | %.1f%% | "
              "%.1f%% |\n",
              model.c_str(), rule.c_str(), 100 * s.conv_measured / s.conv_pairs, 100 * s.measured / s.pairs,
              100 * (s.filled / s.optimum - 1), 100 * (s.restricted / s.optimum - 1),
              100 * s.conv_time_measured / s.conv_time, 100 * s.time_measured / s.time, s.time_measured, s.time,
              100 * (s.lazy / s.optimum - 1), 100 * s.lazy_conv_measured / s.conv_pairs,
              100 * s.lazy_time_measured / s.time);
}

/// Task: leave one model out over whole networks, for each rule, with the default predictor.
void network_experiment(const std::vector<MeasuredNet>& nets, const PredictorOptions& options) {
  std::printf("Whole networks, leave one model out (%s, trained on the other models' samples at the same ISA %s "
              "and thread count). gap = true cost of Exact's binding / fully measured optimum - 1.\n\n",
              std::string(to_string(options.kind)).c_str(), this_isa.c_str());
  print_net_header();
  std::map<Rule, NetScore> pooled;
  std::map<Rule, double> worst;
  for (const MeasuredNet& net : nets) {
    std::vector<Sample> train;
    for (const MeasuredNet& o : nets)
      if (o.model != net.model && o.threads == net.threads)
        for (const Sample& s : o.samples()) train.push_back(s);
    auto p = LatencyPredictor::train(train, options);
    if (!p) {
      std::fprintf(stderr, "%s held out: %s\n", net.model.c_str(), p.error().what());
      continue;
    }
    const auto [pred, predict_ms] =
        predict_net(net, [&](const ConvDesc& d, std::string_view prim, int t) { return p->predict(d, prim, t); });
    const double optimum = Exact<>::search(net.problem, {}).cost;
    for (Rule r : rules) {
      const NetScore s = simulate(net, pred, r, optimum, predict_ms);
      print_net_row(net.model, rule_name(r), s);
      pooled[r] += s, worst[r] = std::max(worst[r], s.filled / s.optimum - 1);
    }
  }
  std::printf("\nPooled over the models (sums of costs, pairs and times); worst model's gap (filled):\n\n");
  print_net_header();
  for (Rule r : rules) print_net_row("all", rule_name(r), pooled[r]);
  for (Rule r : rules) std::printf("worst gap %s: %.2f%%\n", rule_name(r), 100 * worst[r]);
}

/// <= n conv layers (all their candidates) of the nets other than `held_out`, spread over the MAC range:
/// distinct layers with a choice sorted by MACs, taken at quantiles (i + 0.5) / n. Deterministic.
std::vector<Sample> calibration_layers(const std::vector<MeasuredNet>& nets, const std::string& held_out,
                                       std::size_t n) {
  std::vector<std::pair<const MeasuredNet*, const ConvLayer*>> pool;
  for (const MeasuredNet& net : nets) {
    if (net.model == held_out) continue;
    for (const ConvLayer& l : net.convs) {
      bool seen = l.ms.size() < 2;
      for (const auto& [on, ol] : pool) seen = seen || ol->desc == l.desc;
      if (!seen) pool.emplace_back(&net, &l);
    }
  }
  std::stable_sort(pool.begin(), pool.end(),
                   [](const auto& a, const auto& b) { return a.second->desc.macs() < b.second->desc.macs(); });
  std::vector<Sample> out;
  const std::size_t take = std::min(n, pool.size());
  for (std::size_t i = 0; i < take; ++i) {
    const auto& [net, l] = pool[static_cast<std::size_t>((double(i) + 0.5) * double(pool.size()) / double(take))];
    for (std::size_t c = 0; c < l->ms.size(); ++c)
      out.push_back({l->desc, l->primitives[c], net->threads, l->ms[c], tag(net->model)});
  }
  return out;
}

/// How repeatable the measured rankings are here: mean Kendall tau between two measurements of the same layer
/// (repeated blocks within a model, the same layer in two models), and how many pairs. The ceiling a predictor's
/// tau against one measurement can approach when the truth itself is this noisy.
std::pair<double, int> repeat_tau(const std::vector<MeasuredNet>& nets) {
  std::vector<const ConvLayer*> all;
  for (const MeasuredNet& net : nets)
    for (const ConvLayer& l : net.convs)
      if (l.ms.size() >= 2) all.push_back(&l);
  double sum = 0;
  int pairs = 0;
  for (std::size_t i = 0; i < all.size(); ++i)
    for (std::size_t j = i + 1; j < all.size(); ++j)
      if (all[i]->desc == all[j]->desc && all[i]->primitives == all[j]->primitives)
        sum += kendall_tau(all[i]->ms, all[j]->ms), ++pairs;
  return {pairs ? sum / pairs : 0.0, pairs};
}

/// <= n conv layers of the nets other than `held_out` picked by choose_calibration_layers (every primitive
/// covered, spread over sizes), as samples of all their candidates.
std::vector<Sample> coverage_layers(const std::vector<MeasuredNet>& nets, const std::string& held_out, std::size_t n) {
  std::vector<std::pair<const MeasuredNet*, const ConvLayer*>> pool;
  std::vector<CandidateLayer> layers;
  for (const MeasuredNet& net : nets)
    if (net.model != held_out)
      for (const ConvLayer& l : net.convs) pool.emplace_back(&net, &l), layers.push_back({l.desc, l.primitives});
  std::vector<Sample> out;
  for (std::size_t i : choose_calibration_layers(layers, n)) {
    const auto& [net, l] = pool[i];
    for (std::size_t c = 0; c < l->ms.size(); ++c)
      out.push_back({l->desc, l->primitives[c], net->threads, l->ms[c], tag(net->model)});
  }
  return out;
}

/// Task: a predictor trained on another device (`proxy` samples) used on this one, per held-out model: tau per
/// layer and the whole-network gap of the adaptive rule, without and with calibration on <= `cal_layers` layers
/// of the other models measured here; "native" is the predictor trained here (other models), for reference.
void transfer_experiment(const std::vector<MeasuredNet>& nets, const std::vector<Sample>& proxy,
                         const std::string& proxy_name, std::size_t cal_layers, const PredictorOptions& options) {
  std::printf("Transfer %s -> %s at %d thread(s): %zu proxy samples; calibration on <= %zu layers of the other "
              "models measured here.\n\n",
              proxy_name.c_str(), this_isa.c_str(), nets.empty() ? 0 : nets.front().threads, proxy.size(),
              cal_layers);
  const auto [repeat, repeat_pairs] = repeat_tau(nets);
  std::printf("Repeatability here: tau between two measurements of the same layer %.3f (%d pairs)\n\n", repeat,
              repeat_pairs);
  // Calibration "offsets": the global rescale plus per-primitive offsets only (calibrate() before per-primitive
  // slopes and layer effects); "slopes": + per-primitive slopes; "default": offsets + per-layer levels (slopes are
  // off by default since they lowered tau here); "slopes + layer effects": the default before that.
  // Calibration layers "by MACs": calibration_layers(); "coverage": coverage_layers().
  constexpr int never = std::numeric_limits<int>::max(), with_slopes = 5;
  constexpr CalibrationOptions offsets{.min_slope_samples = never, .layer_effects = false};
  constexpr CalibrationOptions slopes{.min_slope_samples = with_slopes, .layer_effects = false},
      slopes_layers{.min_slope_samples = with_slopes};
  struct Variant {
    std::string name;
    bool proxy_has_model, calibrated;
    CalibrationOptions cal;
    bool coverage = false, native = false;
  };
  const std::vector<Variant> variants{
      {"proxy, all models, uncalibrated", true, false, {}},
      {"proxy, all models, offsets, layers by MACs", true, true, offsets},
      {"proxy, all models, slopes, layers by MACs", true, true, slopes},
      {"proxy, all models, slopes + layer effects, layers by MACs", true, true, slopes_layers},
      {"proxy, all models, default, layers by MACs", true, true, {}},
      {"proxy, all models, offsets, coverage layers", true, true, offsets, true},
      {"proxy, all models, default, coverage layers", true, true, {}, true},
      {"proxy, other models, uncalibrated", false, false, {}},
      {"proxy, other models, offsets, layers by MACs", false, true, offsets},
      {"proxy, other models, default, layers by MACs", false, true, {}},
      {"native (other models measured here)", false, false, {}, false, true}};
  std::printf("| held out | predictor | layers | tau | adaptive: conv pairs | gap filled | gap measured only | gap on "
              "demand (conv pairs) | top-2: gap measured only | calibration layers (samples) |\n"
              "|---|---|---|---|---|---|---|---|---|---|\n");
  struct Pool {
    double tau = 0, models_tau = 0;
    int layers = 0, models = 0;
    NetScore adaptive, top2;
    double worst = 0, worst_restricted = 0;
  };
  std::map<std::string, Pool> pooled;
  for (const MeasuredNet& net : nets) {
    const double optimum = Exact<>::search(net.problem, {}).cost;
    const std::vector<Sample> by_macs = calibration_layers(nets, net.model, cal_layers);
    const std::vector<Sample> covering = coverage_layers(nets, net.model, cal_layers);
    for (const Variant& v : variants) {
      const std::vector<Sample>& cal = v.coverage ? covering : by_macs;
      std::size_t cal_count = 0;  // layers: their candidates are consecutive
      for (std::size_t i = 0; i < cal.size(); ++i) cal_count += i == 0 || !(cal[i].desc == cal[i - 1].desc) ? 1 : 0;
      std::vector<Sample> train;
      if (v.native) {
        for (const MeasuredNet& o : nets)
          if (o.model != net.model)
            for (const Sample& s : o.samples()) train.push_back(s);
      } else {
        for (const Sample& s : proxy)
          if (v.proxy_has_model || model_of(s.source) != net.model) train.push_back(s);
      }
      auto p = LatencyPredictor::train(train, options);
      if (!p) {
        std::fprintf(stderr, "%s held out, %s: %s\n", net.model.c_str(), v.name.c_str(), p.error().what());
        continue;
      }
      if (v.calibrated) {
        if (Status s = p->calibrate(cal, v.cal); !s) {
          std::fprintf(stderr, "%s held out, %s: %s\n", net.model.c_str(), v.name.c_str(), s.error().what());
          continue;
        }
      }
      const auto [pred, predict_ms] =
          predict_net(net, [&](const ConvDesc& d, std::string_view prim, int t) { return p->predict(d, prim, t); });
      const auto [tau, layers] = layer_tau(net, pred);
      const NetScore a = simulate(net, pred, Rule::adaptive, optimum, predict_ms);
      const NetScore t2 = simulate(net, pred, Rule::top2, optimum, predict_ms);
      std::printf("| %s | %s | %d | %.3f | %.1f%% | %.2f%% | %.2f%% | %.2f%% (%.1f%%) | %.2f%% | %s |\n",
                  net.model.c_str(), v.name.c_str(), layers, layers ? tau / layers : 0.0,
                  100 * a.conv_measured / a.conv_pairs, 100 * (a.filled / a.optimum - 1),
                  100 * (a.restricted / a.optimum - 1), 100 * (a.lazy / a.optimum - 1),
                  100 * a.lazy_conv_measured / a.conv_pairs, 100 * (t2.restricted / t2.optimum - 1),
                  v.calibrated ? (std::to_string(cal_count) + " (" + std::to_string(cal.size()) + ")").c_str() : "-");
      Pool& pl = pooled[v.name];
      pl.tau += tau, pl.layers += layers, pl.models_tau += layers ? tau / layers : 0.0, pl.models += 1;
      pl.adaptive += a, pl.top2 += t2, pl.worst = std::max(pl.worst, a.filled / a.optimum - 1);
      pl.worst_restricted = std::max(pl.worst_restricted, a.restricted / a.optimum - 1);
    }
  }
  std::printf("\nPooled (sums of network costs and pairs over the held-out models; worst: the worst model's gap):\n\n"
              "| predictor | tau per layer (all layers) | tau, mean of models | adaptive: conv pairs | gap filled "
              "(worst) | gap measured only (worst) | gap on demand (conv pairs) | top-2: gap measured only |\n"
              "|---|---|---|---|---|---|---|---|\n");
  for (const Variant& v : variants) {
    const Pool& pl = pooled[v.name];
    const NetScore& a = pl.adaptive;
    std::printf("| %s | %.3f | %.3f | %.1f%% | %.2f%% (%.2f%%) | %.2f%% (%.2f%%) | %.2f%% (%.1f%%) | %.2f%% |\n",
                v.name.c_str(), pl.layers ? pl.tau / pl.layers : 0.0, pl.models ? pl.models_tau / pl.models : 0.0,
                100 * a.conv_measured / a.conv_pairs, 100 * (a.filled / a.optimum - 1), 100 * pl.worst,
                100 * (a.restricted / a.optimum - 1), 100 * pl.worst_restricted, 100 * (a.lazy / a.optimum - 1),
                100 * a.lazy_conv_measured / a.conv_pairs, 100 * (pl.top2.restricted / pl.top2.optimum - 1));
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> models{"lenet5", "squeezenet1_1", "mobilenet_v2", "resnet18", "googlenet"};
  std::vector<int> threads{1};
  std::string samples_path, header_path, out_path, cache_dir, experiment = "kinds", proxy_path, proxy_isa;
  int proxy_threads = 0;
  std::size_t cal_layers = 10;
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
    } else if (a == "--cache-dir" && has) {
      cache_dir = argv[++i];
    } else if (a == "--experiment" && has) {
      experiment = argv[++i];
    } else if (a == "--proxy" && has) {
      proxy_path = argv[++i];
    } else if (a == "--proxy-isa" && has) {
      proxy_isa = argv[++i];
    } else if (a == "--proxy-threads" && has) {
      proxy_threads = std::stoi(argv[++i]);
    } else if (a == "--calibration-layers" && has) {
      cal_layers = static_cast<std::size_t>(std::stoi(argv[++i]));
    } else {
      std::printf(
          "usage: predictor_bench [--models a,b,..] [--threads 1,2,..] [--samples FILE] [--out FILE.txt]"
          " [--header FILE.hpp]\n"
          "         [--cache-dir DIR] [--experiment kinds|network|transfer] [--proxy SAMPLES --proxy-isa ISA"
          " --proxy-threads N] [--calibration-layers N]\n"
          "this build measures with %s kernels\n",
          this_isa.c_str());
      return a == "--help" ? 0 : 2;
    }
  }
  if ((experiment == "network" || experiment == "transfer") && cache_dir.empty()) {
    std::fprintf(stderr, "--experiment %s needs --cache-dir (whole measured problems)\n", experiment.c_str());
    return 2;
  }
  if (experiment == "transfer" && (proxy_path.empty() || threads.size() != 1)) {
    std::fprintf(stderr, "--experiment transfer needs --proxy SAMPLES and one --threads value\n");
    return 2;
  }
  std::vector<Sample> samples;
  if (!samples_path.empty()) {
    if (auto loaded = load_samples(samples_path))
      samples = std::move(*loaded);
    else if (loaded.error().code() != ErrorCode::io_error)
      std::fprintf(stderr, "%s\n", loaded.error().what());
  }
  // Samples without an ISA tag predate it; this build cannot tell whose they are: kept in the file, not used.
  const auto untagged =
      std::count_if(samples.begin(), samples.end(), [](const Sample& s) { return isa_of(s.source).empty(); });
  if (untagged > 0) std::fprintf(stderr, "ignoring %td samples without an ISA tag in their source\n", untagged);
  std::vector<MeasuredNet> nets;
  for (const std::string& m : models)
    for (int t : threads) {
      if (!cache_dir.empty()) {
        auto net = load_net(m, t, cache_dir);
        if (!net) {
          std::fprintf(stderr, "%s\n", net.error().what());
          return 1;
        }
        // The network's own samples replace any of the file's for it: one measurement behind every number.
        std::erase_if(samples, [&](const Sample& s) { return s.source == tag(m) && s.threads == t; });
        const std::vector<Sample> got = net->samples();
        samples.insert(samples.end(), got.begin(), got.end());
        nets.push_back(std::move(*net));
      } else {
        bool have = false;
        for (const Sample& s : samples) have = have || (s.source == tag(m) && s.threads == t);
        if (have) continue;
        auto got = measure_model(m, t);
        if (!got) {
          std::fprintf(stderr, "%s\n", got.error().what());
          return 1;
        }
        samples.insert(samples.end(), got->begin(), got->end());
      }
      if (!samples_path.empty()) save_samples(samples_path, samples).value();
    }
  // Only the chosen models and thread counts, measured by this build's ISA, take part.
  std::erase_if(samples, [&](const Sample& s) {
    return std::find(models.begin(), models.end(), model_of(s.source)) == models.end() ||
           std::find(threads.begin(), threads.end(), s.threads) == threads.end() || isa_of(s.source) != this_isa;
  });
  std::printf("%zu samples of %zu models, %s kernels\n\n", samples.size(), models.size(), this_isa.c_str());
  if (experiment == "network") {
    network_experiment(nets, {});
    return 0;
  }
  if (experiment == "transfer") {
    auto proxy = load_samples(proxy_path);
    if (!proxy) {
      std::fprintf(stderr, "%s\n", proxy.error().what());
      return 1;
    }
    std::erase_if(*proxy, [&](const Sample& s) {
      return (!proxy_isa.empty() && isa_of(s.source) != proxy_isa) ||
             (proxy_threads > 0 && s.threads != proxy_threads) ||
             std::find(models.begin(), models.end(), model_of(s.source)) == models.end();
    });
    if (proxy->empty()) {
      std::fprintf(stderr, "no proxy samples of ISA '%s' and %d thread(s) in %s\n", proxy_isa.c_str(), proxy_threads,
                   proxy_path.c_str());
      return 1;
    }
    const std::string name = (proxy_isa.empty() ? std::string("proxy") : proxy_isa) +
                             (proxy_threads > 0 ? " " + std::to_string(proxy_threads) + "t" : std::string());
    transfer_experiment(nets, *proxy, name, cal_layers, {});
    return 0;
  }
  if (experiment != "kinds") {
    std::fprintf(stderr, "unknown experiment '%s'\n", experiment.c_str());
    return 2;
  }

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
        if (model_of(s.source) != m) train.push_back(s);
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
