// primsel-bench: measure, search and bind a model on this device, then report what each layer got and how fast
// the network runs against the dependency-free reference and the best single-primitive network.
//
//   primsel-bench --model resnet18 [--searcher qlearning] [--threads N] [--runs R] [--json report.json] ...
//   primsel-bench --model resnet18 --throughput [--simulate 4+4:2.5]   # intra-op vs replicas vs pipeline
//
// Exit status: 0 on success, 1 on a runtime error (unreadable file, unsupported model), 2 on bad arguments; every
// error is one line on stderr.
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "options.hpp"
#include "plot_svg.hpp"
#include "primsel/primsel.hpp"
#include "primsel/runtime/network.hpp"
#include "primsel/search/searchers.hpp"
#include "report_json.hpp"
#include "throughput.hpp"

namespace {
using namespace primsel;
using bench::BenchOptions;
using Net = Network<QLearning<>>;

int fail(const std::string& message, int code = 1) {
  std::fprintf(stderr, "primsel-bench: error: %s\n", message.c_str());
  return code;
}

void list() {
  std::printf("zoo models:");
  for (std::string_view m : zoo::names()) std::printf(" %.*s", static_cast<int>(m.size()), m.data());
  std::printf("\nconvolution primitives (compiled for %.*s):", static_cast<int>(simd::isa.size()), simd::isa.data());
  DefaultConvPrimitives::for_each([]<class P>() { std::printf(" %.*s", static_cast<int>(P::name.size()), P::name.data()); });
  std::printf("\nsearchers: qlearning random exact greedy fixed:<primitive>\n");
}

/// Raw little-endian float32 in NCHW order, exactly `shape` in size.
Expected<Tensor> read_input(const std::string& path, const Shape& shape) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Error(ErrorCode::io_error, "cannot open input '" + path + "'");
  f.seekg(0, std::ios::end);
  const auto bytes = static_cast<std::int64_t>(f.tellg());
  const std::int64_t want = shape.numel() * 4;
  if (bytes != want)
    return Error(ErrorCode::shape_mismatch, "input '" + path + "' has " + std::to_string(bytes) + " bytes; the model's input " +
                                                to_string(shape) + " needs " + std::to_string(want) + " (float32, NCHW)");
  f.seekg(0);
  Tensor t(shape);
  f.read(reinterpret_cast<char*>(t.bytes()), static_cast<std::streamsize>(want));
  if (!f) return Error(ErrorCode::io_error, "reading input '" + path + "' failed");
  return t;
}

Status write_output(const std::string& path, const Tensor& t) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  PRIMSEL_CHECK(static_cast<bool>(f), ErrorCode::io_error, "cannot write output '" + path + "'");
  f.write(reinterpret_cast<const char*>(t.bytes()), static_cast<std::streamsize>(t.shape().numel() * 4));
  PRIMSEL_CHECK(static_cast<bool>(f), ErrorCode::io_error, "writing output '" + path + "' failed");
  return {};
}

/// A binding's format as reports show it: the layout for f32 ("nchw16c"), layout/dtype otherwise ("nhwc/u8").
std::string format_name(Format f) {
  return f.dtype == DType::f32 ? std::string(to_string(f.layout)) : to_string(f);
}

std::string default_cache_path(const std::string& model, int threads) {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  std::filesystem::path dir = xdg && *xdg ? std::filesystem::path(xdg) : std::filesystem::path(home ? home : ".") / ".cache";
  dir /= "primsel";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  return (dir / (std::filesystem::path(model).filename().string() + "-" + std::to_string(threads) + "t.cache")).string();
}

struct Latency {
  double median = 0, min = 0;
};

/// Appends `runs` timed inferences (after one warm-up) to `ms`.
void time_runs(Net& net, const Tensor& x, int runs, std::vector<double>& ms) {
  (void)net.run(x);
  for (int i = 0; i < runs; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    (void)net.run(x);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
}

Latency summarise(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], ms.front()};
}

Latency time_network(Net& net, const Tensor& x, int runs) {
  std::vector<double> ms;
  time_runs(net, x, runs, ms);
  return summarise(std::move(ms));
}

/// Two bindings of one network timed in alternating blocks (`runs` inferences each in all): on a shared machine
/// the load drifts within seconds, and two latencies timed one after the other would read that drift as a speed
/// difference. Ends bound to `b`; a_bytes is `a`'s memory (BindReport::total_bytes).
struct PairedLatency {
  Latency a, b;
  std::size_t a_bytes = 0;
};
Expected<PairedLatency> time_alternating(Net& net, const Tensor& x, int runs, const SearchResult& a,
                                         const std::string& a_name, const SearchResult& b, const std::string& b_name,
                                         const BindOptions& o) {
  const int blocks = std::clamp(runs / 10, 1, 5);
  std::vector<double> ms_a, ms_b;
  std::size_t a_bytes = 0;
  for (int i = 0; i < blocks; ++i) {
    const int n = runs / blocks + (i < runs % blocks ? 1 : 0);
    PRIMSEL_RETURN_IF_ERROR(net.bind_binding(a, a_name, o));
    a_bytes = net.report().total_bytes();
    time_runs(net, x, n, ms_a);
    PRIMSEL_RETURN_IF_ERROR(net.bind_binding(b, b_name, o));
    time_runs(net, x, n, ms_b);
  }
  return PairedLatency{summarise(std::move(ms_a)), summarise(std::move(ms_b)), a_bytes};
}

Status bind_searcher(Net& net, const std::string& searcher, const BindOptions& o) {
  if (searcher == "qlearning") return net.bind_with<QLearning<>>(o);
  if (searcher == "random") return net.bind_with<RandomSearch<>>(o);
  if (searcher == "exact") return net.bind_with<Exact<>>(o);
  if (searcher == "greedy") return net.bind_with<Greedy>(o);
  const std::string primitive = searcher.substr(6);  // fixed:<name>
  PRIMSEL_RETURN_IF_ERROR(net.measure(o));
  bool known = false;
  DefaultConvPrimitives::for_each([&]<class P>() { known = known || P::name == primitive; });
  PRIMSEL_CHECK(known, ErrorCode::invalid_argument, "fixed:" + primitive + " names no compiled-in primitive (see --list)");
  return net.bind_binding(Fixed<Greedy>::by_name(net.problem(), primitive), searcher, o);
}

std::string searcher_config(const std::string& searcher) {
  if (searcher == "qlearning") {
    constexpr QConfig c = QLearning<>::config;
    return "{\"episodes\": " + std::to_string(c.episodes) + ", \"alpha\": " + bench::json_number(c.alpha) +
           ", \"gamma\": " + bench::json_number(c.gamma) + ", \"epsilon\": [" + bench::json_number(c.epsilon.start) +
           ", " + bench::json_number(c.epsilon.end) + "], \"replay\": " + std::to_string(c.replay) + "}";
  }
  if (searcher == "random") return "{\"samples\": " + std::to_string(RandomSearch<>::config.samples) + "}";
  if (searcher.rfind("fixed:", 0) == 0) return "{\"primitive\": " + bench::json_string(searcher.substr(6)) + "}";
  return "{}";
}

int run(const BenchOptions& opt) {
  // The model.
  std::optional<Graph> graph;
  const auto zoo_names = zoo::names();
  if (std::find(zoo_names.begin(), zoo_names.end(), opt.model) != zoo_names.end()) {
    if (opt.input_shape) return fail("--input-shape is for ONNX models; zoo models have a fixed input");
    auto g = zoo::build(opt.model);
    if (!g) return fail(g.error().what());
    graph = std::move(*g);
  } else if (std::filesystem::exists(opt.model)) {
    io::onnx::LoadOptions load;
    if (opt.input_shape) load.input_shapes.emplace_back("", *opt.input_shape);
    auto g = io::onnx::load_model(opt.model, load);
    if (!g) return fail(g.error().what());
    if (g->inputs().size() != 1 || g->outputs().size() != 1)
      return fail("'" + opt.model + "' has " + std::to_string(g->inputs().size()) + " inputs and " + std::to_string(g->outputs().size()) +
                  " outputs; primsel-bench runs single-input, single-output models");
    graph = std::move(*g);
  } else {
    return fail("'" + opt.model + "' is neither a zoo model (see --list) nor a file");
  }
  const Graph reference_graph = *graph;
  auto created = Net::create(std::move(*graph));
  if (!created) return fail(created.error().what());
  Net& net = *created;
  const Shape in_shape = net.graph().value(net.graph().inputs()[0]).shape;
  Tensor x;
  if (!opt.input.empty()) {
    auto t = read_input(opt.input, in_shape);
    if (!t) return fail(t.error().what());
    x = std::move(*t);
  } else {
    x = zoo::random_input(in_shape, opt.seed);
  }

  // Measure and search, with progress on stderr.
  const bool tty = isatty(STDERR_FILENO) != 0;
  BindOptions o{.threads = opt.threads, .seed = opt.seed, .budget_ms = opt.budget_ms};
  o.precision = opt.mixed ? Precision::mixed : Precision::f32;
  o.accuracy_budget = opt.accuracy_budget;
  o.accuracy_trade = opt.remove_by_sensitivity ? AccuracyTrade::remove : AccuracyTrade::price;
  o.memory_budget = opt.memory_budget;
  predict::LatencyPredictor predictor;
  if (!opt.predictor.empty()) {
    std::ifstream f(opt.predictor, std::ios::binary);
    if (!f) return fail("cannot open predictor file '" + opt.predictor + "'");
    std::stringstream text;
    text << f.rdbuf();
    auto parsed = predict::LatencyPredictor::parse(text.str());
    if (!parsed) return fail("predictor file '" + opt.predictor + "': " + parsed.error().what());
    predictor = std::move(*parsed);
    o.guide = {.predictor = &predictor,
               .rule = opt.measure_rule == "all"     ? predict::MeasureRule::all
                       : opt.measure_rule == "top-k" ? predict::MeasureRule::top_k
                                                     : predict::MeasureRule::adaptive,
               .k = opt.measure_k};
  }
  if (opt.mixed && !opt.calibration_from_cache) {  // the --input image first (real data), then seeded random ones
    std::vector<Tensor> samples;
    if (!opt.input.empty()) samples.push_back(x);
    for (int i = static_cast<int>(samples.size()); i < opt.calibration; ++i)
      samples.push_back(zoo::random_input(in_shape, opt.seed + 1000 + static_cast<std::uint64_t>(i)));
    if (Status s = net.calibrate(samples, quant::CalibrationMethod::mse, opt.bias_correction); !s) return fail(s.error().what());
  }
  if (!opt.no_cache) o.cache_path = opt.cache.empty() ? default_cache_path(opt.model, opt.threads) : opt.cache;
  double last_print = -1e9;
  if (!opt.quiet)
    o.progress = [&](std::size_t done, std::size_t total, double ms) {
      const double eta = done ? ms / static_cast<double>(done) * static_cast<double>(total - done) : 0;
      if (tty) {
        const int width = 30, filled = static_cast<int>(width * done / std::max<std::size_t>(total, 1));
        std::fprintf(stderr, "\rmeasuring [%.*s%*s] %zu/%zu layers  %.1f s, ~%.1f s left ", filled,
                     "##############################", width - filled, "", done, total, ms / 1000, eta / 1000);
        if (done == total) std::fputc('\n', stderr);
      } else if (ms - last_print >= 2000 || done == total) {
        std::fprintf(stderr, "measuring: %zu/%zu layers, %.1f s\n", done, total, ms / 1000);
        last_print = ms;
      }
    };
  if (opt.quiet) o.warn = [](std::string_view) {};
  // Baselines first (they rebind), the chosen searcher last so the network ends bound to it.
  Status measured = net.measure(o);
  if (!measured) return fail((opt.calibration_from_cache ? "--calibration cache: " : "") + std::string(measured.error().what()));
  const bool from_cache = net.report().measured_from_cache;
  const double optimum = Exact<>::search(net.problem()).cost;
  const int baseline_runs = std::max(3, opt.runs / 5);
  std::string best_single;
  double best_single_ms = 0;
  DefaultConvPrimitives::for_each([&]<class P>() {
    if (!net.bind_binding(Fixed<P>::search(net.problem()), "fixed:" + std::string(P::name), o)) return;
    const double ms = time_network(net, x, baseline_runs).median;
    if (best_single.empty() || ms < best_single_ms) best_single = std::string(P::name), best_single_ms = ms;
  });
  // Mixed precision: the same measurements restricted to f32 candidates, optimally bound: what int8 buys.
  double f32_only_ms = 0;
  std::size_t f32_only_bytes = 0;
  SearchResult f32_only;
  if (opt.mixed) {
    std::vector<std::vector<char>> keep;
    for (const SearchNode& n : net.problem().nodes) {
      keep.emplace_back();
      for (const std::string& c : n.candidates) keep.back().push_back(!c.ends_with("_u8s8") && !c.ends_with("_u8"));
    }
    std::vector<std::vector<int>> index;
    SearchResult f32 = Exact<>::search(restrict_problem(net.problem(), keep, index));
    for (std::size_t i = 0; i < f32.binding.size(); ++i) f32.binding[i] = index[i][static_cast<std::size_t>(f32.binding[i])];
    f32_only = std::move(f32);  // bound and timed against the mixed binding below
  }
  if (Status s = bind_searcher(net, opt.searcher, o); !s) return fail(s.error().what());
  const BindReport report = net.report();
  Latency latency;
  if (opt.mixed) {  // what int8 buys, timed against the f32-only binding in alternating blocks
    auto paired = time_alternating(net, x, opt.runs, f32_only, "f32-only", report.search, report.searcher, o);
    if (!paired) return fail(paired.error().what());
    f32_only_ms = paired->a.median;
    f32_only_bytes = paired->a_bytes;
    latency = paired->b;
  } else {
    latency = time_network(net, x, opt.runs);
  }
  double reference_ms = 0;
  {
    const int ref_runs = 3;
    std::vector<double> ms;
    for (int i = 0; i < ref_runs; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      if (!run_reference(reference_graph, x)) return fail("the reference executor failed on this model");
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    reference_ms = ms[ms.size() / 2];
  }
  auto y = net.run(x);
  if (!y) return fail(y.error().what());
  if (!opt.output.empty())
    if (Status s = write_output(opt.output, (*y)[0]); !s) return fail(s.error().what());

  // The table.
  long long weights = 0;  // the model's constants that nodes read (folded-away tensors do not count)
  std::vector<bool> counted(net.graph().values().size(), false);
  for (const Node& n : net.graph().nodes())
    for (ValueId v : n.inputs)
      if (v != no_value && net.graph().value(v).is_constant() && !counted[static_cast<std::size_t>(v)]) {
        counted[static_cast<std::size_t>(v)] = true;
        weights += static_cast<long long>(net.graph().value(v).constant->size_bytes());
      }
  std::printf("%s on %s (%.*s), %d thread(s), searcher %s\n", opt.model.c_str(), cpu_name().c_str(),
              static_cast<int>(simd::isa.size()), simd::isa.data(), opt.threads, opt.searcher.c_str());
  std::printf("%-28s %-18s %-26s %-20s %-17s %9s  %s\n", "layer", "op", "input -> output", "primitive", "formats",
              "ms", "runner-up");
  bench::JsonReport j;
  for (std::size_t i = 0; i < report.layers.size(); ++i) {
    const LayerBinding& l = report.layers[i];
    const std::size_t c = static_cast<std::size_t>(l.chosen);
    std::string runner_up = "-";
    double best_other = 0;
    for (std::size_t k = 0; k < l.candidates.size(); ++k)
      if (k != c && (runner_up == "-" || l.ms[k] < best_other)) runner_up = l.candidates[k], best_other = l.ms[k];
    char ru[64] = "-";
    if (runner_up != "-") std::snprintf(ru, sizeof ru, "%s %.3f", runner_up.c_str(), best_other);
    const std::string shapes = to_string(l.input) + " -> " + to_string(l.output);
    const std::string formats = format_name(l.input_format) + "->" + format_name(l.output_format);
    std::printf("%-28.28s %-18.18s %-26.26s %-20.20s %-17.17s %9.3f  %s\n", l.node.c_str(),
                std::string(to_string(l.op)).c_str(), shapes.c_str(), l.candidates[c].c_str(), formats.c_str(),
                l.ms[c], ru);
    bench::JsonLayer jl{l.node, std::string(to_string(l.op)), l.input, l.output, l.candidates[c],
                        format_name(l.input_format), format_name(l.output_format), l.ms[c], {}};
    for (std::size_t k = 0; k < l.candidates.size(); ++k)
      jl.candidates.push_back({l.candidates[k], l.ms[k], k < l.predicted.size() && l.predicted[k]});
    j.layers.push_back(std::move(jl));
  }
  std::printf("\nlatency: median %.3f ms, min %.3f ms over %d runs (%.1f inferences/s)\n", latency.median, latency.min,
              opt.runs, 1000.0 / latency.median);
  std::printf("reference (dependency-free): %.1f ms -> %.1fx faster\n", reference_ms, reference_ms / latency.median);
  std::printf("best single primitive family: %s, %.3f ms -> %.2fx faster\n", best_single.c_str(), best_single_ms,
              best_single_ms / latency.median);
  std::printf("cost model: predicted %.3f ms, optimum %.3f ms; %d layout conversion(s)\n", report.search.cost, optimum,
              report.conversions);
  std::printf("measured in %.0f ms%s%s, searched in %.1f ms%s\n", report.measure_ms, from_cache ? " (from the cache)" : "",
              report.budget_exceeded ? " (budget exceeded: later candidates timed once)" : "",
              report.search_ms, report.searched_from_cache ? " (from the cache)" : "");
  std::printf("measured %d of %d (layer, candidate) pairs", report.pairs_measured, report.pairs);
  if (o.guide.active())
    std::printf(" (predictor-guided: %s, k %d; the others estimated)", std::string(to_string(o.guide.rule)).c_str(),
                o.guide.k);
  std::printf("\n");
  std::printf("memory: weights %.2f MiB (model: %.2f MiB), activations %.2f MiB, workspace %.2f MiB = %.2f MiB\n",
              static_cast<double>(report.weight_bytes) / 1048576.0, weights / 1048576.0,
              static_cast<double>(report.arena_bytes) / 1048576.0, static_cast<double>(report.workspace_bytes) / 1048576.0,
              static_cast<double>(report.total_bytes()) / 1048576.0);
  if (opt.mixed) {
    const std::string on = opt.calibration_from_cache ? std::string("calibration from the tuning cache")
                                                       : "on " + std::to_string(opt.calibration) + " calibration input(s)" +
                                                             (opt.bias_correction ? "" : ", no bias correction");
    std::printf("precision: %d of %zu layers in int8; output error %s (budget %g) %s\n", report.int8_layers,
                report.layers.size(), report.output_error < 0 ? "not measured" : std::to_string(report.output_error).c_str(),
                opt.accuracy_budget, on.c_str());
    std::printf("f32-only binding (exact, same measurements, timed alternately): %.3f ms, %.2f MiB -> mixed is %.2fx faster, %.2fx smaller\n",
                f32_only_ms, static_cast<double>(f32_only_bytes) / 1048576.0, f32_only_ms / latency.median,
                static_cast<double>(f32_only_bytes) / static_cast<double>(std::max<std::size_t>(report.total_bytes(), 1)));
  }
  for (const std::string& note : report.budget_notes) std::printf("budget: %s\n", note.c_str());

  if (opt.compare_searchers || !opt.plot.empty()) {
    const SearchResult random = RandomSearch<RandomConfig{.samples = 2000}>::search(net.problem(), {.seed = opt.seed});
    if (opt.compare_searchers)
      std::printf("compare: %s %.3f ms after %zu steps; random search %.3f ms after %zu samples; optimum %.3f ms\n",
                  opt.searcher.c_str(), report.search.cost, report.search.trace.size(), random.cost,
                  random.trace.size(), optimum);
    if (!opt.plot.empty()) {
      bench::PlotData pd{opt.model + ": " + opt.searcher + " on " + cpu_name(), opt.searcher, report.search.trace,
                         opt.compare_searchers ? random.trace : std::vector<double>{}, optimum, {}};
      for (const LayerBinding& l : report.layers) pd.layers.push_back({l.node, l.candidates, l.ms, l.chosen});
      std::ofstream f(opt.plot, std::ios::trunc);
      f << bench::plot_svg(pd);
      if (!f) return fail("cannot write the plot '" + opt.plot + "'");
    }
  }
  if (!opt.emit_binding.empty()) {  // a header firmware includes and binds with Network::bind_names
    std::string ident;
    for (char c : std::filesystem::path(opt.model).stem().string()) ident += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
    std::ofstream f(opt.emit_binding, std::ios::trunc);
    f << "// Generated by primsel-bench --model " << opt.model << " --searcher " << opt.searcher << " --threads "
      << opt.threads << " on " << cpu_name() << " (" << simd::isa << ").\n"
      << "// One candidate name per node, in graph order: Network::bind_names(" << ident << "_binding).\n"
      << "#pragma once\n\n#include <string_view>\n\ninline constexpr std::string_view " << ident << "_binding[] = {\n";
    for (const LayerBinding& l : report.layers)
      f << "    \"" << l.candidates[static_cast<std::size_t>(l.chosen)] << "\",  // " << l.node << "\n";
    f << "};\n";
    if (!f) return fail("cannot write the binding header '" + opt.emit_binding + "'");
  }
  if (opt.throughput) {
    // Other thread counts get their own cache files: one file holds one device signature (threads included).
    auto cache_for = [&](int threads) {
      if (opt.no_cache) return std::string();
      if (opt.cache.empty()) return default_cache_path(opt.model, threads);
      return threads == opt.threads ? opt.cache : opt.cache + "." + std::to_string(threads) + "t";
    };
    auto t = bench::throughput(opt, net, x, o, cache_for);
    if (!t) return fail(t.error().what());
    j.throughput = std::move(*t);
  }
  if (!opt.json.empty()) {
    j.primsel_version = version_string;
    j.model = opt.model;
    j.cpu = cpu_name();
    j.isa = {std::string(simd::isa)};
    j.threads = opt.threads;
    j.searcher = opt.searcher;
    j.searcher_config = searcher_config(opt.searcher);
    j.measure_ms = report.measure_ms;
    j.pairs = report.pairs, j.pairs_measured = report.pairs_measured;
    j.measure_rule = o.guide.active() ? std::string(to_string(o.guide.rule)) : "all";
    j.search_ms = report.search_ms;
    j.from_cache = from_cache;
    j.trace = report.search.trace;
    j.predicted_ms = report.search.cost;
    j.optimum_ms = optimum;
    j.latency_median = latency.median;
    j.latency_min = latency.min;
    j.runs = opt.runs;
    j.reference_ms = reference_ms;
    j.best_single_primitive = best_single;
    j.best_single_ms = best_single_ms;
    j.weights_bytes = static_cast<long long>(report.weight_bytes);
    char extra[512];
    std::snprintf(extra, sizeof extra,
                  "{\"mode\": \"%s\", \"int8_layers\": %d, \"output_error\": %s, \"accuracy_budget\": %s, "
                  "\"memory_budget_bytes\": %zu, \"total_bytes\": %zu, \"model_weights_bytes\": %lld, "
                  "\"f32_only_ms\": %s, \"f32_only_total_bytes\": %zu}",
                  opt.mixed ? "mixed" : "f32", report.int8_layers,
                  report.output_error < 0 ? "null" : bench::json_number(report.output_error).c_str(),
                  std::isfinite(opt.accuracy_budget) ? bench::json_number(opt.accuracy_budget).c_str() : "null",
                  opt.memory_budget, report.total_bytes(), weights, opt.mixed ? bench::json_number(f32_only_ms).c_str() : "null",
                  f32_only_bytes);
    j.precision = extra;
    j.peak_activation_bytes = static_cast<long long>(report.arena_bytes);
    j.workspace_bytes = static_cast<long long>(report.workspace_bytes);
    std::ofstream f(opt.json, std::ios::trunc);
    f << bench::to_json(j);
    if (!f) return fail("cannot write the JSON report '" + opt.json + "'");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  auto options = bench::parse_options(std::vector<std::string>(argv + 1, argv + argc));
  if (!options) {
    std::fprintf(stderr, "primsel-bench: error: %s\n%.*s", options.error().message().c_str(),
                 static_cast<int>(bench::usage.size()), bench::usage.data());
    return 2;
  }
  if (options->help) {
    std::printf("%.*s", static_cast<int>(bench::usage.size()), bench::usage.data());
    return 0;
  }
  if (options->list) {
    list();
    return 0;
  }
  return run(*options);
}
