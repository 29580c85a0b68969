// primsel-bench's command line: parsed into BenchOptions, or one clear error line naming the bad argument.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "primsel/core/cpu.hpp"
#include "primsel/core/error.hpp"
#include "primsel/core/shape.hpp"

namespace primsel::bench {

inline constexpr std::string_view usage =
    "usage: primsel-bench --model <zoo-name | model.onnx> [--searcher qlearning|random|exact|greedy|fixed:<primitive>]\n"
    "                     [--input-shape NxCxHxW] [--threads N] [--runs R] [--budget-ms B] [--cache FILE] [--no-cache] [--seed S]\n"
    "                     [--input in.bin] [--output out.bin] [--json report.json] [--plot trace.svg]\n"
    "                     [--compare-searchers] [--emit-binding binding.hpp] [--list] [--quiet]\n"
    "                     [--throughput [--simulate BIG+LITTLE:SLOWDOWN] [--no-pin]]   (e.g. --simulate 4+4:2.5)\n"
    "                     [--precision f32|mixed [--calibration N|cache] [--accuracy-budget E] [--accuracy-trade price|remove]\n"
    "                                            [--no-bias-correction]]\n"
    "                     [--memory-budget BYTES[K|M|G]]\n"
    "                     [--predictor FILE [--measure all|top-k[:K]|adaptive[:K]]]\n";

struct BenchOptions {
  std::string model;
  std::optional<Shape> input_shape;  ///< for ONNX models: fills symbolic dims (e.g. the batch)
  std::string searcher = "qlearning";
  int threads = hardware_threads();
  int runs = 50;
  double budget_ms = 0;  ///< measuring budget, 0: none
  std::string cache;  ///< empty: the default location; see no_cache
  bool no_cache = false;
  std::uint64_t seed = 7;
  std::string input, output, json, plot, emit_binding;
  bool compare_searchers = false;
  bool list = false, quiet = false, help = false;
  /// --throughput: images/s and latency of intra-op, one replica per core and the planned pipeline (--runs images).
  bool throughput = false;
  bool no_pin = false;  ///< --no-pin: let the OS place pipeline threads (a shared machine's other load moves around)
  /// --simulate B+L:S: the planner's prediction for a big.LITTLE device of B big cores (this CPU's speed) and L
  /// LITTLE cores S times slower; 0 big cores: no simulation.
  int sim_big = 0, sim_little = 0;
  double sim_slowdown = 1.0;
  /// --precision mixed: int8 per layer where the search finds it faster, within --accuracy-budget (relative output
  /// error on the --calibration inputs, seeded random unless the model's own data is given with --input).
  bool mixed = false;
  int calibration = 8;
  /// --calibration cache: no calibrate(); the int8 layers take the calibration stored in the tuning cache by an
  /// earlier calibrated run on this device (a deployed start-up), and the search's binding from it too.
  bool calibration_from_cache = false;
  /// --no-bias-correction: calibrate without channel means, so int8 layers keep their bias as it is (to compare).
  bool bias_correction = true;
  double accuracy_budget = 0.01;
  bool remove_by_sensitivity = false;  ///< --accuracy-trade remove: the rule instead of the priced search
  std::size_t memory_budget = 0;  ///< bytes of weights + activations + scratch, 0: none
  /// --predictor FILE (a LatencyPredictor's serialize() text, e.g. from predictor_bench --out): measure only the
  /// conv candidates --measure picks from its predictions (default adaptive, at most 2 per layer).
  std::string predictor;
  std::string measure_rule = "adaptive";  ///< all, top-k or adaptive
  int measure_k = 2;
};

namespace detail {
inline Expected<long long> integer(std::string_view flag, const std::string& text, long long lo, long long hi) {
  char* end = nullptr;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || v < lo || v > hi)
    return Error(ErrorCode::invalid_argument, std::string(flag) + " expects an integer in [" + std::to_string(lo) +
                                                  ", " + std::to_string(hi) + "], got '" + text + "'");
  return v;
}

/// "1x3x224x224" -> Shape; every dim a positive integer.
inline Expected<Shape> shape(std::string_view flag, const std::string& text) {
  std::vector<long long> dims;
  for (std::size_t start = 0; start <= text.size();) {
    const std::size_t x = std::min(text.find('x', start), text.size());
    PRIMSEL_ASSIGN_OR_RETURN(const long long d, integer(flag, text.substr(start, x - start), 1, 1ll << 31));
    dims.push_back(d);
    start = x + 1;
  }
  bool fits = true;
  const Shape s = Shape::from_dims(dims.begin(), dims.end(), &fits);
  if (!fits) return Error(ErrorCode::invalid_argument, std::string(flag) + " has more than " + std::to_string(Shape::max_rank) + " dims: '" + text + "'");
  return s;
}
}  // namespace detail

inline bool has(const std::vector<std::string>& args, std::string_view flag) {
  return std::find(args.begin(), args.end(), flag) != args.end();
}

inline Expected<BenchOptions> parse_options(const std::vector<std::string>& args) {
  BenchOptions o;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> Expected<std::string> {
      if (i + 1 >= args.size()) return Error(ErrorCode::invalid_argument, a + " needs a value");
      return args[++i];
    };
    if (a == "--model") {
      PRIMSEL_ASSIGN_OR_RETURN(o.model, value());
    } else if (a == "--input-shape") {
      PRIMSEL_ASSIGN_OR_RETURN(const std::string v, value());
      PRIMSEL_ASSIGN_OR_RETURN(o.input_shape, detail::shape(a, v));
    } else if (a == "--searcher") {
      PRIMSEL_ASSIGN_OR_RETURN(o.searcher, value());
      const bool known = o.searcher == "qlearning" || o.searcher == "random" || o.searcher == "exact" ||
                         o.searcher == "greedy" || (o.searcher.rfind("fixed:", 0) == 0 && o.searcher.size() > 6);
      if (!known)
        return Error(ErrorCode::invalid_argument, "unknown searcher '" + o.searcher +
                                                      "' (qlearning, random, exact, greedy or fixed:<primitive>)");
    } else if (a == "--threads") {
      PRIMSEL_ASSIGN_OR_RETURN(const std::string v, value());
      PRIMSEL_ASSIGN_OR_RETURN(const long long t, detail::integer(a, v, 1, 1024));
      o.threads = static_cast<int>(t);
    } else if (a == "--runs") {
      PRIMSEL_ASSIGN_OR_RETURN(const std::string v, value());
      PRIMSEL_ASSIGN_OR_RETURN(const long long r, detail::integer(a, v, 1, 1000000));
      o.runs = static_cast<int>(r);
    } else if (a == "--budget-ms") {
      PRIMSEL_ASSIGN_OR_RETURN(const std::string v, value());
      PRIMSEL_ASSIGN_OR_RETURN(const long long b, detail::integer(a, v, 0, 86400000));
      o.budget_ms = static_cast<double>(b);
    } else if (a == "--seed") {
      PRIMSEL_ASSIGN_OR_RETURN(const std::string v, value());
      PRIMSEL_ASSIGN_OR_RETURN(const long long s, detail::integer(a, v, 0, (1ll << 62)));
      o.seed = static_cast<std::uint64_t>(s);
    } else if (a == "--cache") {
      PRIMSEL_ASSIGN_OR_RETURN(o.cache, value());
    } else if (a == "--no-cache") {
      o.no_cache = true;
    } else if (a == "--input") {
      PRIMSEL_ASSIGN_OR_RETURN(o.input, value());
    } else if (a == "--output") {
      PRIMSEL_ASSIGN_OR_RETURN(o.output, value());
    } else if (a == "--json") {
      PRIMSEL_ASSIGN_OR_RETURN(o.json, value());
    } else if (a == "--plot") {
      PRIMSEL_ASSIGN_OR_RETURN(o.plot, value());
    } else if (a == "--emit-binding") {
      PRIMSEL_ASSIGN_OR_RETURN(o.emit_binding, value());
    } else if (a == "--throughput") {
      o.throughput = true;
    } else if (a == "--no-pin") {
      o.no_pin = true;
    } else if (a == "--simulate") {
      PRIMSEL_ASSIGN_OR_RETURN(const std::string v, value());
      const std::size_t plus = v.find('+'), colon = v.find(':');
      if (plus == std::string::npos || colon == std::string::npos || colon < plus)
        return Error(ErrorCode::invalid_argument, "--simulate expects BIG+LITTLE:SLOWDOWN (e.g. 4+4:2.5), got '" + v + "'");
      PRIMSEL_ASSIGN_OR_RETURN(const long long big, detail::integer(a, v.substr(0, plus), 1, 64));
      PRIMSEL_ASSIGN_OR_RETURN(const long long little, detail::integer(a, v.substr(plus + 1, colon - plus - 1), 0, 64));
      char* end = nullptr;
      const std::string slow = v.substr(colon + 1);
      o.sim_slowdown = std::strtod(slow.c_str(), &end);
      if (slow.empty() || *end != '\0' || !(o.sim_slowdown >= 1.0 && o.sim_slowdown <= 100.0))
        return Error(ErrorCode::invalid_argument, "--simulate: the LITTLE cores' slowdown must be a number in [1, 100], got '" + slow + "'");
      o.sim_big = static_cast<int>(big), o.sim_little = static_cast<int>(little);
    } else if (a == "--precision") {
      PRIMSEL_ASSIGN_OR_RETURN(const std::string v, value());
      if (v != "f32" && v != "mixed") return Error(ErrorCode::invalid_argument, "--precision expects f32 or mixed, got '" + v + "'");
      o.mixed = v == "mixed";
    } else if (a == "--calibration") {
      PRIMSEL_ASSIGN_OR_RETURN(const std::string v, value());
      o.calibration_from_cache = v == "cache";
      if (!o.calibration_from_cache) {
        PRIMSEL_ASSIGN_OR_RETURN(const long long n, detail::integer(a, v, 1, 10000));
        o.calibration = static_cast<int>(n);
      }
    } else if (a == "--no-bias-correction") {
      o.bias_correction = false;
    } else if (a == "--accuracy-budget") {
      PRIMSEL_ASSIGN_OR_RETURN(const std::string v, value());
      char* end = nullptr;
      const double e = std::strtod(v.c_str(), &end);
      if (v.empty() || *end != '\0' || !(e >= 0))
        return Error(ErrorCode::invalid_argument, "--accuracy-budget expects a relative error >= 0 (e.g. 0.01, or inf), got '" + v + "'");
      o.accuracy_budget = e;
    } else if (a == "--accuracy-trade") {
      PRIMSEL_ASSIGN_OR_RETURN(const std::string v, value());
      if (v != "price" && v != "remove")
        return Error(ErrorCode::invalid_argument, "--accuracy-trade expects price or remove, got '" + v + "'");
      o.remove_by_sensitivity = v == "remove";
    } else if (a == "--memory-budget") {
      PRIMSEL_ASSIGN_OR_RETURN(const std::string v, value());
      const char unit = v.empty() ? '\0' : v.back();
      const int shift = unit == 'K' ? 10 : unit == 'M' ? 20 : unit == 'G' ? 30 : 0;
      PRIMSEL_ASSIGN_OR_RETURN(const long long b, detail::integer(a, shift ? v.substr(0, v.size() - 1) : v, 1, 1ll << 40));
      o.memory_budget = static_cast<std::size_t>(b) << shift;
    } else if (a == "--predictor") {
      PRIMSEL_ASSIGN_OR_RETURN(o.predictor, value());
    } else if (a == "--measure") {
      PRIMSEL_ASSIGN_OR_RETURN(const std::string v, value());
      const std::size_t colon = v.find(':');
      o.measure_rule = v.substr(0, colon);
      if (o.measure_rule != "all" && o.measure_rule != "top-k" && o.measure_rule != "adaptive")
        return Error(ErrorCode::invalid_argument, "--measure expects all, top-k[:K] or adaptive[:K], got '" + v + "'");
      if (colon != std::string::npos) {
        PRIMSEL_ASSIGN_OR_RETURN(const long long k, detail::integer(a, v.substr(colon + 1), 1, 64));
        o.measure_k = static_cast<int>(k);
      }
    } else if (a == "--compare-searchers") {
      o.compare_searchers = true;
    } else if (a == "--list") {
      o.list = true;
    } else if (a == "--quiet") {
      o.quiet = true;
    } else if (a == "--help" || a == "-h") {
      o.help = true;
    } else {
      return Error(ErrorCode::invalid_argument, "unknown argument '" + a + "'");
    }
  }
  if (!o.list && !o.help && o.model.empty()) return Error(ErrorCode::invalid_argument, "--model is required");
  if (o.no_cache && !o.cache.empty()) return Error(ErrorCode::invalid_argument, "--cache and --no-cache contradict");
  if (!o.mixed && (has(args, "--calibration") || has(args, "--accuracy-budget") || has(args, "--accuracy-trade") ||
                   has(args, "--no-bias-correction")))
    return Error(ErrorCode::invalid_argument,
                 "--calibration, --accuracy-budget, --accuracy-trade and --no-bias-correction need --precision mixed");
  if (o.calibration_from_cache && o.no_cache)
    return Error(ErrorCode::invalid_argument, "--calibration cache reads the tuning cache: it contradicts --no-cache");
  if (o.calibration_from_cache && !o.bias_correction)
    return Error(ErrorCode::invalid_argument,
                 "--no-bias-correction calibrates without channel means: --calibration cache takes the stored ones");
  if (o.predictor.empty() && has(args, "--measure") && o.measure_rule != "all")
    return Error(ErrorCode::invalid_argument, "--measure " + o.measure_rule + " needs --predictor FILE");
  if (o.sim_big > 0 && !o.throughput) return Error(ErrorCode::invalid_argument, "--simulate needs --throughput");
  return o;
}

}  // namespace primsel::bench
