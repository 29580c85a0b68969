// Planning a pipeline (Pipe-it, Wang et al., DATE 2019): split a network's node order into contiguous stages, give
// each stage a core group (and optionally several replicas of it), and maximise throughput, i.e. minimise the
// period = max over stages of (stage time on its group + handoff) / replicas. For a chain this DP is exact; a DAG is
// planned on its topological order, where a cut before node k carries every value live across it (skip connections
// included, priced by the handoff), so the DP is exact over contiguous splits of that order, not over every DAG
// partition. Costs come from measurement (measure_layer_costs) or a model (tests, the big.LITTLE simulation).
//
//   LayerCosts costs = measure_layer_costs(net, {.max_group = 2}).value();       // per node, per group size
//   PipelinePlan plan = plan_pipeline(costs, host_clusters());                    // stages, cuts, core groups
//   bind_stages<Exact<>>(plan, costs);                                            // each stage's own binding
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <functional>
#include <limits>
#include <map>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#if defined(__linux__)
#include <sched.h>
#endif

#include "primsel/core/cpu.hpp"
#include "primsel/core/layout_convert.hpp"
#include "primsel/graph/subgraph.hpp"
#include "primsel/runtime/measure.hpp"
#include "primsel/runtime/network.hpp"
#include "primsel/search/exact.hpp"
#include "primsel/search/problem.hpp"

namespace primsel {

/// Cores of one kind. `slowdown` multiplies every measured time: 1 for the cores that were measured, e.g. 2.5 for
/// a LITTLE cluster next to measured big cores. A core group never mixes clusters (intra-op work is split
/// statically, so the slowest core would set the pace).
struct CoreCluster {
  std::string name = "cpu";
  std::vector<int> cpus;  ///< CPU ids the cluster's threads are pinned to; their number is the cluster's size
  double slowdown = 1.0;
  int cores() const noexcept { return static_cast<int>(cpus.size()); }
};

/// The CPUs this process may run on (sched_getaffinity on Linux; 0..hardware_threads-1 elsewhere), as one cluster.
inline std::vector<CoreCluster> host_clusters() {
  CoreCluster c;
#if defined(__linux__)
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0)
    for (int i = 0; i < CPU_SETSIZE; ++i)
      if (CPU_ISSET(i, &set)) c.cpus.push_back(i);
#endif
  if (c.cpus.empty())
    for (int i = 0; i < hardware_threads(); ++i) c.cpus.push_back(i);
  return {c};
}

/// The planner's cost model of one network (n nodes in topological order).
struct LayerCosts {
  std::vector<std::string> names;       ///< node names, for reports
  std::vector<std::vector<double>> ms;  ///< ms[g - 1][i]: node i on a group of g cores (conversions into it included)
  /// A stage [j, k) also pays cut_in[j] (take the live values from the queue, convert them to the layouts its
  /// nodes read) and cut_out[k] (convert what it hands on to nchw). Both have n + 1 entries.
  std::vector<double> cut_in, cut_out;
  /// Per group size g (index g - 1), for bind_stages: the measured selection problem and the candidate names.
  std::vector<SelectionProblem> problems;
  std::size_t size() const noexcept { return names.size(); }
  int max_group() const noexcept { return static_cast<int>(ms.size()); }
};

struct PlanOptions {
  bool replicas = true;  ///< let a stage run as several replicas on separate groups (round-robin over inputs)
  int min_stages = 1;    ///< 2: pipelines only (how the bench shows a pure pipeline next to the planner's choice)
};

/// One stage of a plan: nodes [first, last), `replicas` copies each on `group` cores of cluster `cluster`.
struct PlanStage {
  std::size_t first = 0, last = 0;
  int cluster = 0;
  int group = 1;
  int replicas = 1;
  double ms = 0;                         ///< predicted time per input on one replica, handoff included
  std::vector<std::vector<int>> cpus;    ///< per replica: the CPUs its threads are pinned to
  std::vector<std::string> binding;      ///< candidate per node (bind_stages); empty: the stage searches itself
};

struct PipelinePlan {
  std::vector<PlanStage> stages;
  double period_ms = 0;   ///< predicted steady-state time between outputs: max over stages of ms / replicas
  double latency_ms = 0;  ///< predicted time of one input through an idle pipeline: the sum of stage times
  double images_per_s() const noexcept { return period_ms > 0 ? 1000.0 / period_ms : 0.0; }
  int cores() const noexcept {
    int c = 0;
    for (const PlanStage& s : stages) c += s.group * s.replicas;
    return c;
  }
};

/// Predicted time of nodes [first, last) as one stage on g cores of a cluster (g <= costs.max_group()).
inline double stage_ms(const LayerCosts& costs, std::size_t first, std::size_t last, int g, double slowdown = 1.0) {
  double t = costs.cut_in[first] + costs.cut_out[last];
  for (std::size_t i = first; i < last; ++i) t += costs.ms[static_cast<std::size_t>(g - 1)][i];
  return t * slowdown;
}

/// The plan that maximises throughput (minimises the period) over every split of the node order into contiguous
/// stages and every assignment of (cluster, group size, replicas) to them within the clusters' cores; ties go to
/// the lower latency. DP over (nodes done, cores used per cluster, stages so far capped at min_stages): exact for
/// the period. Group sizes above costs.max_group() are not considered. Returns no stages if nothing fits.
inline PipelinePlan plan_pipeline(const LayerCosts& costs, std::span<const CoreCluster> clusters, const PlanOptions& o = {}) {
  const std::size_t n = costs.size(), K = clusters.size();
  const int S = std::max(1, o.min_stages), D = S + 1;  // stages so far, capped at S: 0..S
  // Used cores per cluster as one mixed-radix index.
  std::vector<std::size_t> radix(K), stride(K);
  std::size_t U = 1;
  for (std::size_t c = 0; c < K; ++c) radix[c] = static_cast<std::size_t>(clusters[c].cores()) + 1, stride[c] = U, U *= radix[c];
  // Prefix sums per group size: a stage's time in O(1).
  std::vector<std::vector<double>> prefix(costs.ms.size(), std::vector<double>(n + 1, 0.0));
  for (std::size_t g = 0; g < costs.ms.size(); ++g)
    for (std::size_t i = 0; i < n; ++i) prefix[g][i + 1] = prefix[g][i] + costs.ms[g][i];
  struct Cell {
    double period = std::numeric_limits<double>::infinity(), latency = 0;
    std::size_t from = 0, from_u = 0;
    int from_s = 0, cluster = -1, group = 0, replicas = 0;
    double ms = 0;
  };
  auto better = [](double p, double l, const Cell& c) {
    return p < c.period * (1 - 1e-12) || (p <= c.period * (1 + 1e-12) && l < c.latency);
  };
  std::vector<Cell> dp((n + 1) * U * static_cast<std::size_t>(D));
  auto at = [&](std::size_t k, std::size_t u, int s) -> Cell& { return dp[(k * U + u) * static_cast<std::size_t>(D) + static_cast<std::size_t>(s)]; };
  at(0, 0, 0).period = 0;
  for (std::size_t k = 1; k <= n; ++k)
    for (std::size_t j = 0; j < k; ++j)
      for (std::size_t u = 0; u < U; ++u)
        for (int s = 0; s < D; ++s) {
          const Cell& prev = at(j, u, s);
          if (!std::isfinite(prev.period)) continue;
          const int s2 = std::min(s + 1, S);
          for (std::size_t c = 0; c < K; ++c) {
            const int used = static_cast<int>(u / stride[c] % radix[c]), free = clusters[c].cores() - used;
            for (int g = 1; g <= std::min(free, costs.max_group()); ++g) {
              const double t = (prefix[static_cast<std::size_t>(g - 1)][k] - prefix[static_cast<std::size_t>(g - 1)][j] +
                                costs.cut_in[j] + costs.cut_out[k]) * clusters[c].slowdown;
              for (int r = 1; r <= (o.replicas ? free / g : 1); ++r) {
                const std::size_t u2 = u + static_cast<std::size_t>(g * r) * stride[c];
                const double p = std::max(prev.period, t / r), l = prev.latency + t;
                Cell& next = at(k, u2, s2);
                if (better(p, l, next)) next = {p, l, j, u, s, static_cast<int>(c), g, r, t};
              }
            }
          }
        }
  PipelinePlan plan;
  const Cell* best = nullptr;
  std::size_t best_u = 0;
  for (std::size_t u = 0; u < U; ++u) {
    const Cell& c = at(n, u, S);
    if (std::isfinite(c.period) && (!best || better(c.period, c.latency, *best))) best = &c, best_u = u;
  }
  if (!best || n == 0) return plan;
  plan.period_ms = best->period;
  plan.latency_ms = best->latency;
  // Walk back through the argmins.
  std::size_t k = n, u = best_u;
  int s = S;
  while (k > 0) {
    const Cell& c = at(k, u, s);
    plan.stages.push_back({c.from, k, c.cluster, c.group, c.replicas, c.ms, {}, {}});
    k = c.from, u = c.from_u, s = c.from_s;
  }
  std::reverse(plan.stages.begin(), plan.stages.end());
  // Hand out CPUs in stage order, each cluster's from its start.
  std::vector<std::size_t> next_cpu(K, 0);
  for (PlanStage& st : plan.stages) {
    const CoreCluster& cl = clusters[static_cast<std::size_t>(st.cluster)];
    for (int r = 0; r < st.replicas; ++r) {
      std::vector<int> cpus;
      for (int g = 0; g < st.group; ++g) cpus.push_back(cl.cpus[next_cpu[static_cast<std::size_t>(st.cluster)]++]);
      st.cpus.push_back(std::move(cpus));
    }
  }
  return plan;
}

/// A plan of one stage holding every node: `replicas` copies on `group` cores each of cluster `cluster` (mode (a)
/// is one replica on all cores, mode (b) one replica per core). CPUs are handed out as plan_pipeline does.
inline PipelinePlan single_stage_plan(const LayerCosts& costs, const CoreCluster& cluster, int group, int replicas,
                                      int cluster_index = 0) {
  PipelinePlan plan;
  PlanStage st{0, costs.size(), cluster_index, group, replicas, stage_ms(costs, 0, costs.size(), group, cluster.slowdown), {}, {}};
  for (int r = 0, next = 0; r < replicas; ++r) {
    std::vector<int> cpus;
    for (int g = 0; g < group; ++g) cpus.push_back(cluster.cpus[static_cast<std::size_t>(next++) % cluster.cpus.size()]);
    st.cpus.push_back(std::move(cpus));
  }
  plan.period_ms = st.ms / replicas;
  plan.latency_ms = st.ms;
  plan.stages.push_back(std::move(st));
  return plan;
}

/// Group sizes the measurements do not reach, extrapolated for simulations: each node keeps the parallel
/// efficiency it showed from 1 to max_group() cores: t(g) = t1 / (1 + (g - 1) e). With one measured size there is
/// no efficiency to keep and it assumes perfect scaling, which no real layer shows: measure at least two.
inline LayerCosts extrapolate_groups(LayerCosts costs, int max_group) {
  const int measured = costs.max_group();
  if (measured == 0) return costs;
  for (int g = measured + 1; g <= max_group; ++g) {
    std::vector<double> t(costs.size());
    for (std::size_t i = 0; i < costs.size(); ++i) {
      const double t1 = costs.ms[0][i], tm = costs.ms[static_cast<std::size_t>(measured - 1)][i];
      const double e = measured > 1 && tm > 0 ? std::clamp((t1 / tm - 1) / (measured - 1), 0.0, 1.0) : 1.0;
      t[i] = t1 / (1 + (g - 1) * e);
    }
    costs.ms.push_back(std::move(t));
  }
  return costs;
}

/// Time of converting a tensor between layouts (0 when they agree), measured once per key.
inline double conversion_ms(const Shape& shape, Layout from, Layout to,
                            std::map<std::tuple<std::string, Layout, Layout>, double>& memo) {
  if (from == to || shape.rank() != 4) return 0.0;
  const auto key = std::make_tuple(to_string(shape), from, to);
  if (auto it = memo.find(key); it != memo.end()) return it->second;
  Tensor src(shape, Format{from}), dst(shape, Format{to});
  return memo[key] = median_ms([&] { (void)convert(src.view(), dst.view()); }, {.min_runs = 3, .cap_ms = 20});
}

struct LayerCostOptions {
  int max_group = 0;        ///< measure group sizes 1..max_group (0: every CPU of host_clusters())
  double handoff_ms = 0.02; ///< per stage: wake-up and queue handoff (measure_handoff_ms() in pipeline.hpp measures it)
  BindOptions bind{};       ///< measuring options; `threads` is overridden per group size
  /// The tuning cache for group size g (empty: none). The network measures each thread count separately.
  std::function<std::string(int)> cache_path;
};

/// Measures `net` on 1..max_group threads, binds it with searcher T, and turns each binding into per-node times
/// (the chosen candidate plus the conversions on its incoming edges); the cut costs price the conversions of the
/// live values to and from nchw (the pipeline's handoff format) with the one-thread binding's layouts. Leaves
/// `net` bound on max_group threads.
template <Searcher T = Exact<>, Searcher S, class P>
Expected<LayerCosts> measure_layer_costs(Network<S, P>& net, const LayerCostOptions& o = {}) {
  const Graph& g = net.graph();
  const std::size_t n = g.nodes().size();
  const int G = o.max_group > 0 ? o.max_group : host_clusters()[0].cores();
  LayerCosts costs;
  for (const Node& node : g.nodes()) costs.names.push_back(node.name);
  std::vector<Layout> in_layout(n), out_layout(n);
  for (int threads = G; threads >= 1; --threads) {  // 1 last: its layouts price the cuts
    BindOptions b = o.bind;
    b.threads = threads;
    if (o.cache_path) b.cache_path = o.cache_path(threads);
    PRIMSEL_RETURN_IF_ERROR(net.template bind_with<T>(b));
    const SelectionProblem& p = net.problem();
    const std::vector<int>& x = net.report().search.binding;
    std::vector<double> t(n);
    for (std::size_t i = 0; i < n; ++i) t[i] = p.nodes[i].cost[static_cast<std::size_t>(x[i])];
    for (const SearchEdge& e : p.edges)
      t[static_cast<std::size_t>(e.to)] += p.edge_cost(e, x[static_cast<std::size_t>(e.from)], x[static_cast<std::size_t>(e.to)]);
    costs.ms.insert(costs.ms.begin(), std::move(t));
    costs.problems.insert(costs.problems.begin(), p);
    for (std::size_t i = 0; i < n; ++i)
      in_layout[i] = net.report().layers[i].input_format.layout, out_layout[i] = net.report().layers[i].output_format.layout;
  }
  std::map<std::tuple<std::string, Layout, Layout>, double> memo;
  costs.cut_in.assign(n + 1, o.handoff_ms);
  costs.cut_out.assign(n + 1, 0.0);
  const auto readers = g.consumers();
  for (std::size_t k = 1; k < n; ++k)
    for (ValueId v : live_values(g, k)) {
      const Value& val = g.value(v);
      if (val.producer >= 0) costs.cut_out[k] += conversion_ms(val.shape, out_layout[static_cast<std::size_t>(val.producer)], Layout::nchw, memo);
      std::vector<Layout> seen;  // one conversion per layout the readers after the cut need
      for (int r : readers[static_cast<std::size_t>(v)]) {
        const Layout l = in_layout[static_cast<std::size_t>(r)];
        if (static_cast<std::size_t>(r) < k || std::find(seen.begin(), seen.end(), l) != seen.end()) continue;
        seen.push_back(l);
        costs.cut_in[k] += conversion_ms(val.shape, Layout::nchw, l, memo);
      }
    }
  return costs;
}

/// The selection problem of nodes [first, last) alone: their candidates and the edges between them.
inline SelectionProblem restrict_problem(const SelectionProblem& p, std::size_t first, std::size_t last) {
  SelectionProblem r;
  r.nodes.assign(p.nodes.begin() + static_cast<std::ptrdiff_t>(first), p.nodes.begin() + static_cast<std::ptrdiff_t>(last));
  for (const SearchEdge& e : p.edges)
    if (static_cast<std::size_t>(e.from) >= first && static_cast<std::size_t>(e.to) < last)
      r.edges.push_back({e.from - static_cast<int>(first), e.to - static_cast<int>(first), e.cost});
  return r;
}

/// Searches each stage's binding with T on the problem measured at the stage's own thread count, restricted to
/// its nodes (conversions at its boundary are priced by the cuts instead), and stores the candidate names.
template <Searcher T>
Status bind_stages(PipelinePlan& plan, const LayerCosts& costs, const SearchOptions& so = {}) {
  for (PlanStage& st : plan.stages) {
    PRIMSEL_CHECK(st.group >= 1 && st.group <= static_cast<int>(costs.problems.size()), ErrorCode::invalid_argument,
                  "no measured problem for a group of " + std::to_string(st.group) + " cores");
    const SelectionProblem sub = restrict_problem(costs.problems[static_cast<std::size_t>(st.group - 1)], st.first, st.last);
    const SearchResult r = T::search(sub, so);
    st.binding.clear();
    for (std::size_t i = 0; i < sub.size(); ++i) st.binding.push_back(sub.nodes[i].candidates[static_cast<std::size_t>(r.binding[i])]);
  }
  return {};
}

/// "conv1..layer1.1.conv2 (12 nodes) on 2 cores [0,1] x1, 3.210 ms" for each stage, one per line.
inline std::string describe(const PipelinePlan& plan, const LayerCosts& costs, std::span<const CoreCluster> clusters = {}) {
  std::string out;
  for (std::size_t s = 0; s < plan.stages.size(); ++s) {
    const PlanStage& st = plan.stages[s];
    char buf[96];
    out += "  stage " + std::to_string(s) + ": " + costs.names[st.first] + " .. " + costs.names[st.last - 1] + " (" +
           std::to_string(st.last - st.first) + " nodes) on ";
    if (st.replicas > 1) out += std::to_string(st.replicas) + " replicas x ";
    out += std::to_string(st.group) + (st.group == 1 ? " core" : " cores");
    if (static_cast<std::size_t>(st.cluster) < clusters.size() && clusters.size() > 1)
      out += " (" + clusters[static_cast<std::size_t>(st.cluster)].name + ")";
    out += " cpus";
    for (const auto& group : st.cpus) {
      out += " [";
      for (std::size_t c = 0; c < group.size(); ++c) out += (c ? "," : "") + std::to_string(group[c]);
      out += "]";
    }
    std::snprintf(buf, sizeof buf, ", %.3f ms per input\n", st.ms);
    out += buf;
  }
  return out;
}

}  // namespace primsel
