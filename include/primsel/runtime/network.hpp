// Network<Searcher, Primitives, Int8Primitives>: a graph bound to the fastest primitives for this device. bind()
// times every candidate of every node on the real shapes and weights, times the format conversions (layout, and
// with int8 candidates quantise/dequantise) that can meet on each edge, hands the resulting SelectionProblem to the
// searcher, then keeps only the chosen candidates and lays out every activation in one arena by liveness. run()
// then does inference with no allocation.
//
//   auto net = Network<QLearning<>>::create(zoo::build("resnet18").value()).value();
//   net.bind({.threads = 2}).value();
//   std::vector<Tensor> y = net.run(image).value();
//
// Mixed precision: calibrate() on sample inputs, then bind({.precision = Precision::mixed}) lets the search pick
// int8 per layer. The accuracy budget (relative output error on the calibration samples) and the memory budget
// (weights + activations + scratch) constrain every searcher alike: candidates that break a budget are removed
// and the search runs again (see docs/int8.md).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "primsel/core/cpu.hpp"
#include "primsel/core/denormals.hpp"
#include "primsel/core/layout_convert.hpp"
#include "primsel/core/random.hpp"
#include "primsel/graph/passes.hpp"
#include "primsel/predict/measure_rule.hpp"
#include "primsel/primitives/default_primitives.hpp"
#include "primsel/primitives/int8/default_int8_primitives.hpp"
#include "primsel/quant/convert.hpp"
#include "primsel/runtime/calibration.hpp"
#include "primsel/runtime/candidates.hpp"
#include "primsel/runtime/measure.hpp"
#include "primsel/runtime/tuning_cache.hpp"
#include "primsel/version.hpp"
#include "primsel/search/problem.hpp"

// Compile time: node_candidates() over the default lists instantiates every primitive's kernels, about 90 s of a
// translation unit that binds a Network or runs a primitive (GCC 12, -O3), and BasicNetwork (all of Network but the searcher) another
// ~15 s. A program with many such units defines PRIMSEL_EXTERN_DEFAULT_CANDIDATES in all of them and includes
// <primsel/runtime/default_candidates.hpp> in exactly one .cpp, which compiles both once (primsel's own tests,
// examples and benchmarks do). BasicNetwork's members are defined below the class, not inside it: GCC instantiates
// in-class (inline) members for inlining even under `extern template`, which would keep most of the cost.
#ifdef PRIMSEL_EXTERN_DEFAULT_CANDIDATES
namespace primsel {
extern template Expected<std::vector<Candidate>> node_candidates<DefaultConvPrimitives, DefaultInt8ConvPrimitives>(
    const Graph&, std::size_t, int, const Calibration*);
}  // namespace primsel
#endif

namespace primsel {

/// Which precisions the search may choose per layer.
enum class Precision : std::uint8_t {
  f32,    ///< every layer in f32
  mixed,  ///< int8 candidates too, for the layers calibrate() covered; the accuracy budget decides how many
};

/// How a mixed-precision search gives up int8 layers when their error exceeds the accuracy budget.
enum class AccuracyTrade : std::uint8_t {
  price,   ///< each int8 candidate pays for its error in the search (conversions priced too); see search_within_budgets
  remove,  ///< the most sensitive int8 layers go back to f32 by rule, whatever their neighbours' formats
};

struct BindOptions {
  int threads = 1;
  std::uint64_t seed = 7;  ///< the searcher's seed
  MeasureOptions measure{};
  /// Measure only the convolution candidates a latency predictor ranks promising (predict/measure_rule.hpp); the
  /// rest enter the search with predicted times and are measured only if the search chooses them. Default: no
  /// predictor, every candidate measured.
  predict::Guidance guide{};
  /// Wall-time budget for measuring, in ms; 0 (or infinity) means no budget, not "no time". Past it, each remaining
  /// candidate is timed once, without warm-up: start-up stays bounded and every candidate still gets a cost (a
  /// noisier one, reported in the BindReport's `budget_exceeded`). Negative or NaN: every bind refuses it.
  double budget_ms = 0;
  /// Tuning cache file: read to skip measuring (and searching, for a searcher + seed seen before), written after.
  /// Empty: no cache.
  std::string cache_path;
  /// Where a cache that cannot be read or written is reported (one line naming the path; at most one per bind,
  /// further problems of the same bind only join the note); default: stderr. The bind goes on without the cache.
  /// The reason is also in BindReport::cache_note.
  std::function<void(std::string_view)> warn;
  /// Called after each node is measured: (nodes measured, nodes in all, milliseconds spent so far).
  std::function<void(std::size_t, std::size_t, double)> progress;
  /// Memory for the network's own run(): activations and scratch (Network::memory_bytes() of them, aligned to
  /// tensor_alignment), e.g. a static array in firmware. Empty: allocated at bind time.
  std::span<std::byte> memory;
  Precision precision = Precision::f32;
  /// Largest relative output error (relative_output_error: ||y - y_f32|| / ||y_f32|| over the calibration
  /// samples) a mixed-precision binding may have; int8 layers go back to f32 (as `accuracy_trade` says) until it
  /// holds. Infinity: unchecked.
  double accuracy_budget = 0.01;
  AccuracyTrade accuracy_trade = AccuracyTrade::price;
  /// Largest weights + activations + scratch of the binding, in bytes (BindReport::total_bytes()); 0: no limit.
  /// The most memory-hungry choices are removed until it holds; an error when even the leanest binding found
  /// does not fit.
  std::size_t memory_budget = 0;
};

/// What one inference writes besides its outputs: the activation arena (laid out by liveness at bind time), the
/// primitives' scratch, and the threads they run on. A bound network is read only in run(context, ...), so several
/// threads may run it at once, each with its own context from Network::make_context(). A context belongs to one
/// binding: after a rebind run() refuses it.
class RunContext {
 public:
  RunContext() = default;
  RunContext(RunContext&&) noexcept = default;
  RunContext& operator=(RunContext&&) noexcept = default;

  /// Threads this context's inferences run on (the caller's included).
  int threads() const noexcept { return pool_ ? pool_->size() : 1; }

 private:
  template <class, class>
  friend class BasicNetwork;
  Tensor owned_;                      // the memory, when the context allocated it
  std::span<std::byte> memory_;       // arena, then workspace
  std::unique_ptr<ThreadPool> own_pool_;
  ThreadPool* pool_ = nullptr;
  std::vector<ConstTensorView> views_;  // one step's inputs, reserved up front
  std::uint64_t binding_ = 0;
};

/// What bind() chose for one node, and what it measured.
struct LayerBinding {
  std::string node;
  OpKind op = OpKind::Identity;
  Shape input, output;
  std::vector<std::string> candidates;
  std::vector<double> ms;  ///< measured time of each candidate (without conversions) ...
  std::vector<char> predicted;  ///< ... or, where 1, the predictor's estimate (predictor-guided measuring)
  int chosen = 0;
  Format input_format{}, output_format{};
  std::size_t weight_bytes = 0;  ///< of the chosen candidate
};

struct BindReport {
  std::vector<LayerBinding> layers;
  SearchResult search;
  std::string searcher;
  double measure_ms = 0, search_ms = 0;
  /// Memory of the binding: planned weights (packed, transformed or quantised), the activation arena, scratch.
  std::size_t weight_bytes = 0, arena_bytes = 0, workspace_bytes = 0;
  std::size_t total_bytes() const noexcept { return weight_bytes + arena_bytes + workspace_bytes; }
  int conversions = 0;  ///< format conversions inserted between layers (and at the boundary)
  /// (node, candidate) pairs of the problem, and how many of them were timed; the rest carry predicted times.
  int pairs = 0, pairs_measured = 0;
  /// Layers bound to an int8 candidate: u8-output convolutions and the ops between them, and fully connected
  /// layers with int8 weights (f32 in and out, Candidate::quantized()).
  int int8_layers = 0;
  /// Relative output error of the binding on the calibration samples (checked when int8 layers are chosen under a
  /// finite accuracy budget); negative: not measured.
  double output_error = -1;
  /// What the budgets removed, e.g. "accuracy: layer3.0.conv1 kept in f32 (sensitivity 0.012)"; empty: nothing.
  std::vector<std::string> budget_notes;
  bool budget_exceeded = false;
  bool measured_from_cache = false;
  bool searched_from_cache = false;
  /// The int8 layers' quantisation came from the tuning cache (no calibrate() this run): output_error cannot be
  /// measured, and only cached mixed-precision bindings can be used under a finite accuracy budget.
  bool calibration_from_cache = false;
  std::string cache_note;  ///< why the cache was not used, if it was not
};

namespace detail {
/// One of run()'s views against the value it stands for: that value's shape, in nchw/f32, with data. Also what
/// Pipeline::submit/receive check, against their stage values.
template <class View>
Status check_run_view(const View& view, const Shape& shape, std::string_view name, std::string_view what) {
  PRIMSEL_CHECK(view.shape() == shape && view.format() == Format{}, ErrorCode::shape_mismatch,
                std::string(what) + " '" + std::string(name) + "' must be " + to_string(shape) + " nchw/f32, got " +
                    to_string(view.shape()) + " " + to_string(view.format()));
  PRIMSEL_CHECK(view.bytes() != nullptr, ErrorCode::invalid_argument,
                std::string(what) + " '" + std::string(name) + "' has no data");
  return {};
}

/// run()'s check of the caller's views, one per value.
template <class View>
Status check_run_views(const Graph& g, const std::vector<ValueId>& values, std::span<const View> views,
                       std::string_view what) {
  for (std::size_t k = 0; k < views.size(); ++k)
    PRIMSEL_RETURN_IF_ERROR(check_run_view(views[k], g.value(values[k]).shape, g.value(values[k]).name, what));
  return {};
}
}  // namespace detail

/// Everything of a Network but its own searcher: the graph, its measurements, the binding and inference.
/// bind_with<T>() binds with any searcher. It depends on the primitive lists only, so every Network<S> over the
/// same lists shares one instantiation (and PRIMSEL_EXTERN_DEFAULT_CANDIDATES compiles the default one once).
template <class Primitives = DefaultConvPrimitives, class Int8Primitives = DefaultInt8ConvPrimitives>
class BasicNetwork {
 public:
  const Graph& graph() const noexcept { return *graph_; }
  bool bound() const noexcept { return !steps_.empty() || (graph_ && graph_->nodes().empty()); }
  const BindReport& report() const noexcept { return report_; }

  /// Measures (once per thread count, precision and cache file), searches with T and plans. May be called again:
  /// it starts over from the same measurements. How baselines (Greedy, Fixed<...>) are compared against a
  /// network's own searcher without measuring twice.
  template <Searcher T>
  Status bind_with(const BindOptions& o = {}) {
    return bind_searching(searcher_id<T>(), [](const SelectionProblem& p, const SearchOptions& so) { return T::search(p, so); }, o);
  }

  /// Calibrates for int8 on sample inputs (each: one nchw/f32 tensor per graph input): every activation's u8
  /// parameters, and the f32 outputs the accuracy budget is checked against. Needed before a mixed-precision
  /// bind — except on a start-up whose tuning cache (BindOptions::cache_path) a calibrated mixed-precision bind
  /// wrote on this device: the cache keeps the calibration's parameters (not its samples), so the bindings cached
  /// with it are used as they are, while a new search under a finite accuracy budget asks for calibrate().
  /// Measurements taken before are dropped (the int8 candidates depend on it). `bias_correction`: keep each
  /// activation's channel means so the int8 layers correct their bias for the weights' rounding
  /// (quant::bias_corrected; on mobilenet_v2 it halves the all-int8 output error).
  Status calibrate(std::vector<std::vector<Tensor>> samples,
                   quant::CalibrationMethod method = quant::CalibrationMethod::mse, bool bias_correction = true);
  /// calibrate() for a one-input graph: one tensor per sample.
  Status calibrate(std::span<const Tensor> samples, quant::CalibrationMethod method = quant::CalibrationMethod::mse,
                   bool bias_correction = true);
  const Calibration& calibration() const noexcept { return calibration_; }

  /// Binds by candidate name, one per node in graph order, without measuring or searching: a binding saved from
  /// an earlier search (`primsel-bench --emit-binding`) baked into firmware. A name a node does not offer is an
  /// error naming the node and what it offers.
  Status bind_names(std::span<const std::string_view> names, const BindOptions& o = {});

  /// Binds a given binding (one candidate index per node, e.g. saved from an earlier search or a Fixed rule
  /// chosen at run time) on the measured problem.
  Status bind_binding(SearchResult chosen, std::string searcher_name, const BindOptions& o = {});

  /// Times every candidate of every node and every conversion, on `o.threads` threads.
  Status measure(const BindOptions& o = {});

  /// The measured cost model (after measure() or bind()).
  const SelectionProblem& problem() const noexcept { return problem_; }

  /// Bytes of memory one RunContext needs (activations + scratch) for the current binding; 0 before bind().
  std::size_t memory_bytes() const noexcept { return memory_bytes_; }

  /// A context for running this binding from another thread at the same time as others (run(context, ...)):
  /// its own activations, scratch and a pool of `threads` threads (0: the thread count bound for). `memory`: the
  /// caller's (memory_bytes() of it), else allocated here.
  Expected<RunContext> make_context(int threads = 0, std::span<std::byte> memory = {}) const;

  /// Inference into preallocated nchw outputs (one per graph output): no allocation. Not reentrant: it uses the
  /// network's own context; concurrent callers each use run(context, ...).
  Status run(std::span<const ConstTensorView> inputs, std::span<const TensorView> outputs);

  /// Inference with the memory and threads of `ctx`: safe to call from several threads at once on one bound
  /// network, each with its own context. No allocation.
  Status run(RunContext& ctx, std::span<const ConstTensorView> inputs, std::span<const TensorView> outputs) const;

  /// Convenience: one nchw input, freshly allocated outputs.
  Expected<std::vector<Tensor>> run(const Tensor& input);

 protected:
  BasicNetwork() = default;
  /// Optimises (BN folding, activation fusion, identity removal) and takes the graph.
  Status adopt(Graph g);

 private:
  using SearchFn = SearchResult (*)(const SelectionProblem&, const SearchOptions&);

  /// bind_with() past the searcher's type: `searcher` names it in the report and the cache key.
  Status bind_searching(std::string searcher, SearchFn search, const BindOptions& o);

  /// What every bind entry point does first: starts the bind's warning state (one cache warning per bind) and
  /// checks the options. A budget is "0: none", so a negative or NaN one is a mistake to report, not a budget to
  /// guess at; the same for the accuracy budget (infinity: unchecked) and measure counts.
  Status begin_bind(const BindOptions& o);

  /// A tuning-cache problem: the bind goes on without the cache. The first of a bind is warned; later ones (a
  /// path that can be neither read nor written, a save after measuring and again after searching) only join
  /// cache_note, so the user sees one line per bind.
  void cache_problem(const BindOptions& o, const std::string& what);

  void save_cache(const BindOptions& o);
  /// Takes a tuning cache's calibration table (without samples) when every value it names is an activation this
  /// graph calibrates; otherwise the cache is noted as not matching and nothing changes.
  void adopt_cached_calibration(const TuningRecord& cached, const BindOptions& o);

  static Status check_threads(int threads);

  /// Plans the chosen candidate of every node and lays out the execution.
  Status instantiate(const std::string& searcher);

  /// The quantisation parameters a value's u8 tensors use (from the calibration); unused for f32.
  QuantParams quant_of(ValueId v) const { return calibration_.of(v).value_or(QuantParams{}); }

  /// The cache key of a search result: the searcher, its seed and whatever constrained it.
  std::string binding_key(const std::string& searcher, const BindOptions& o) const;

  bool checks_accuracy(const BindOptions& o) const {
    return report_.int8_layers > 0 && std::isfinite(o.accuracy_budget) && !calibration_.samples.empty();
  }

  /// Relative output error of the instantiated binding on the calibration samples.
  Expected<double> binding_error();

  /// Searches with `search` on the measured problem restricted to the candidates the budgets leave, until the
  /// instantiated binding meets both (or no candidate is left to remove: an error saying by how much it misses).
  ///  - memory: the chosen candidates with the largest excess over their node's leanest allowed alternative
  ///    (planned weights + scratch + output activation) are removed until the excesses cover the overshoot;
  ///  - accuracy: when the binding's error on the calibration samples exceeds the budget, the error gets a price.
  ///    Each layer's sensitivity s (the error with it alone in int8, measured once) makes its int8 candidates
  ///    cost lambda * s^2 more: independent errors add in quadrature, so the sum of s^2 estimates the binding's
  ///    error^2, and the searcher trades it against time with every conversion priced — a layer leaves int8 only
  ///    where its error is worth more than what it saves with its neighbours' formats (removing the most sensitive
  ///    layers by a rule instead breaks u8 chains into islands that pay a conversion each). lambda is raised until
  ///    the measured error fits, then bisected (6 steps) toward the smallest price that fits; the fastest binding
  ///    found within the budget wins. A searcher that ignores the price (still over the budget at 4^16 times the
  ///    first) falls back to removing the most sensitive int8 layers until sqrt(sum s^2) of the rest fits, at
  ///    least one per round.
  /// Every memory trim or removal ends a round and removes something; the price rounds are bounded: this ends.
  Status search_within_budgets(SearchFn search, const BindOptions& o);
  void note_kept_in_f32(std::size_t node, double sensitivity);

  /// The error of `binding` with `layer` in int8 (its candidate there, else its fastest int8 one) and every other
  /// layer in its fastest f32 candidate.
  Expected<double> layer_sensitivity(std::size_t layer, std::vector<int> binding);

  /// Removes the chosen candidates whose memory most exceeds their node's leanest allowed alternative, until the
  /// excesses removed cover the overshoot; false when every node already has its leanest.
  bool trim_memory(std::size_t budget, std::vector<std::vector<char>>& allowed);

  /// A buffer: an activation in one format, in the arena (or a caller's input/output).
  struct Buffer {
    Shape shape;
    Format format{};
    QuantParams quant{};  ///< of a u8 buffer: its value's calibrated parameters
    std::size_t offset = 0, bytes = 0;
    int first = 0, last = 0;  ///< steps that write it first and read it last
    int external_input = -1, external_output = -1;
    ConstTensorView constant;  ///< for weights passed as node inputs
  };
  struct Step {
    int node = -1;  ///< -1: a format conversion
    std::vector<int> inputs;
    int output = -1;
  };

  /// A searcher's identity in reports and cache keys: its name, the primitive of a Fixed<P>, and a hash of a
  /// compile-time configuration (two QLearning configurations must not share cached bindings).
  template <Searcher T>
  static std::string searcher_id() {
    std::string id(T::name);
    if constexpr (requires { T::primitive; }) {
      id += ':';
      id += T::primitive;
    }
    if constexpr (requires { T::config; }) {
      id += '#';
      id += hex64(fnv1a(std::string_view(reinterpret_cast<const char*>(&T::config), sizeof(T::config)))).substr(0, 8);
    }
    return id;
  }

  /// Measures unless the measurements in hand are for these threads and this cache file.
  Status ensure_measured(const BindOptions& o);

  /// Measures the predicted pairs among `binding`'s choices (every predicted pair when `binding` is empty), puts
  /// the times in the problem, the report and the tuning cache; false when there was nothing to measure.
  bool measure_predicted(const std::vector<int>& binding, const BindOptions& o);

  /// The problem and which of its costs are predicted, into the pair counts, the record and the tuning cache.
  void save_measurements(const BindOptions& o);

  void count_pairs();

  /// The conversions at the graph's edges a candidate needs: its own cost, not an edge's.
  double boundary_ms(std::size_t i, const Candidate& c);

  /// BindOptions::guide as measure() uses it: predictions for a convolution's candidates (none when unguided, for
  /// other ops — they have one or two cheap candidates — or for a single candidate), from a copy of the predictor
  /// recalibrated on the pairs measured so far.
  class Guide {
   public:
    explicit Guide(const BindOptions& o) : guide_(o.guide) {
      if (guide_.active()) model_ = *guide_.predictor;
    }
    std::vector<predict::Prediction> predict(const Graph& g, const Node& n, const std::vector<Candidate>& cands,
                                             int threads) {
      if (!guide_.active() || n.op != OpKind::Conv || cands.size() < 2) return {};
      // measured_ holds measured (positive) times only; should calibrate() still refuse them, the predictor stays
      // uncalibrated, which costs measuring, not correctness (on demand measures every pair the binding uses).
      if (guide_.calibrate && fresh_) fresh_ = false, (void)model_.calibrate(measured_);
      const ConvDesc d = conv_desc(g, n);
      std::vector<predict::Prediction> p;
      for (const Candidate& c : cands) p.push_back(model_.predict(d, c.name, threads));
      return p;
    }
    void learn(const Graph& g, const Node& n, const std::string& primitive, int threads, double ms) {
      measured_.push_back({conv_desc(g, n), primitive, threads, ms, {}});
      fresh_ = true;
    }

   private:
    predict::Guidance guide_;
    predict::LatencyPredictor model_;
    std::vector<predict::Sample> measured_;
    bool fresh_ = false;
  };

  /// A node's report line before anything is chosen: name, op, shapes.
  LayerBinding describe(const Node& n) const;

  static void warn(const BindOptions& o, std::string_view message);

  /// What the cache is valid for: this CPU, ISA, thread count and primsel version.
  static std::string device_signature(int threads);

  /// The graph's structure (ops, names, shapes, convolution descriptors) and each node's candidate names.
  std::string model_key() const;

  std::vector<ValueId> data_inputs(const Node& n) const;

  Expected<double> time_candidate(std::size_t i, const Candidate& c, const MeasureOptions& how);

  /// Time of converting a tensor of `shape` between formats (0 when they agree), measured once per key. Values
  /// have one set of u8 parameters each, so u8 -> u8 never meets on an edge; the time does not depend on them.
  double conversion_ms(const Shape& shape, Format from, Format to);

  /// Steps in node order with conversions where formats disagree; buffers placed in one arena by liveness.
  Status plan_execution();

  static std::size_t align_up(std::size_t bytes) noexcept {
    return (bytes + tensor_alignment - 1) / tensor_alignment * tensor_alignment;
  }

  /// Unique across networks, so a context never passes for another binding's.
  static std::uint64_t next_binding_id() noexcept;

  /// Gives `c` memory_bytes() of `memory` (or of a fresh allocation) and room for one step's input views.
  Status attach_memory(RunContext& c, std::span<std::byte> memory) const;

  TensorView view(std::byte* arena, int b, std::span<const ConstTensorView> inputs,
                  std::span<const TensorView> outputs) const;

  std::unique_ptr<Graph> graph_;  // stable address: candidates refer to it
  std::unique_ptr<ThreadPool> pool_;
  struct Chosen {
    Format input_format, output_format;
    std::size_t workspace_bytes;
    Runner run;
  };
  std::vector<std::vector<Candidate>> cands_;
  SelectionProblem problem_;
  bool measured_ = false;
  int measured_threads_ = 0;
  std::string cache_path_;
  TuningRecord record_;
  std::vector<Chosen> chosen_;
  std::vector<Buffer> buffers_;
  std::vector<Step> steps_;
  std::span<std::byte> memory_;  // BindOptions::memory of the last bind
  std::size_t arena_bytes_ = 0, memory_bytes_ = 0, max_step_inputs_ = 1;
  std::uint64_t binding_id_ = 0;
  RunContext own_;  // what run() without a context uses
  BindReport report_;
  std::map<std::tuple<std::string, std::string, std::string>, double> conversion_cache_;
  Calibration calibration_;
  Precision measured_precision_ = Precision::f32;
  bool cache_runners_ = false;  // while the budgets re-plan bindings
  bool cache_warned_ = false;   // this bind has warned about the tuning cache
  std::map<std::pair<std::size_t, int>, Runner> runner_cache_;
};

/// A graph bound to the fastest primitives for this device by the searcher S (see the top of this file).
template <Searcher S, class Primitives = DefaultConvPrimitives, class Int8Primitives = DefaultInt8ConvPrimitives>
class Network : public BasicNetwork<Primitives, Int8Primitives> {
 public:
  /// Optimises (BN folding, activation fusion, identity removal) and finalizes the graph.
  static Expected<Network> create(Graph g) {
    Network n;
    PRIMSEL_RETURN_IF_ERROR(n.adopt(std::move(g)));
    return n;
  }

  /// Measures (once per thread count), searches with S and plans. May be called again: it starts over.
  Status bind(const BindOptions& o = {}) { return this->template bind_with<S>(o); }
};


template <class Primitives, class Int8Primitives>
Status BasicNetwork<Primitives, Int8Primitives>::adopt(Graph g) {
  PRIMSEL_RETURN_IF_ERROR(optimize(g));
  graph_ = std::make_unique<Graph>(std::move(g));
  return {};
}

template <class Primitives, class Int8Primitives>
Status BasicNetwork<Primitives, Int8Primitives>::bind_searching(std::string searcher, SearchFn search, const BindOptions& o) {
  PRIMSEL_RETURN_IF_ERROR(begin_bind(o));
  PRIMSEL_RETURN_IF_ERROR(ensure_measured(o));
  memory_ = o.memory;
  report_.searcher = std::move(searcher);
  report_.budget_notes.clear();
  report_.output_error = -1;
  const auto t0 = std::chrono::steady_clock::now();
  const std::string key = binding_key(report_.searcher, o);
  if (auto it = record_.bindings.find(key); it != record_.bindings.end()) {
    report_.search = {it->second, problem_.cost(it->second), {problem_.cost(it->second)}, false, "from the tuning cache"};
    report_.searched_from_cache = true;
    report_.search_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    PRIMSEL_RETURN_IF_ERROR(instantiate(report_.searcher));
    if (checks_accuracy(o)) {
      PRIMSEL_ASSIGN_OR_RETURN(report_.output_error, binding_error());
    }
    return {};
  }
  report_.searched_from_cache = false;
  // Predictor-guided: a binding that uses predicted times gets them measured, then the search runs again.
  do {
    PRIMSEL_RETURN_IF_ERROR(search_within_budgets(search, o));
  } while (measure_predicted(report_.search.binding, o));
  report_.search_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  if (!o.cache_path.empty()) {
    record_.bindings[key] = report_.search.binding;
    save_cache(o);
  }
  return {};
}

template <class Primitives, class Int8Primitives>
Status BasicNetwork<Primitives, Int8Primitives>::search_within_budgets(SearchFn search, const BindOptions& o) {
  const Graph& g = *graph_;
  PRIMSEL_CHECK(o.precision == Precision::f32 || !std::isfinite(o.accuracy_budget) || !calibration_.samples.empty(),
                ErrorCode::invalid_argument,
                "the accuracy budget of a mixed-precision search of '" + g.name() +
                    "' is checked on calibration samples, and the calibration from the tuning cache has none (it "
                    "holds no binding for searcher '" + report_.searcher + "' with these options): call calibrate() "
                    "first, or bind with accuracy_budget = infinity");
  std::vector<std::vector<char>> allowed(cands_.size());
  for (std::size_t i = 0; i < cands_.size(); ++i) allowed[i].assign(cands_[i].size(), 1);
  std::map<std::size_t, double> sensitivity;
  cache_runners_ = true;  // rounds re-plan the same candidates; keep them until the binding is final
  struct Uncache {
    BasicNetwork* n;
    ~Uncache() { n->cache_runners_ = false, n->runner_cache_.clear(); }
  } uncache{this};
  // The accuracy price (see the declaration): lambda in ms per error^2, bracketed by [lo, hi] (hi: the smallest
  // price seen to meet the budget), the fastest binding within the budget kept with its error.
  double lambda = 0, lo = 0, hi = std::numeric_limits<double>::infinity();
  int raises = 0, bisections = 0;
  bool removing = o.accuracy_trade == AccuracyTrade::remove;  // also the fallback when a searcher ignores the price
  std::vector<int> unpriced;
  std::optional<std::pair<SearchResult, double>> fastest_within;
  for (;;) {
    std::vector<std::vector<int>> index;
    SelectionProblem sub = restrict_problem(problem_, allowed, index);
    if (lambda > 0)  // the accuracy price, on the allowed int8 candidates
      for (auto [i, s] : sensitivity)
        for (std::size_t k = 0; k < index[i].size(); ++k)
          if (cands_[i][static_cast<std::size_t>(index[i][k])].quantized()) sub.nodes[i].cost[k] += lambda * s * s;
    SearchResult r = search(sub, {.seed = o.seed});
    for (std::size_t i = 0; i < r.binding.size() && i < index.size(); ++i)
      r.binding[i] = index[i][static_cast<std::size_t>(r.binding[i])];
    r.cost = problem_.cost(r.binding);
    report_.search = std::move(r);
    PRIMSEL_RETURN_IF_ERROR(instantiate(report_.searcher));
    if (o.memory_budget > 0 && report_.total_bytes() > o.memory_budget) {
      if (!trim_memory(o.memory_budget, allowed))
        return Error(ErrorCode::unsupported,
                     "the memory budget of " + std::to_string(o.memory_budget) + " bytes cannot be met for '" +
                         g.name() + "': the leanest binding found needs " + std::to_string(report_.total_bytes()) +
                         " (weights " + std::to_string(report_.weight_bytes) + ", activations " +
                         std::to_string(report_.arena_bytes) + ", scratch " + std::to_string(report_.workspace_bytes) + ")");
      continue;
    }
    const bool priced = lambda > 0 && !removing, checked = checks_accuracy(o);
    report_.output_error = -1;  // not measured (all f32 or unchecked), not a previous round's
    if (!checked && !priced) return {};  // nothing to weigh
    if (checked) {
      PRIMSEL_ASSIGN_OR_RETURN(report_.output_error, binding_error());
    }
    const std::vector<int> binding = report_.search.binding;
    if (unpriced.empty()) unpriced = binding;
    const bool within = !checked || report_.output_error <= o.accuracy_budget;
    if (within && !priced) return {};
    // Every layer the search could put in int8, measured once against the current binding.
    for (std::size_t i = 0; i < cands_.size(); ++i)
      for (std::size_t c = 0; c < cands_[i].size(); ++c)
        if (cands_[i][c].quantized() && allowed[i][c] && !sensitivity.contains(i)) {
          PRIMSEL_ASSIGN_OR_RETURN(sensitivity[i], layer_sensitivity(i, binding));
        }
    if (removing) {
      // The most sensitive int8 layers go back to f32 until the rest's estimated error sqrt(sum s^2) fits, at
      // least one per round.
      std::vector<std::size_t> int8;
      for (std::size_t i = 0; i < binding.size(); ++i)
        if (cands_[i][static_cast<std::size_t>(binding[i])].quantized()) int8.push_back(i);
      std::sort(int8.begin(), int8.end(), [&](std::size_t a, std::size_t b) { return sensitivity[a] > sensitivity[b]; });
      double rest = 0;
      for (std::size_t i : int8) rest += sensitivity[i] * sensitivity[i];
      for (std::size_t k = 0; k < int8.size() && (k == 0 || std::sqrt(rest) > o.accuracy_budget); ++k) {
        const std::size_t i = int8[k];
        rest -= sensitivity[i] * sensitivity[i];
        for (std::size_t c = 0; c < cands_[i].size(); ++c)
          if (cands_[i][c].quantized()) allowed[i][c] = 0;
        note_kept_in_f32(i, sensitivity[i]);
      }
      continue;
    }
    if (within) {
      hi = lambda;
      if (!fastest_within || report_.search.cost < fastest_within->first.cost)
        fastest_within.emplace(report_.search, report_.output_error);
    } else {
      lo = lambda;
    }
    if (std::isinf(hi)) {
      // Raise the price: first so that an error of the whole budget costs as much as the unpriced network, then 4x.
      lambda = lambda == 0 ? std::max(problem_.cost(unpriced), 1e-9) / (o.accuracy_budget * o.accuracy_budget +
                                                                         std::numeric_limits<double>::min())
                           : 4 * lambda;
      if (++raises > 16) removing = true, lambda = 0;  // a price 4^16 times that one still buys int8
      continue;
    }
    if (++bisections <= 6 && hi > 1.25 * lo) {
      lambda = lo > 0 ? std::sqrt(lo * hi) : hi / 4;
      continue;
    }
    report_.search = std::move(fastest_within->first);
    PRIMSEL_RETURN_IF_ERROR(instantiate(report_.searcher));
    report_.output_error = fastest_within->second;
    std::vector<std::size_t> back;  // int8 unpriced, f32 now: the price sent them back
    for (std::size_t i = 0; i < unpriced.size(); ++i)
      if (cands_[i][static_cast<std::size_t>(unpriced[i])].quantized() &&
          !cands_[i][static_cast<std::size_t>(report_.search.binding[i])].quantized())
        back.push_back(i);
    std::sort(back.begin(), back.end(), [&](std::size_t a, std::size_t b) { return sensitivity[a] > sensitivity[b]; });
    for (std::size_t i : back) note_kept_in_f32(i, sensitivity[i]);
    return {};
  }
}

template <class Primitives, class Int8Primitives>
void BasicNetwork<Primitives, Int8Primitives>::note_kept_in_f32(std::size_t node, double sensitivity) {
  char note[64];
  std::snprintf(note, sizeof note, " kept in f32 (sensitivity %.3g)", sensitivity);
  report_.budget_notes.push_back("accuracy: " + graph_->nodes()[node].name + note);
}

template <class Primitives, class Int8Primitives>
Status BasicNetwork<Primitives, Int8Primitives>::calibrate(std::vector<std::vector<Tensor>> samples,
                 quant::CalibrationMethod method, bool bias_correction) {
  PRIMSEL_ASSIGN_OR_RETURN(calibration_, calibrate_graph(*graph_, std::move(samples), method, u8_activation_levels,
                                                         bias_correction));
  measured_ = false;
  return {};
}

template <class Primitives, class Int8Primitives>
Status BasicNetwork<Primitives, Int8Primitives>::calibrate(std::span<const Tensor> samples, quant::CalibrationMethod method,
                                                          bool bias_correction) {
  std::vector<std::vector<Tensor>> s;
  for (const Tensor& t : samples) s.push_back({t});
  return calibrate(std::move(s), method, bias_correction);
}

template <class Primitives, class Int8Primitives>
Status BasicNetwork<Primitives, Int8Primitives>::bind_names(std::span<const std::string_view> names, const BindOptions& o) {
  PRIMSEL_RETURN_IF_ERROR(begin_bind(o));
  const Graph& g = *graph_;
  PRIMSEL_CHECK(names.size() == g.nodes().size(), ErrorCode::invalid_argument,
                "the binding names " + std::to_string(names.size()) + " primitives for " +
                    std::to_string(g.nodes().size()) + " nodes of '" + g.name() + "'");
  pool_ = std::make_unique<ThreadPool>(o.threads);
  memory_ = o.memory;
  measured_ = false;
  report_ = {};
  problem_ = {};
  cands_.assign(g.nodes().size(), {});
  SearchResult chosen;
  for (std::size_t i = 0; i < g.nodes().size(); ++i) {
    PRIMSEL_ASSIGN_OR_RETURN(cands_[i], (node_candidates<Primitives, Int8Primitives>(
                                            g, i, o.threads, calibration_.empty() ? nullptr : &calibration_)));
    const Node& n = g.nodes()[i];
    LayerBinding lb = describe(n);
    int found = -1;
    std::string offered;
    for (std::size_t c = 0; c < cands_[i].size(); ++c) {
      lb.candidates.push_back(cands_[i][c].name);
      lb.ms.push_back(0.0);
      offered += (c ? ", " : "") + cands_[i][c].name;
      if (cands_[i][c].name == names[i]) found = static_cast<int>(c);
    }
    PRIMSEL_CHECK(found >= 0, ErrorCode::invalid_argument,
                  "no candidate '" + std::string(names[i]) + "' here (offered: " + offered + ")", g.context_of(n));
    chosen.binding.push_back(found);
    report_.layers.push_back(std::move(lb));
  }
  chosen.note = "bound by name, not measured";
  report_.searcher = "names";
  report_.search = std::move(chosen);
  return instantiate(report_.searcher);
}

template <class Primitives, class Int8Primitives>
Status BasicNetwork<Primitives, Int8Primitives>::bind_binding(SearchResult chosen, std::string searcher_name, const BindOptions& o) {
  PRIMSEL_RETURN_IF_ERROR(begin_bind(o));
  PRIMSEL_RETURN_IF_ERROR(ensure_measured(o));
  memory_ = o.memory;
  report_.searcher = std::move(searcher_name);
  report_.search = std::move(chosen);
  report_.searched_from_cache = false;
  report_.search_ms = 0;
  PRIMSEL_RETURN_IF_ERROR(instantiate(report_.searcher));  // checks the binding's length and every choice
  report_.search.cost = problem_.cost(report_.search.binding);
  return {};
}

template <class Primitives, class Int8Primitives>
Status BasicNetwork<Primitives, Int8Primitives>::measure(const BindOptions& o) {
  PRIMSEL_RETURN_IF_ERROR(begin_bind(o));
  const Graph& g = *graph_;
  const auto t0 = std::chrono::steady_clock::now();
  report_ = {};
  std::optional<Expected<TuningRecord>> cached;
  if (!o.cache_path.empty()) cached = load_tuning_cache(o.cache_path);
  // A mixed-precision start-up without calibrate() takes the calibration saved with this device's tuning cache.
  if (o.precision == Precision::mixed && calibration_.empty() && cached && *cached &&
      (*cached)->device == device_signature(o.threads) && !(*cached)->quant.empty())
    adopt_cached_calibration(**cached, o);
  PRIMSEL_CHECK(o.precision == Precision::f32 || !calibration_.empty(), ErrorCode::invalid_argument,
                "a mixed-precision bind of '" + g.name() +
                    "' needs calibrate() on sample inputs first (or a tuning cache of a calibrated bind on this device)");
  report_.calibration_from_cache = o.precision == Precision::mixed && calibration_.samples.empty();
  pool_ = std::make_unique<ThreadPool>(o.threads);
  memory_ = o.memory;
  measured_ = false;
  steps_.clear(), buffers_.clear(), chosen_.clear();
  problem_ = {};
  record_ = {};
  cache_path_ = o.cache_path;
  cands_.assign(g.nodes().size(), {});
  const Calibration* quant = o.precision == Precision::mixed ? &calibration_ : nullptr;
  for (std::size_t i = 0; i < g.nodes().size(); ++i) {
    PRIMSEL_ASSIGN_OR_RETURN(cands_[i], (node_candidates<Primitives, Int8Primitives>(g, i, o.threads, quant)));
  }
  record_.device = device_signature(o.threads);
  record_.model = model_key();
  if (cached) {
    if (!*cached) {
      if (cached->error().code() != ErrorCode::io_error || std::ifstream(o.cache_path).good()) {
        cache_problem(o, std::string("ignoring the tuning cache: ") + cached->error().what());
      } else {
        report_.cache_note = "no tuning cache yet at '" + o.cache_path + "'";
      }
    } else if ((*cached)->device != record_.device) {
      cache_problem(o, "ignoring the tuning cache '" + o.cache_path + "': it is for device '" + (*cached)->device +
                           "', this is '" + record_.device + "'");
    } else if ((*cached)->model != record_.model) {
      cache_problem(o, "ignoring the tuning cache '" + o.cache_path + "': it is for another model or primitive list");
    } else {
      record_ = std::move(**cached);
      problem_ = record_.problem;
      for (std::size_t i = 0; i < g.nodes().size(); ++i) {
        LayerBinding lb = describe(g.nodes()[i]);
        lb.candidates = problem_.nodes[i].candidates;
        lb.ms = problem_.nodes[i].cost;
        lb.predicted = i < record_.predicted.size() ? record_.predicted[i] : std::vector<char>{};
        lb.predicted.resize(lb.candidates.size(), 0);
        report_.layers.push_back(std::move(lb));
      }
      count_pairs();
      // A guided start's cache, now asked for every pair: measure the predicted ones.
      if (!o.guide.active() && report_.pairs_measured < report_.pairs) measure_predicted({}, o);
      report_.measured_from_cache = true;
      report_.measure_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      measured_ = true;
      measured_threads_ = o.threads;
      measured_precision_ = o.precision;
      return {};
    }
  }
  Guide guide(o);
  for (std::size_t i = 0; i < g.nodes().size(); ++i) {
    const Node& n = g.nodes()[i];
    SearchNode sn{n.name, {}, {}};
    LayerBinding lb = describe(n);
    const std::vector<predict::Prediction> predicted = guide.predict(g, n, cands_[i], o.threads);
    const std::vector<char> keep = predict::candidates_to_measure(predicted, o.guide.rule, o.guide.k);
    for (std::size_t c = 0; c < cands_[i].size(); ++c) {
      double ms = 0;
      if (predicted.empty() || keep[c]) {
        const double spent = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        report_.budget_exceeded = report_.budget_exceeded || (o.budget_ms > 0 && spent > o.budget_ms);
        const MeasureOptions how = report_.budget_exceeded ? MeasureOptions{.warmup = 0, .min_runs = 1, .max_runs = 1} : o.measure;
        PRIMSEL_ASSIGN_OR_RETURN(ms, time_candidate(i, cands_[i][c], how));
        if (!predicted.empty()) guide.learn(g, n, cands_[i][c].name, o.threads, ms);
      } else {
        ms = predicted[c].ms;
      }
      sn.candidates.push_back(cands_[i][c].name);
      lb.candidates.push_back(cands_[i][c].name);
      lb.ms.push_back(ms);
      lb.predicted.push_back(predicted.empty() || keep[c] ? 0 : 1);
      sn.cost.push_back(ms + boundary_ms(i, cands_[i][c]));
    }
    problem_.nodes.push_back(std::move(sn));
    report_.layers.push_back(std::move(lb));
    if (o.progress)
      o.progress(i + 1, g.nodes().size(),
                 std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  // Conversions on every producer -> consumer edge.
  for (std::size_t j = 0; j < g.nodes().size(); ++j)
    for (ValueId v : data_inputs(g.nodes()[j])) {
      const int i = g.value(v).producer;
      if (i < 0) continue;
      const auto& from = cands_[static_cast<std::size_t>(i)];
      auto it = std::find_if(problem_.edges.begin(), problem_.edges.end(),
                             [&](const SearchEdge& e) { return e.from == i && e.to == static_cast<int>(j); });
      if (it == problem_.edges.end()) {
        problem_.edges.push_back({i, static_cast<int>(j), std::vector<double>(from.size() * cands_[j].size(), 0.0)});
        it = std::prev(problem_.edges.end());
      }
      for (std::size_t a = 0; a < from.size(); ++a)
        for (std::size_t b = 0; b < cands_[j].size(); ++b)
          it->cost[a * cands_[j].size() + b] +=
              conversion_ms(g.value(v).shape, from[a].output_format, cands_[j][b].input_format);
    }
  PRIMSEL_RETURN_IF_ERROR(problem_.validate());
  report_.measure_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  save_measurements(o);
  measured_ = true;
  measured_threads_ = o.threads;
  measured_precision_ = o.precision;
  return {};
}

template <class Primitives, class Int8Primitives>
Expected<RunContext> BasicNetwork<Primitives, Int8Primitives>::make_context(int threads, std::span<std::byte> memory) const {
  PRIMSEL_CHECK(bound(), ErrorCode::invalid_argument, "network '" + graph_->name() + "' is not bound: call bind() first");
  if (threads == 0) threads = pool_ ? pool_->size() : 1;
  PRIMSEL_RETURN_IF_ERROR(check_threads(threads));
  RunContext c;
  PRIMSEL_RETURN_IF_ERROR(attach_memory(c, memory));
  c.own_pool_ = std::make_unique<ThreadPool>(threads);
  c.pool_ = c.own_pool_.get();
  return c;
}

template <class Primitives, class Int8Primitives>
Status BasicNetwork<Primitives, Int8Primitives>::run(std::span<const ConstTensorView> inputs, std::span<const TensorView> outputs) {
  return run(own_, inputs, outputs);
}

template <class Primitives, class Int8Primitives>
Status BasicNetwork<Primitives, Int8Primitives>::run(RunContext& ctx, std::span<const ConstTensorView> inputs, std::span<const TensorView> outputs) const {
  const Graph& g = *graph_;
  PRIMSEL_CHECK(bound(), ErrorCode::invalid_argument, "network '" + g.name() + "' is not bound: call bind() first");
  PRIMSEL_CHECK(ctx.binding_ == binding_id_, ErrorCode::invalid_argument,
                "the run context of network '" + g.name() + "' was made for " +
                    (ctx.binding_ == 0 ? std::string("no binding") : std::string("an earlier binding")) +
                    ": make a new one with make_context() after each bind");
  PRIMSEL_CHECK(inputs.size() == g.inputs().size() && outputs.size() == g.outputs().size(),
                ErrorCode::invalid_argument,
                "network '" + g.name() + "' takes " + std::to_string(g.inputs().size()) + " input(s) and " +
                    std::to_string(g.outputs().size()) + " output(s), got " + std::to_string(inputs.size()) +
                    " and " + std::to_string(outputs.size()));
  // A view without data (a default-constructed one) would be dereferenced by the first kernel.
  PRIMSEL_RETURN_IF_ERROR(detail::check_run_views(g, g.inputs(), inputs, "input"));
  PRIMSEL_RETURN_IF_ERROR(detail::check_run_views(g, g.outputs(), outputs, "output"));
  ScopedFlushDenormals flush;
  std::byte* const arena = ctx.memory_.data();
  const Context kernel_ctx{ctx.pool_, ctx.memory_.subspan(arena_bytes_)};
  std::vector<ConstTensorView>& views = ctx.views_;
  for (const Step& s : steps_) {
    views.clear();
    for (int b : s.inputs) views.push_back(b < 0 ? ConstTensorView{} : view(arena, b, inputs, outputs));
    const TensorView out = view(arena, s.output, inputs, outputs);
    if (s.node < 0)
      (void)convert_format(views[0], out);  // formats and shapes fixed at bind time
    else
      chosen_[static_cast<std::size_t>(s.node)].run(views, out, kernel_ctx);
  }
  return {};
}

template <class Primitives, class Int8Primitives>
Expected<std::vector<Tensor>> BasicNetwork<Primitives, Int8Primitives>::run(const Tensor& input) {
  std::vector<Tensor> outs;
  std::vector<TensorView> views;
  for (ValueId v : graph_->outputs()) {
    PRIMSEL_ASSIGN_OR_RETURN(Tensor t, Tensor::create(graph_->value(v).shape));
    outs.push_back(std::move(t));
  }
  for (Tensor& t : outs) views.push_back(t.view());
  const ConstTensorView in = input.view();
  PRIMSEL_RETURN_IF_ERROR(run(std::span<const ConstTensorView>(&in, 1), views));
  return outs;
}

template <class Primitives, class Int8Primitives>
Status BasicNetwork<Primitives, Int8Primitives>::begin_bind(const BindOptions& o) {
  cache_warned_ = false;  // one cache warning per bind
  PRIMSEL_RETURN_IF_ERROR(check_threads(o.threads));
  PRIMSEL_CHECK(o.budget_ms >= 0, ErrorCode::invalid_argument,
                "BindOptions::budget_ms must be >= 0 ms (0: no budget), got " + std::to_string(o.budget_ms));
  PRIMSEL_CHECK(o.accuracy_budget >= 0, ErrorCode::invalid_argument,
                "BindOptions::accuracy_budget must be >= 0 (infinity: unchecked), got " +
                    std::to_string(o.accuracy_budget));
  PRIMSEL_CHECK(o.measure.warmup >= 0 && o.measure.min_runs >= 0 && o.measure.max_runs >= 0,
                ErrorCode::invalid_argument,
                "BindOptions::measure: warmup, min_runs and max_runs must be >= 0, got " +
                    std::to_string(o.measure.warmup) + ", " + std::to_string(o.measure.min_runs) + ", " +
                    std::to_string(o.measure.max_runs));
  return {};
}

template <class Primitives, class Int8Primitives>
void BasicNetwork<Primitives, Int8Primitives>::cache_problem(const BindOptions& o, const std::string& what) {
  if (cache_warned_) {
    report_.cache_note += "; " + what;
    return;
  }
  cache_warned_ = true;
  report_.cache_note = what;
  warn(o, what);
}

template <class Primitives, class Int8Primitives>
void BasicNetwork<Primitives, Int8Primitives>::adopt_cached_calibration(const TuningRecord& cached, const BindOptions& o) {
  const Graph& g = *graph_;
  Calibration cal;
  cal.params.resize(g.values().size());
  for (const auto& [name, q] : cached.quant) {
    const std::optional<ValueId> v = g.find_value(name);
    if (!v || g.value(*v).is_constant() || g.value(*v).shape.rank() != 4) {
      cache_problem(o, "ignoring the calibration in the tuning cache '" + o.cache_path + "': '" + name +
                           "' is not an activation of '" + g.name() + "'");
      return;
    }
    // Levels another target's kernels needed (a cache from a VNNI machine on an AVX2 one, or the reverse): the
    // GEMM convs would refuse 8-bit inputs here, and 7-bit ones would waste a bit.
    if (q.qmax != u8_activation_levels.hi) {
      cache_problem(o, "ignoring the calibration in the tuning cache '" + o.cache_path + "': '" + name +
                           "' was quantised into [0, " + std::to_string(q.qmax) + "], this target's int8 kernels use [0, " +
                           std::to_string(u8_activation_levels.hi) + "]");
      return;
    }
    cal.params[static_cast<std::size_t>(*v)] = q;
  }
  if (!cached.means.empty()) cal.means.resize(g.values().size());
  for (const auto& [name, mean] : cached.means) {
    const std::optional<ValueId> v = g.find_value(name);
    const Shape* shape = v ? &g.value(*v).shape : nullptr;
    if (!v || g.value(*v).is_constant() || (shape->rank() != 4 && shape->rank() != 2) ||
        static_cast<std::int64_t>(mean.size()) != (*shape)[1]) {
      cache_problem(o, "ignoring the calibration in the tuning cache '" + o.cache_path + "': its channel means of '" +
                           name + "' do not fit an activation of '" + g.name() + "'");
      return;
    }
    cal.means[static_cast<std::size_t>(*v)] = mean;
  }
  calibration_ = std::move(cal);
}

template <class Primitives, class Int8Primitives>
void BasicNetwork<Primitives, Int8Primitives>::save_cache(const BindOptions& o) {
  if (o.precision == Precision::mixed) {  // the calibration the int8 candidates were planned with
    record_.quant.clear(), record_.means.clear();
    for (std::size_t v = 0; v < calibration_.params.size(); ++v)
      if (const auto& q = calibration_.params[v]) record_.quant.emplace_back(graph_->values()[v].name, *q);
    for (std::size_t v = 0; v < calibration_.means.size(); ++v)
      if (!calibration_.means[v].empty()) record_.means.emplace_back(graph_->values()[v].name, calibration_.means[v]);
  }
  if (Status s = save_tuning_cache(o.cache_path, record_); !s)
    cache_problem(o, std::string("not saving the tuning cache: ") + s.error().what());
}

template <class Primitives, class Int8Primitives>
Status BasicNetwork<Primitives, Int8Primitives>::check_threads(int threads) {
  PRIMSEL_CHECK(threads >= 1, ErrorCode::invalid_argument, "threads must be >= 1");
  PRIMSEL_CHECK(PRIMSEL_HAS_THREADS || threads == 1, ErrorCode::unsupported,
                "this target has no threads (PRIMSEL_HAS_THREADS is 0): bind with threads = 1");
  return {};
}

template <class Primitives, class Int8Primitives>
Status BasicNetwork<Primitives, Int8Primitives>::instantiate(const std::string& searcher) {
  const Graph& g = *graph_;
  steps_.clear(), buffers_.clear(), chosen_.clear();
  report_.conversions = 0, report_.weight_bytes = 0, report_.int8_layers = 0;
  PRIMSEL_CHECK(report_.search.binding.size() == g.nodes().size(), ErrorCode::invalid_argument,
                searcher + " gave a binding of " + std::to_string(report_.search.binding.size()) + " choices for " +
                    std::to_string(g.nodes().size()) + " nodes");
  for (std::size_t i = 0; i < g.nodes().size(); ++i) {
    const int c = report_.search.binding[i];
    PRIMSEL_CHECK(c >= 0 && static_cast<std::size_t>(c) < cands_[i].size(), ErrorCode::invalid_argument,
                  searcher + " chose a candidate that does not exist", g.context_of(g.nodes()[i]));
    const Candidate& cand = cands_[i][static_cast<std::size_t>(c)];
    Runner r;
    if (auto it = runner_cache_.find({i, c}); it != runner_cache_.end()) {
      r = it->second;
    } else {
      PRIMSEL_ASSIGN_OR_RETURN(r, cand.instantiate());
      if (cache_runners_) runner_cache_[{i, c}] = r;
    }
    chosen_.push_back({cand.input_format, cand.output_format, cand.workspace_bytes, std::move(r)});
    report_.layers[i].chosen = c;
    report_.layers[i].input_format = cand.input_format;
    report_.layers[i].output_format = cand.output_format;
    report_.layers[i].weight_bytes = cand.weight_bytes;
    report_.weight_bytes += cand.weight_bytes;
    report_.int8_layers += cand.quantized() ? 1 : 0;
  }
  return plan_execution();
}

template <class Primitives, class Int8Primitives>
std::string BasicNetwork<Primitives, Int8Primitives>::binding_key(const std::string& searcher, const BindOptions& o) const {
  std::string key = searcher + " " + std::to_string(o.seed);
  if (o.precision == Precision::mixed) {  // another budget or calibration may allow other layers
    std::string q = std::to_string(o.accuracy_budget) + (o.accuracy_trade == AccuracyTrade::price ? " price" : "");
    for (const auto& p : calibration_.params)
      q += p ? std::to_string(p->scale) + "/" + std::to_string(p->zero_point) + "," : std::string(",");
    for (const auto& m : calibration_.means)  // bias-corrected int8 layers compute other outputs
      for (float x : m) q += std::to_string(x) + ";";
    key += " mixed:" + hex64(fnv1a(q)).substr(0, 12);
  }
  if (o.memory_budget) key += " memory:" + std::to_string(o.memory_budget);
  return key;
}

template <class Primitives, class Int8Primitives>
Expected<double> BasicNetwork<Primitives, Int8Primitives>::binding_error() {
  const Graph& g = *graph_;
  std::vector<std::vector<Tensor>> actual;
  for (const std::vector<Tensor>& sample : calibration_.samples) {
    std::vector<ConstTensorView> ins;
    for (const Tensor& t : sample) ins.push_back(t.view());
    std::vector<Tensor> outs;
    std::vector<TensorView> views;
    for (ValueId v : g.outputs()) {
      PRIMSEL_ASSIGN_OR_RETURN(Tensor t, Tensor::create(g.value(v).shape));
      outs.push_back(std::move(t));
    }
    for (Tensor& t : outs) views.push_back(t.view());
    PRIMSEL_RETURN_IF_ERROR(run(ins, views));
    actual.push_back(std::move(outs));
  }
  return relative_output_error(calibration_.expected, actual);
}

template <class Primitives, class Int8Primitives>
Expected<double> BasicNetwork<Primitives, Int8Primitives>::layer_sensitivity(std::size_t layer, std::vector<int> binding) {
  auto fastest = [&](std::size_t i, bool int8) {
    int best = -1;
    for (std::size_t c = 0; c < cands_[i].size(); ++c)
      if (cands_[i][c].quantized() == int8 &&
          (best < 0 || problem_.nodes[i].cost[c] < problem_.nodes[i].cost[static_cast<std::size_t>(best)]))
        best = static_cast<int>(c);
    return best;
  };
  for (std::size_t i = 0; i < binding.size(); ++i) {
    const bool int8 = cands_[i][static_cast<std::size_t>(binding[i])].quantized();
    if (i == layer && !int8) binding[i] = fastest(i, true);
    if (i != layer && int8) binding[i] = fastest(i, false);  // u8 candidates only come beside f32 ones
  }
  const SearchResult kept = report_.search;
  report_.search.binding = std::move(binding);
  PRIMSEL_RETURN_IF_ERROR(instantiate(report_.searcher));
  auto error = binding_error();
  report_.search = kept;
  return error;
}

template <class Primitives, class Int8Primitives>
bool BasicNetwork<Primitives, Int8Primitives>::trim_memory(std::size_t budget, std::vector<std::vector<char>>& allowed) {
  const Graph& g = *graph_;
  auto footprint = [&](std::size_t i, std::size_t c) {
    const Candidate& cand = cands_[i][c];
    const Shape& out = g.value(g.nodes()[i].outputs[0]).shape;
    return static_cast<double>(cand.weight_bytes + cand.workspace_bytes) +
           static_cast<double>(storage_elements(out, cand.output_format.layout)) * size_of(cand.output_format.dtype);
  };
  std::vector<std::pair<double, std::size_t>> excess;  // (bytes over the leanest, node)
  for (std::size_t i = 0; i < cands_.size(); ++i) {
    const auto chosen = static_cast<std::size_t>(report_.search.binding[i]);
    double lean = footprint(i, chosen);
    for (std::size_t c = 0; c < cands_[i].size(); ++c)
      if (allowed[i][c]) lean = std::min(lean, footprint(i, c));
    if (footprint(i, chosen) > lean) excess.emplace_back(footprint(i, chosen) - lean, i);
  }
  if (excess.empty()) return false;
  std::sort(excess.rbegin(), excess.rend());
  double need = static_cast<double>(report_.total_bytes() - budget);
  for (auto [bytes, i] : excess) {
    const auto chosen = static_cast<std::size_t>(report_.search.binding[i]);
    allowed[i][chosen] = 0;
    report_.budget_notes.push_back("memory: " + g.nodes()[i].name + " gave up " + cands_[i][chosen].name);
    need -= bytes;
    if (need <= 0) break;
  }
  return true;
}

template <class Primitives, class Int8Primitives>
Status BasicNetwork<Primitives, Int8Primitives>::ensure_measured(const BindOptions& o) {
  if (measured_ && measured_threads_ == o.threads && measured_precision_ == o.precision && cache_path_ == o.cache_path) {
    // Measurements from a guided start (or its cache) complete themselves when every pair is asked for.
    if (!o.guide.active() && report_.pairs_measured < report_.pairs) measure_predicted({}, o);
    return {};
  }
  return measure(o);
}

template <class Primitives, class Int8Primitives>
bool BasicNetwork<Primitives, Int8Primitives>::measure_predicted(const std::vector<int>& binding, const BindOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  bool any = false;
  for (std::size_t i = 0; i < report_.layers.size(); ++i) {
    LayerBinding& l = report_.layers[i];
    for (std::size_t c = 0; c < l.predicted.size(); ++c) {
      if (!l.predicted[c] || (!binding.empty() && static_cast<std::size_t>(binding[i]) != c)) continue;
      auto ms = time_candidate(i, cands_[i][c], o.measure);
      if (!ms) continue;  // planning failed: the prediction stays (instantiate() reports the error if chosen)
      l.ms[c] = *ms, l.predicted[c] = 0, any = true;
      problem_.nodes[i].cost[c] = *ms + boundary_ms(i, cands_[i][c]);
    }
  }
  if (!any) return false;
  record_.bindings.clear();  // searched on the estimates these times replace
  report_.measure_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  save_measurements(o);
  return true;
}

template <class Primitives, class Int8Primitives>
void BasicNetwork<Primitives, Int8Primitives>::save_measurements(const BindOptions& o) {
  count_pairs();
  record_.problem = problem_;
  record_.predicted.clear();
  for (const LayerBinding& l : report_.layers) record_.predicted.push_back(l.predicted);
  if (!o.cache_path.empty()) save_cache(o);
}

template <class Primitives, class Int8Primitives>
void BasicNetwork<Primitives, Int8Primitives>::count_pairs() {
  report_.pairs = report_.pairs_measured = 0;
  for (const LayerBinding& l : report_.layers)
    for (char p : l.predicted) report_.pairs += 1, report_.pairs_measured += p ? 0 : 1;
}

template <class Primitives, class Int8Primitives>
double BasicNetwork<Primitives, Int8Primitives>::boundary_ms(std::size_t i, const Candidate& c) {
  const Graph& g = *graph_;
  const Node& n = g.nodes()[i];
  double ms = 0;
  for (ValueId v : data_inputs(n))
    if (g.is_input(v)) ms += conversion_ms(g.value(v).shape, Format{}, c.input_format);
  for (ValueId v : g.outputs())
    if (v == n.outputs[0]) ms += conversion_ms(g.value(v).shape, c.output_format, Format{});
  return ms;
}

template <class Primitives, class Int8Primitives>
LayerBinding BasicNetwork<Primitives, Int8Primitives>::describe(const Node& n) const {
  const Graph& g = *graph_;
  return {n.name, n.op, n.inputs.empty() ? Shape{} : g.value(n.inputs[0]).shape, g.value(n.outputs[0]).shape,
          {}, {}, {}, 0, Format{}, Format{}, 0};
}

template <class Primitives, class Int8Primitives>
void BasicNetwork<Primitives, Int8Primitives>::warn(const BindOptions& o, std::string_view message) {
  if (o.warn) {
    o.warn(message);
  } else {
    std::fprintf(stderr, "primsel: warning: %.*s\n", static_cast<int>(message.size()), message.data());
  }
}

template <class Primitives, class Int8Primitives>
std::string BasicNetwork<Primitives, Int8Primitives>::device_signature(int threads) {
  return cpu_name() + "|" + std::string(simd::isa) + "|threads=" + std::to_string(threads) + "|primsel=" + version_string;
}

template <class Primitives, class Int8Primitives>
std::string BasicNetwork<Primitives, Int8Primitives>::model_key() const {
  const Graph& g = *graph_;
  std::string s = g.name();  // appended piecewise: `"x" + std::string&&` trips GCC 12's -Wrestrict
  auto add = [&s](std::string_view piece) {
    s += ' ';
    s += piece;
  };
  for (std::size_t i = 0; i < g.nodes().size(); ++i) {
    const Node& n = g.nodes()[i];
    add("|");
    add(to_string(n.op));
    add(n.name);
    for (ValueId v : n.inputs) add(v == no_value ? std::string("-") : to_string(g.value(v).shape));
    add("->");
    add(to_string(g.value(n.outputs[0]).shape));
    if (n.op == OpKind::Conv) add(to_string(conv_desc(g, n)));
    for (const Candidate& c : cands_[i]) add(c.name);
  }
  return hex64(fnv1a(s));
}

template <class Primitives, class Int8Primitives>
std::vector<ValueId> BasicNetwork<Primitives, Int8Primitives>::data_inputs(const Node& n) const {
  std::vector<ValueId> v;
  for (ValueId id : n.inputs)
    if (id != no_value && !graph_->value(id).is_constant()) v.push_back(id);
  return v;
}

template <class Primitives, class Int8Primitives>
Expected<double> BasicNetwork<Primitives, Int8Primitives>::time_candidate(std::size_t i, const Candidate& c, const MeasureOptions& how) {
  const Graph& g = *graph_;
  const Node& n = g.nodes()[i];
  std::vector<Tensor> owned;
  std::vector<ConstTensorView> views;
  Rng rng(i + 1);
  for (ValueId id : n.inputs) {
    if (id == no_value) {
      views.emplace_back();
    } else if (g.value(id).is_constant()) {
      views.push_back(g.value(id).constant->view());
    } else {
      PRIMSEL_ASSIGN_OR_RETURN(Tensor x, Tensor::create(g.value(id).shape));
      for (float& f : x.floats()) f = static_cast<float>(rng.uniform(-1.0, 1.0));
      PRIMSEL_ASSIGN_OR_RETURN(Tensor xl, Tensor::create(x.shape(), c.input_format, quant_of(id)));
      PRIMSEL_RETURN_IF_ERROR(convert_format(x.view(), xl.view()));
      owned.push_back(std::move(xl));
      views.push_back(owned.back().view());
    }
  }
  PRIMSEL_ASSIGN_OR_RETURN(Tensor y, Tensor::create(g.value(n.outputs[0]).shape, c.output_format, quant_of(n.outputs[0])));
  PRIMSEL_ASSIGN_OR_RETURN(Tensor ws, Tensor::create(Shape{static_cast<std::int64_t>(c.workspace_bytes / 4 + 16)}));
  const Context ctx{pool_.get(), {ws.bytes(), ws.size_bytes()}};
  PRIMSEL_ASSIGN_OR_RETURN(const Runner run, c.instantiate());
  ScopedFlushDenormals flush;
  return median_ms([&] { run(views, y.view(), ctx); }, how);
}

template <class Primitives, class Int8Primitives>
double BasicNetwork<Primitives, Int8Primitives>::conversion_ms(const Shape& shape, Format from, Format to) {
  if (from == to) return 0.0;
  const auto key = std::make_tuple(to_string(shape), to_string(from), to_string(to));
  if (auto it = conversion_cache_.find(key); it != conversion_cache_.end()) return it->second;
  const QuantParams q{0.05f, 128};
  Tensor src(shape, from, q), dst(shape, to, q);
  const double ms = median_ms([&] { (void)convert_format(src.view(), dst.view()); }, {.min_runs = 3, .cap_ms = 50});
  conversion_cache_[key] = ms;
  return ms;
}

template <class Primitives, class Int8Primitives>
Status BasicNetwork<Primitives, Int8Primitives>::plan_execution() {
  const Graph& g = *graph_;
  auto format_key = [](Format f) { return static_cast<int>(f.layout) * 16 + static_cast<int>(f.dtype); };
  std::map<std::pair<ValueId, int>, int> buffer_of;  // (value, format) -> buffer
  auto add_buffer = [&](ValueId v, Format f) {
    buffers_.push_back(Buffer{g.value(v).shape, f, f.dtype == DType::u8 ? quant_of(v) : QuantParams{}, 0, 0, 0, 0,
                              -1, -1, {}});
    const int b = static_cast<int>(buffers_.size()) - 1;
    buffer_of[{v, format_key(f)}] = b;
    return b;
  };
  auto home_of = [&](const Value& val) {
    return val.producer >= 0 ? chosen_[static_cast<std::size_t>(val.producer)].output_format : Format{};
  };
  for (std::size_t k = 0; k < g.inputs().size(); ++k) buffers_[static_cast<std::size_t>(add_buffer(g.inputs()[k], Format{}))].external_input = static_cast<int>(k);
  auto need = [&](ValueId v, Format f) -> int {  // the buffer of v in format f, converting if needed
    if (auto it = buffer_of.find({v, format_key(f)}); it != buffer_of.end()) return it->second;
    const int src = buffer_of.at({v, format_key(home_of(g.value(v)))});
    const int dst = add_buffer(v, f);
    steps_.push_back({-1, {src}, dst});
    ++report_.conversions;
    return dst;
  };
  for (std::size_t i = 0; i < g.nodes().size(); ++i) {
    const Node& n = g.nodes()[i];
    Step s{static_cast<int>(i), {}, -1};
    for (ValueId id : n.inputs) {
      if (id == no_value) {
        s.inputs.push_back(-1);
      } else if (g.value(id).is_constant()) {
        buffers_.push_back(Buffer{g.value(id).shape, Format{}, {}, 0, 0, 0, 0, -1, -1, g.value(id).constant->view()});
        s.inputs.push_back(static_cast<int>(buffers_.size()) - 1);
      } else {
        s.inputs.push_back(need(id, chosen_[i].input_format));
      }
    }
    s.output = add_buffer(n.outputs[0], chosen_[i].output_format);
    steps_.push_back(std::move(s));
  }
  for (std::size_t k = 0; k < g.outputs().size(); ++k) {  // into the caller's nchw/f32 output
    const ValueId v = g.outputs()[k];
    const Value& val = g.value(v);
    const Format home = home_of(val);
    const int dst = static_cast<int>(buffers_.size());
    buffers_.push_back(Buffer{val.shape, Format{}, {}, 0, 0, 0, 0, -1, static_cast<int>(k), {}});
    steps_.push_back({-1, {buffer_of.at({v, format_key(home)})}, dst});
    if (home != Format{}) ++report_.conversions;
  }
  // Liveness: first write and last read of every arena buffer.
  for (Buffer& b : buffers_) b.first = -1, b.last = -1;
  for (std::size_t s = 0; s < steps_.size(); ++s) {
    for (int b : steps_[s].inputs)
      if (b >= 0) buffers_[static_cast<std::size_t>(b)].last = static_cast<int>(s);
    Buffer& out = buffers_[static_cast<std::size_t>(steps_[s].output)];
    if (out.first < 0) out.first = static_cast<int>(s);
    out.last = std::max(out.last, static_cast<int>(s));
  }
  // First fit, largest first, among buffers whose lifetimes overlap.
  std::vector<int> order;
  for (std::size_t b = 0; b < buffers_.size(); ++b) {
    Buffer& buf = buffers_[b];
    if (buf.external_input >= 0 || buf.external_output >= 0 || buf.constant.bytes() != nullptr) continue;
    buf.bytes = align_up(static_cast<std::size_t>(storage_elements(buf.shape, buf.format.layout)) * size_of(buf.format.dtype));
    order.push_back(static_cast<int>(b));
  }
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    return buffers_[static_cast<std::size_t>(a)].bytes > buffers_[static_cast<std::size_t>(b)].bytes;
  });
  std::vector<int> placed;
  std::size_t arena = 0;
  for (int b : order) {
    Buffer& buf = buffers_[static_cast<std::size_t>(b)];
    std::vector<std::pair<std::size_t, std::size_t>> busy;
    for (int p : placed) {
      const Buffer& o = buffers_[static_cast<std::size_t>(p)];
      if (o.first <= buf.last && buf.first <= o.last) busy.emplace_back(o.offset, o.offset + o.bytes);
    }
    std::sort(busy.begin(), busy.end());
    std::size_t offset = 0;
    for (auto [lo, hi] : busy) {
      if (offset + buf.bytes <= lo) break;
      offset = std::max(offset, hi);
    }
    buf.offset = offset;
    arena = std::max(arena, offset + buf.bytes);
    placed.push_back(b);
  }
  std::size_t ws = 0;
  for (const Chosen& c : chosen_) ws = std::max(ws, c.workspace_bytes);
  arena_bytes_ = align_up(arena);
  memory_bytes_ = arena_bytes_ + align_up(ws + 64);
  max_step_inputs_ = 1;
  for (const Step& st : steps_) max_step_inputs_ = std::max(max_step_inputs_, st.inputs.size());
  binding_id_ = next_binding_id();
  report_.arena_bytes = arena;
  report_.workspace_bytes = ws;
  own_ = RunContext{};
  PRIMSEL_RETURN_IF_ERROR(attach_memory(own_, memory_));
  own_.pool_ = pool_.get();
  return {};
}

template <class Primitives, class Int8Primitives>
std::uint64_t BasicNetwork<Primitives, Int8Primitives>::next_binding_id() noexcept {
  static std::atomic<std::uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

template <class Primitives, class Int8Primitives>
Status BasicNetwork<Primitives, Int8Primitives>::attach_memory(RunContext& c, std::span<std::byte> memory) const {
  if (memory.empty()) {
    PRIMSEL_ASSIGN_OR_RETURN(c.owned_, Tensor::create(Shape{static_cast<std::int64_t>(memory_bytes_ / 4 + 1)}));
    memory = {c.owned_.bytes(), c.owned_.size_bytes()};
  }
  PRIMSEL_CHECK(memory.size() >= memory_bytes_, ErrorCode::invalid_argument,
                "network '" + graph_->name() + "' needs " + std::to_string(memory_bytes_) +
                    " bytes of run memory for this binding, got " + std::to_string(memory.size()));
  PRIMSEL_CHECK(reinterpret_cast<std::uintptr_t>(memory.data()) % tensor_alignment == 0, ErrorCode::invalid_argument,
                "run memory must be aligned to " + std::to_string(tensor_alignment) + " bytes");
  c.memory_ = memory.first(memory_bytes_);
  c.views_.reserve(max_step_inputs_);  // run() must not allocate
  c.binding_ = binding_id_;
  return {};
}

template <class Primitives, class Int8Primitives>
TensorView BasicNetwork<Primitives, Int8Primitives>::view(std::byte* arena, int b, std::span<const ConstTensorView> inputs,
                std::span<const TensorView> outputs) const {
  const Buffer& buf = buffers_[static_cast<std::size_t>(b)];
  if (buf.external_input >= 0) {  // read only: the const_cast never writes
    const ConstTensorView& v = inputs[static_cast<std::size_t>(buf.external_input)];
    return TensorView(const_cast<std::byte*>(v.bytes()), v.shape(), v.format());
  }
  if (buf.external_output >= 0) return outputs[static_cast<std::size_t>(buf.external_output)];
  if (buf.constant.bytes() != nullptr)
    return TensorView(const_cast<std::byte*>(buf.constant.bytes()), buf.constant.shape(), buf.constant.format());
  return TensorView(arena + buf.offset, buf.shape, buf.format, buf.quant);
}

#ifdef PRIMSEL_EXTERN_DEFAULT_CANDIDATES
extern template class BasicNetwork<DefaultConvPrimitives, DefaultInt8ConvPrimitives>;
#endif

}  // namespace primsel
