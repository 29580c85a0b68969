// The pipeline planner: its DP equals brute force over every split and core assignment on small random problems,
// it picks what the cost model says on hand-made ones (intra-op when layers scale, replicas or a pipeline when they
// do not), and measuring a real network gives costs and per-stage bindings of the right shape.
#include <catch2/catch.hpp>

#include <functional>
#include <random>

#include "primsel/runtime/pipeline_plan.hpp"
#include "primsel/search/searchers.hpp"
#include "primsel/zoo/zoo.hpp"

using namespace primsel;

namespace {

LayerCosts synthetic(std::vector<std::vector<double>> ms, double handoff) {
  LayerCosts c;
  const std::size_t n = ms[0].size();
  for (std::size_t i = 0; i < n; ++i) c.names.push_back("n" + std::to_string(i));
  c.ms = std::move(ms);
  c.cut_in.assign(n + 1, handoff);
  c.cut_out.assign(n + 1, 0.0);
  return c;
}

std::vector<CoreCluster> clusters(std::vector<std::pair<int, double>> spec) {
  std::vector<CoreCluster> out;
  int next = 0;
  for (auto [cores, slowdown] : spec) {
    CoreCluster c{"c" + std::to_string(out.size()), {}, slowdown};
    for (int i = 0; i < cores; ++i) c.cpus.push_back(next++);
    out.push_back(c);
  }
  return out;
}

/// The best period over every split into contiguous stages and every (cluster, group, replicas) per stage.
double brute_force(const LayerCosts& c, const std::vector<CoreCluster>& cl, const PlanOptions& o) {
  double best = INFINITY;
  std::vector<int> free;
  for (const CoreCluster& k : cl) free.push_back(k.cores());
  std::function<void(std::size_t, double, int)> go = [&](std::size_t j, double period, int stages) {
    if (j == c.size()) {
      if (stages >= o.min_stages) best = std::min(best, period);
      return;
    }
    for (std::size_t k = j + 1; k <= c.size(); ++k)
      for (std::size_t q = 0; q < cl.size(); ++q)
        for (int g = 1; g <= std::min(free[q], c.max_group()); ++g)
          for (int r = 1; r <= (o.replicas ? free[q] / g : 1); ++r) {
            free[q] -= g * r;
            go(k, std::max(period, stage_ms(c, j, k, g, cl[q].slowdown) / r), stages + 1);
            free[q] += g * r;
          }
  };
  go(0, 0.0, 0);
  return best;
}

/// The plan's own bookkeeping: stages tile the nodes, cores within the clusters, period and latency recomputed.
void check_consistent(const PipelinePlan& p, const LayerCosts& c, const std::vector<CoreCluster>& cl) {
  REQUIRE(!p.stages.empty());
  CHECK(p.stages.front().first == 0);
  CHECK(p.stages.back().last == c.size());
  std::vector<int> used(cl.size(), 0);
  double period = 0, latency = 0;
  for (std::size_t s = 0; s < p.stages.size(); ++s) {
    const PlanStage& st = p.stages[s];
    if (s > 0) CHECK(st.first == p.stages[s - 1].last);
    used[static_cast<std::size_t>(st.cluster)] += st.group * st.replicas;
    CHECK(st.cpus.size() == static_cast<std::size_t>(st.replicas));
    for (const auto& g : st.cpus) CHECK(g.size() == static_cast<std::size_t>(st.group));
    CHECK(st.ms == Approx(stage_ms(c, st.first, st.last, st.group, cl[static_cast<std::size_t>(st.cluster)].slowdown)));
    period = std::max(period, st.ms / st.replicas);
    latency += st.ms;
  }
  for (std::size_t q = 0; q < cl.size(); ++q) CHECK(used[q] <= cl[q].cores());
  CHECK(p.period_ms == Approx(period));
  CHECK(p.latency_ms == Approx(latency));
}

}  // namespace

TEST_CASE("the planner's period equals brute force on small random problems") {
  std::mt19937 rng(11);
  std::uniform_real_distribution<double> t(0.1, 3.0), eff(0.3, 1.0);
  const std::vector<std::vector<std::pair<int, double>>> devices{{{2, 1.0}}, {{3, 1.0}}, {{2, 1.0}, {2, 2.5}}, {{1, 1.0}, {3, 3.0}}};
  for (int trial = 0; trial < 120; ++trial) {
    const std::size_t n = 1 + static_cast<std::size_t>(trial % 6);
    const int groups = 1 + trial % 3;
    std::vector<std::vector<double>> ms(static_cast<std::size_t>(groups), std::vector<double>(n));
    for (std::size_t i = 0; i < n; ++i) {
      ms[0][i] = t(rng);
      for (int g = 2; g <= groups; ++g) ms[static_cast<std::size_t>(g - 1)][i] = ms[0][i] / (1 + (g - 1) * eff(rng));
    }
    const LayerCosts c = synthetic(ms, trial % 2 ? 0.05 : 0.0);
    const auto cl = clusters(devices[static_cast<std::size_t>(trial) % devices.size()]);
    for (PlanOptions o : {PlanOptions{}, PlanOptions{.replicas = false}, PlanOptions{.replicas = true, .min_stages = 2}}) {
      INFO("trial " << trial << ", replicas " << o.replicas << ", min_stages " << o.min_stages);
      const double want = brute_force(c, cl, o);
      const PipelinePlan p = plan_pipeline(c, cl, o);
      if (!std::isfinite(want)) {  // e.g. two stages wanted on one core
        CHECK(p.stages.empty());
        continue;
      }
      CHECK(p.period_ms == Approx(want).epsilon(1e-12));
      check_consistent(p, c, cl);
      CHECK(static_cast<int>(p.stages.size()) >= o.min_stages);
    }
  }
}

TEST_CASE("layers that scale run intra-op; layers that do not run as replicas, or as a pipeline without them") {
  const auto two = clusters({{2, 1.0}});
  SECTION("perfect scaling: one stage on both cores (replicas tie on throughput, lose on latency)") {
    const PipelinePlan p = plan_pipeline(synthetic({{2, 2, 2, 2}, {1, 1, 1, 1}}, 0.0), two);
    REQUIRE(p.stages.size() == 1);
    CHECK(p.stages[0].group == 2);
    CHECK(p.stages[0].replicas == 1);
    CHECK(p.period_ms == Approx(4.0));
  }
  SECTION("no scaling: one replica per core") {
    const PipelinePlan p = plan_pipeline(synthetic({{2, 2, 2, 2}, {2, 2, 2, 2}}, 0.01), two);
    REQUIRE(p.stages.size() == 1);
    CHECK(p.stages[0].replicas == 2);
    CHECK(p.period_ms == Approx((8 + 0.01) / 2));
  }
  SECTION("no scaling and no replicas: the balanced cut of a pipeline") {
    const PipelinePlan p = plan_pipeline(synthetic({{3, 1, 1, 1}, {3, 1, 1, 1}}, 0.0), two, {.replicas = false});
    REQUIRE(p.stages.size() == 2);
    CHECK(p.stages[0].last == 1);
    CHECK(p.period_ms == Approx(3.0));
    CHECK(p.stages[0].cpus[0] != p.stages[1].cpus[0]);
  }
  SECTION("big.LITTLE: the big cluster takes the heavy head, the LITTLE one the light tail") {
    const auto bl = clusters({{1, 1.0}, {1, 3.0}});
    const PipelinePlan p = plan_pipeline(synthetic({{4, 1, 1}}, 0.0), bl, {.replicas = false});
    REQUIRE(p.stages.size() == 2);
    CHECK(p.stages[0].cluster == 0);
    CHECK(p.stages[0].last == 2);
    CHECK(p.stages[1].cluster == 1);
    CHECK(p.period_ms == Approx(5.0));  // 4 + 1 on big, 1 x 3 on LITTLE
  }
  SECTION("single-stage plans are the comparison modes") {
    const LayerCosts c = synthetic({{2, 2}, {1.5, 1.5}}, 0.0);
    CHECK(single_stage_plan(c, two[0], 2, 1).period_ms == Approx(3.0));
    const PipelinePlan b = single_stage_plan(c, two[0], 1, 2);
    CHECK(b.period_ms == Approx(2.0));
    CHECK(b.latency_ms == Approx(4.0));
    CHECK(b.stages[0].cpus == std::vector<std::vector<int>>{{0}, {1}});
  }
}

TEST_CASE("extrapolated group sizes keep each layer's measured parallel efficiency") {
  const LayerCosts c = extrapolate_groups(synthetic({{4, 4}, {2, 4}}, 0.0), 4);
  REQUIRE(c.max_group() == 4);
  CHECK(c.ms[3][0] == Approx(1.0));  // scaled perfectly from 1 to 2: keeps doing so
  CHECK(c.ms[3][1] == Approx(4.0));  // did not scale: still does not
}

TEST_CASE("measured layer costs and per-stage bindings for a real network") {
  auto net = Network<Greedy>::create(zoo::build("lenet5").value()).value();
  auto costs = measure_layer_costs(net, {.max_group = 2, .bind = {.measure = {.warmup = 0, .min_runs = 1, .max_runs = 1}}});
  REQUIRE(costs.ok());
  const std::size_t n = net.graph().nodes().size();
  REQUIRE(costs->size() == n);
  REQUIRE(costs->max_group() == 2);
  CHECK(costs->problems.size() == 2);
  CHECK(costs->cut_in.size() == n + 1);
  CHECK(costs->cut_out.size() == n + 1);
  for (const auto& per_group : costs->ms)
    for (double t : per_group) CHECK(t >= 0);
  PipelinePlan plan = plan_pipeline(*costs, clusters({{2, 1.0}}), {.replicas = false, .min_stages = 2});
  REQUIRE(plan.stages.size() == 2);
  REQUIRE(bind_stages<Exact<>>(plan, *costs).ok());
  for (const PlanStage& st : plan.stages) {
    REQUIRE(st.binding.size() == st.last - st.first);
    for (std::size_t i = st.first; i < st.last; ++i) {
      const auto& offered = costs->problems[static_cast<std::size_t>(st.group - 1)].nodes[i].candidates;
      CHECK(std::find(offered.begin(), offered.end(), st.binding[i - st.first]) != offered.end());
    }
  }
  CHECK(describe(plan, *costs).find("stage 1: ") != std::string::npos);
}
