// primsel-bench --throughput: images/s and per-image latency of three ways to use every core on a stream of
// images — (a) all cores intra-op on one image at a time, (b) one replica per core, (c) the planner's choice
// (runtime/pipeline_plan.hpp) — plus the best pure pipeline when the planner chose otherwise, each measured and
// predicted; and with --simulate, the planner's prediction for a big.LITTLE device built from this CPU's timings.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "options.hpp"
#include "primsel/runtime/pipeline.hpp"
#include "primsel/runtime/pipeline_plan.hpp"
#include "report_json.hpp"

namespace primsel::bench {

struct StreamResult {
  double images_per_s = 0, latency_ms = 0;  ///< latency: median of one image alone through the idle pipeline
};

/// Streams `images` inputs through `p` (after one depth of warm-up) from a producer thread for the throughput, then
/// sends a few alone for the latency (under full load an image also waits in the queues: `depth` images ahead).
inline Expected<StreamResult> stream(Pipeline& p, const Tensor& x, int images) {
  using clock = std::chrono::steady_clock;
  for (std::size_t i = 0; i < p.depth(); ++i) PRIMSEL_RETURN_IF_ERROR(p.submit(x).status());
  for (std::size_t i = 0; i < p.depth(); ++i) PRIMSEL_RETURN_IF_ERROR(p.receive().status());
  std::vector<clock::time_point> in(static_cast<std::size_t>(images)), out(static_cast<std::size_t>(images));
  std::thread producer([&] {
    for (int i = 0; i < images; ++i) {
      in[static_cast<std::size_t>(i)] = clock::now();
      if (!p.submit(x)) return;
    }
  });
  Tensor y(p.spec().shapes[static_cast<std::size_t>(p.spec().outputs[0])]);
  std::vector<TensorView> views{y.view()};
  Status failed;
  for (int i = 0; i < images; ++i) {  // every image is received, failed or not: the producer must not block
    auto c = p.receive(views);
    out[static_cast<std::size_t>(i)] = clock::now();
    if (failed && (!c || !c->status)) failed = !c ? Status(c.error()) : c->status;
    if (!c) break;  // cannot happen while the producer runs: nobody closes the pipeline
  }
  producer.join();
  PRIMSEL_RETURN_IF_ERROR(failed);
  const double wall = std::chrono::duration<double>(out.back() - in.front()).count();
  std::vector<double> lat;
  for (int i = 0; i < std::max(3, images / 4); ++i) {
    const auto t0 = clock::now();
    PRIMSEL_RETURN_IF_ERROR(p.submit(x).status());
    PRIMSEL_RETURN_IF_ERROR(p.receive().status());
    lat.push_back(std::chrono::duration<double, std::milli>(clock::now() - t0).count());
  }
  std::sort(lat.begin(), lat.end());
  return StreamResult{images / wall, lat[lat.size() / 2]};
}

inline std::string json_plan(const PipelinePlan& plan, const LayerCosts& costs) {
  std::string o = "[";
  for (std::size_t s = 0; s < plan.stages.size(); ++s) {
    const PlanStage& st = plan.stages[s];
    o += std::string(s ? ", " : "") + "{\"first\": " + json_string(costs.names[st.first]) + ", \"last\": " +
         json_string(costs.names[st.last - 1]) + ", \"nodes\": " + std::to_string(st.last - st.first) +
         ", \"group\": " + std::to_string(st.group) + ", \"replicas\": " + std::to_string(st.replicas) +
         ", \"ms\": " + json_number(st.ms) + ", \"cpus\": [";
    for (std::size_t r = 0; r < st.cpus.size(); ++r) {
      o += r ? ", [" : "[";
      for (std::size_t c = 0; c < st.cpus[r].size(); ++c) o += (c ? "," : "") + std::to_string(st.cpus[r][c]);
      o += "]";
    }
    o += "]}";
  }
  return o + "]";
}

/// Runs the comparison, prints it, and returns the JSON object for the report.
template <class Net>
Expected<std::string> throughput(const BenchOptions& opt, Net& net, const Tensor& x, const BindOptions& base,
                                 const std::function<std::string(int)>& cache_path) {
  const std::vector<CoreCluster> host = host_clusters();
  const int cores = host[0].cores();
  LayerCostOptions lo{.max_group = cores, .handoff_ms = measure_handoff_ms(), .bind = base, .cache_path = cache_path};
  lo.bind.progress = nullptr;
  PRIMSEL_ASSIGN_OR_RETURN(const LayerCosts costs, measure_layer_costs<Exact<>>(net, lo));  // leaves net on `cores` threads
  const Graph& g = net.graph();

  struct Mode {
    std::string key, label;
    PipelinePlan plan;
    StreamResult got;
  };
  std::vector<Mode> modes;
  modes.push_back({"intra_op", "(a) intra-op, " + std::to_string(cores) + " threads", single_stage_plan(costs, host[0], cores, 1), {}});
  modes.push_back({"replicas", "(b) " + std::to_string(cores) + " replicas x 1 thread", single_stage_plan(costs, host[0], 1, cores), {}});
  PipelinePlan chosen = plan_pipeline(costs, host);
  modes.push_back({"planned", "(c) planner's choice", chosen, {}});
  if (cores > 1) {
    PipelinePlan pure = plan_pipeline(costs, host, {.replicas = false, .min_stages = 2});
    if (pure.stages.size() >= 2 && pure.stages.size() != chosen.stages.size())
      modes.push_back({"pipeline", "(c') pure pipeline, " + std::to_string(pure.stages.size()) + " stages", pure, {}});
  }

  // (a) is the bound network itself, one image at a time; the others stream through a Pipeline whose stages are
  // bound by name to bindings searched for their thread counts (no measuring here).
  {
    PRIMSEL_RETURN_IF_ERROR(net.run(x).status());
    std::vector<double> ms;
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < opt.runs; ++i) {
      const auto t = std::chrono::steady_clock::now();
      PRIMSEL_RETURN_IF_ERROR(net.run(x).status());
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count());
    }
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::sort(ms.begin(), ms.end());
    modes[0].got = {opt.runs / wall, ms[ms.size() / 2]};
  }
  auto same = [](const PipelinePlan& a, const PipelinePlan& b) {
    return a.stages.size() == 1 && b.stages.size() == 1 && a.stages[0].group == b.stages[0].group &&
           a.stages[0].replicas == b.stages[0].replicas;
  };
  for (std::size_t m = 1; m < modes.size(); ++m) {
    if (modes[m].key == "planned" && (same(modes[m].plan, modes[0].plan) || same(modes[m].plan, modes[1].plan))) {
      const Mode& twin = modes[same(modes[m].plan, modes[0].plan) ? 0 : 1];  // measured once, not twice
      modes[m].label += " = " + twin.label.substr(0, 3);
      modes[m].got = twin.got;
      continue;
    }
    PRIMSEL_RETURN_IF_ERROR(bind_stages<Exact<>>(modes[m].plan, costs));  // each stage for its thread count
    if (opt.no_pin)
      for (PlanStage& st : modes[m].plan.stages) st.cpus.clear();
    PRIMSEL_ASSIGN_OR_RETURN(Pipeline p, make_pipeline<Exact<>>(g, modes[m].plan));
    PRIMSEL_ASSIGN_OR_RETURN(modes[m].got, stream(p, x, std::max(opt.runs, 2 * static_cast<int>(p.depth()))));
  }

  std::printf("\nthroughput on %d core(s), %d images per mode (handoff %.3f ms per stage, measured; %s):\n", cores,
              opt.runs, lo.handoff_ms, opt.no_pin ? "threads not pinned" : "stages pinned to their cpus");
  std::printf("  %-34s %10s %12s %12s %12s\n", "mode", "images/s", "latency ms", "predicted/s", "pred. lat ms");
  for (const Mode& m : modes)
    std::printf("  %-34s %10.2f %12.3f %12.2f %12.3f\n", m.label.c_str(), m.got.images_per_s, m.got.latency_ms,
                m.plan.images_per_s(), m.plan.latency_ms);
  std::printf("plan (c):\n%s", describe(chosen, costs, host).c_str());
  if (modes.back().key == "pipeline") std::printf("plan (c'):\n%s", describe(modes.back().plan, costs, host).c_str());

  std::string j = "{\"cores\": " + std::to_string(cores) + ", \"images\": " + std::to_string(opt.runs) +
                  ", \"handoff_ms\": " + json_number(lo.handoff_ms) + ", \"modes\": [";
  for (std::size_t m = 0; m < modes.size(); ++m)
    j += std::string(m ? ", " : "") + "{\"mode\": " + json_string(modes[m].key) + ", \"images_per_s\": " +
         json_number(modes[m].got.images_per_s) + ", \"latency_ms\": " + json_number(modes[m].got.latency_ms) +
         ", \"predicted_images_per_s\": " + json_number(modes[m].plan.images_per_s()) + ", \"predicted_latency_ms\": " +
         json_number(modes[m].plan.latency_ms) + ", \"plan\": " + json_plan(modes[m].plan, costs) + "}";
  j += "]";

  if (opt.sim_big > 0) {
    // Big cores run at this CPU's measured speed; LITTLE ones sim_slowdown times slower. Group sizes beyond the
    // measured ones keep each layer's measured parallel efficiency (extrapolate_groups).
    const int total = opt.sim_big + opt.sim_little;
    const LayerCosts sim = extrapolate_groups(costs, total);
    std::vector<CoreCluster> bl{{"big", {}, 1.0}, {"LITTLE", {}, opt.sim_slowdown}};
    for (int c = 0; c < total; ++c) bl[c < opt.sim_big ? 0 : 1].cpus.push_back(c);
    if (opt.sim_little == 0) bl.pop_back();
    // (a): the big cluster intra-op, or every core with the static split paced by the LITTLE cores.
    PipelinePlan a = single_stage_plan(sim, bl[0], opt.sim_big, 1);
    if (opt.sim_little > 0) {
      const CoreCluster all{"all", std::vector<int>(static_cast<std::size_t>(total), 0), opt.sim_slowdown};
      const PipelinePlan every = single_stage_plan(sim, all, total, 1);
      if (every.period_ms < a.period_ms) a = every;
    }
    // (b): every core its own replica pulling images as it finishes: rates add up (no memory contention modelled).
    const double t1 = stage_ms(sim, 0, sim.size(), 1);
    const double b_rate = 1000.0 * (opt.sim_big / t1 + opt.sim_little / (t1 * opt.sim_slowdown));
    const PipelinePlan c = plan_pipeline(sim, bl);
    const PipelinePlan pure = plan_pipeline(sim, bl, {.replicas = false, .min_stages = 2});
    std::printf("\nsimulated %d big + %d LITTLE (%.2fx slower) from these timings (predicted):\n", opt.sim_big,
                opt.sim_little, opt.sim_slowdown);
    std::printf("  %-34s %10s %12s\n", "mode", "images/s", "latency ms");
    std::printf("  %-34s %10.2f %12.3f\n", "(a) intra-op", a.images_per_s(), a.latency_ms);
    std::printf("  %-34s %10.2f %8.3f..%.3f\n", "(b) one replica per core", b_rate, t1, opt.sim_little ? t1 * opt.sim_slowdown : t1);
    std::printf("  %-34s %10.2f %12.3f\n", "(c) planner's choice", c.images_per_s(), c.latency_ms);
    if (pure.stages.size() >= 2)
      std::printf("  %-34s %10.2f %12.3f\n", ("(c') pure pipeline, " + std::to_string(pure.stages.size()) + " stages").c_str(),
                  pure.images_per_s(), pure.latency_ms);
    std::printf("simulated plan (c):\n%s", describe(c, sim, bl).c_str());
    if (pure.stages.size() >= 2) std::printf("simulated plan (c'):\n%s", describe(pure, sim, bl).c_str());
    j += ", \"simulation\": {\"big\": " + std::to_string(opt.sim_big) + ", \"little\": " + std::to_string(opt.sim_little) +
         ", \"slowdown\": " + json_number(opt.sim_slowdown) + ", \"intra_op_images_per_s\": " + json_number(a.images_per_s()) +
         ", \"replicas_images_per_s\": " + json_number(b_rate) + ", \"planned_images_per_s\": " + json_number(c.images_per_s()) +
         ", \"pipeline_images_per_s\": " + json_number(pure.images_per_s()) + ", \"plan\": " + json_plan(c, sim) + "}";
  }
  return j + "}";
}

}  // namespace primsel::bench
