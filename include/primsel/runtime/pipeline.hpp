// Pipeline: a network cut into stages that run at once on separate core groups (Pipe-it, Wang et al. 2019), for
// throughput on a stream of inputs. Each stage is a Network of its own, built from a contiguous piece of the graph
// (graph/subgraph.hpp) and bound for its own thread count; its worker thread pins itself to its CPUs before the
// network's thread pool starts, so the pool inherits the affinity. A stage may run as several replicas that take
// inputs round-robin. Inputs are copied into one of `depth` preallocated slots that carry every activation crossing
// a cut; slots move through bounded queues, so after create() nothing allocates and outputs come back in order.
//
//   PipelinePlan plan = plan_pipeline(costs, host_clusters());   // runtime/pipeline_plan.hpp
//   Pipeline p = make_pipeline<Exact<>>(net.graph(), plan).value();
//   std::uint64_t id = p.submit(image).value();                   // blocks while `depth` inputs are in flight
//   std::vector<Tensor> y = p.receive().value();                  // in submission order; an error names its input
//   p.close();                                                    // then receive() until it says drained
//
// submit()/close() are for one producer thread and receive() for one consumer thread (they may differ). Queues are
// std::mutex + std::condition_variable rings: a handoff costs a few microseconds against stages of milliseconds,
// and the locking is simple to check (TSan-clean) where a lock-free ring would not be.
#pragma once

#include "primsel/core/thread_pool.hpp"  // PRIMSEL_HAS_THREADS

#if PRIMSEL_HAS_THREADS  // a pipeline is threads; targets without them (firmware) have none

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#if defined(__linux__)
#include <pthread.h>
#include <sched.h>
#endif

#include "primsel/core/error.hpp"
#include "primsel/core/tensor.hpp"
#include "primsel/graph/subgraph.hpp"
#include "primsel/runtime/network.hpp"
#include "primsel/runtime/pipeline_plan.hpp"

namespace primsel {

/// A bounded FIFO ring (capacity fixed at construction: push and pop never allocate). close() lets the consumer
/// drain what is queued; abort() wakes both sides at once and drops everything.
template <class T>
class BoundedQueue {
 public:
  explicit BoundedQueue(std::size_t capacity) : ring_(std::max<std::size_t>(capacity, 1)) {}

  /// Blocks while full; false (item not taken) once closed or aborted.
  bool push(T item) {
    std::unique_lock lock(mutex_);
    not_full_.wait(lock, [&] { return closed_ || count_ < ring_.size(); });
    if (closed_) return false;
    ring_[(head_ + count_++) % ring_.size()] = std::move(item);
    not_empty_.notify_one();
    return true;
  }
  /// Blocks while empty; nullopt once closed and drained, or aborted.
  std::optional<T> pop() {
    std::unique_lock lock(mutex_);
    not_empty_.wait(lock, [&] { return closed_ || aborted_ || count_ > 0; });
    return take();
  }
  /// nullopt at once if empty.
  std::optional<T> try_pop() {
    std::lock_guard lock(mutex_);
    return take();
  }
  void close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    not_empty_.notify_all();
    not_full_.notify_all();
  }
  void abort() {
    std::lock_guard lock(mutex_);
    closed_ = aborted_ = true;
    not_empty_.notify_all();
    not_full_.notify_all();
  }
  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return count_;
  }
  bool aborted() const {
    std::lock_guard lock(mutex_);
    return aborted_;
  }

 private:
  std::optional<T> take() {  // mutex held
    if (aborted_ || count_ == 0) return std::nullopt;
    std::optional<T> item(std::move(ring_[head_]));
    head_ = (head_ + 1) % ring_.size();
    --count_;
    not_full_.notify_one();
    return item;
  }

  mutable std::mutex mutex_;
  std::condition_variable not_empty_, not_full_;
  std::vector<T> ring_;
  std::size_t head_ = 0, count_ = 0;
  bool closed_ = false, aborted_ = false;
};

/// What a stage replica runs on each input: reads its input views, writes its output views (Network::run's shape).
using StageFn = std::function<Status(std::span<const ConstTensorView> inputs, std::span<const TensorView> outputs)>;

/// One replica of a stage.
struct StageWorker {
  std::vector<int> cpus;  ///< pinned to these CPUs where the OS allows (failure ignored); empty: not pinned
  /// Called once on the worker's own thread after pinning (so thread pools it starts inherit the affinity).
  std::function<Expected<StageFn>()> make;
};

struct PipelineStage {
  std::string name;                ///< for errors: "stage 1 (layer2.0.conv1 .. fc)"
  std::vector<int> reads, writes;  ///< indices into PipelineSpec::values, in the order the StageFn takes them
  std::vector<StageWorker> workers;  ///< replicas: input i goes to worker i % workers.size()
};

/// Every activation that crosses a stage boundary (graph inputs and outputs included), all nchw f32, and the stages
/// in order. A value is written by one stage (or is an input) and read by later stages.
struct PipelineSpec {
  std::vector<std::string> names;
  std::vector<Shape> shapes;
  std::vector<int> inputs, outputs;
  std::vector<PipelineStage> stages;
};

struct PipelineOptions {
  int depth = 0;  ///< inputs in flight at most (submit blocks beyond); 0: two per worker
};

/// One input's result: its id (the submission count, from 0) and whether it ran; outputs are written only if ok.
struct Completion {
  std::uint64_t id = 0;
  Status status;
};

/// Pins the calling thread to `cpus` (Linux: pthread_setaffinity_np). False where unsupported or refused.
inline bool pin_current_thread(std::span<const int> cpus) {
#if defined(__linux__)
  if (cpus.empty()) return false;
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int c : cpus)
    if (c >= 0 && c < CPU_SETSIZE) CPU_SET(c, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
#else
  (void)cpus;
  return false;
#endif
}

class Pipeline {
 public:
  /// Starts every worker, each pinning itself and calling its `make`; the first failure is returned (naming the
  /// stage) after every thread has stopped.
  static Expected<Pipeline> create(PipelineSpec spec, const PipelineOptions& o = {}) {
    PRIMSEL_RETURN_IF_ERROR(validate(spec));
    Pipeline p;
    p.s_ = std::make_unique<State>();
    State& s = *p.s_;
    s.spec = std::move(spec);
    int workers = 0;
    for (const PipelineStage& st : s.spec.stages) workers += static_cast<int>(st.workers.size());
    const std::size_t depth = static_cast<std::size_t>(o.depth > 0 ? o.depth : 2 * workers);
    s.free = std::make_unique<BoundedQueue<Slot*>>(depth);
    s.slots.resize(depth);
    for (Slot& slot : s.slots) {
      for (const Shape& shape : s.spec.shapes) {
        PRIMSEL_ASSIGN_OR_RETURN(Tensor t, Tensor::create(shape));
        slot.values.push_back(std::move(t));
      }
      (void)s.free->push(&slot);
    }
    // Boundary b feeds stage b (b == stages: the receiver); queue [b][consumer * producers + producer].
    const std::size_t S = s.spec.stages.size();
    s.queues.resize(S + 1);
    for (std::size_t b = 0; b <= S; ++b)
      for (std::size_t q = 0; q < s.consumers(b) * s.producers(b); ++q) s.queues[b].push_back(std::make_unique<BoundedQueue<Slot*>>(depth));
    for (std::size_t st = 0; st < S; ++st)
      for (std::size_t w = 0; w < s.spec.stages[st].workers.size(); ++w) s.threads.emplace_back([&s, st, w] { s.work(st, w); });
    std::unique_lock lock(s.init_mutex);
    s.init_done.wait(lock, [&] { return s.started == s.threads.size() || s.init_error.has_value(); });
    if (s.init_error) {
      Error e = *s.init_error;
      lock.unlock();
      p.abort();
      return e;
    }
    return p;
  }

  Pipeline(Pipeline&&) noexcept = default;
  Pipeline& operator=(Pipeline&& o) noexcept {
    abort();
    s_ = std::move(o.s_);
    return *this;
  }
  /// Drops whatever is in flight and joins every thread: never waits for a consumer.
  ~Pipeline() { abort(); }

  /// Copies the inputs (nchw f32, one per spec input) into a free slot and returns the input's id. Blocks while
  /// `depth` inputs are in flight (back-pressure); an error once closed.
  Expected<std::uint64_t> submit(std::span<const ConstTensorView> inputs) {
    PRIMSEL_ASSIGN_OR_RETURN(std::optional<std::uint64_t> id, submit_impl(inputs, true));
    return *id;  // a blocking submit always gets a slot or an error
  }
  Expected<std::uint64_t> submit(const Tensor& input) {
    const ConstTensorView v = input.view();
    return submit(std::span<const ConstTensorView>(&v, 1));
  }
  /// As submit(), but nullopt at once instead of blocking when full.
  Expected<std::optional<std::uint64_t>> try_submit(std::span<const ConstTensorView> inputs) {
    return submit_impl(inputs, false);
  }

  /// The next input's result, in submission order, writing its outputs (nchw f32, one per spec output) if it ran.
  /// Blocks until it is done. An error (nothing taken) if the outputs do not match, or once the pipeline is closed
  /// and every input received.
  Expected<Completion> receive(std::span<const TensorView> outputs) {
    State& s = *s_;
    PRIMSEL_CHECK(outputs.size() == s.spec.outputs.size(), ErrorCode::invalid_argument,
                  "the pipeline has " + std::to_string(s.spec.outputs.size()) + " output(s)");
    for (std::size_t k = 0; k < outputs.size(); ++k) {
      const auto v = static_cast<std::size_t>(s.spec.outputs[k]);
      PRIMSEL_RETURN_IF_ERROR(detail::check_run_view(outputs[k], s.spec.shapes[v], s.spec.names[v], "output"));
    }
    std::lock_guard lock(s.receive_mutex);
    const std::size_t S = s.spec.stages.size();
    std::optional<Slot*> got = s.queue(S, 0, s.received % s.producers(S)).pop();
    PRIMSEL_CHECK(got.has_value(), ErrorCode::invalid_argument, "no more outputs: the pipeline is closed and drained");
    Slot& slot = **got;
    Completion c{slot.id, std::move(slot.status)};
    slot.status = {};
    if (c.status)
      for (std::size_t k = 0; k < outputs.size(); ++k)
        std::memcpy(outputs[k].bytes(), slot.values[static_cast<std::size_t>(s.spec.outputs[k])].bytes(),
                    slot.values[static_cast<std::size_t>(s.spec.outputs[k])].size_bytes());
    ++s.received;
    (void)s.free->push(&slot);  // false only when aborted: the slot stays owned by the state
    return c;
  }
  /// Convenience: freshly allocated outputs, or the input's error (its message names the input and the stage).
  Expected<std::vector<Tensor>> receive() {
    std::vector<Tensor> outs;
    std::vector<TensorView> views;
    for (int v : s_->spec.outputs) {
      PRIMSEL_ASSIGN_OR_RETURN(Tensor t, Tensor::create(s_->spec.shapes[static_cast<std::size_t>(v)]));
      outs.push_back(std::move(t));
    }
    for (Tensor& t : outs) views.push_back(t.view());
    PRIMSEL_ASSIGN_OR_RETURN(Completion c, receive(views));
    if (!c.status) return std::move(c.status).error();
    return outs;
  }

  /// No more inputs: the stages finish what is in flight, and receive() reports drained after the last.
  void close() {
    State& s = *s_;
    std::lock_guard lock(s.submit_mutex);
    s.closed = true;
    for (auto& q : s.queues[0]) q->close();
  }

  /// Inputs submitted and not yet received.
  std::uint64_t in_flight() const {
    const State& s = *s_;
    return s.spec.stages.empty() ? 0 : s.slots.size() - s.free->size();
  }
  std::size_t depth() const noexcept { return s_->slots.size(); }
  const PipelineSpec& spec() const noexcept { return s_->spec; }
  /// Workers whose pinning the OS accepted (0 where unsupported).
  int pinned_workers() const noexcept { return s_->pinned; }

 private:
  struct Slot {
    std::uint64_t id = 0;
    std::vector<Tensor> values;  ///< one per spec value
    Status status;               ///< the first stage error, carried to the receiver with the input's id
  };

  struct State {
    PipelineSpec spec;
    std::vector<Slot> slots;
    std::unique_ptr<BoundedQueue<Slot*>> free;
    std::vector<std::vector<std::unique_ptr<BoundedQueue<Slot*>>>> queues;
    std::vector<std::thread> threads;
    std::mutex submit_mutex, receive_mutex;
    std::uint64_t submitted = 0, received = 0;
    bool closed = false;
    std::mutex init_mutex;
    std::condition_variable init_done;
    std::size_t started = 0;
    int pinned = 0;
    std::optional<Error> init_error;

    std::size_t workers(std::size_t stage) const { return spec.stages[stage].workers.size(); }
    std::size_t producers(std::size_t b) const { return b == 0 ? 1 : workers(b - 1); }
    std::size_t consumers(std::size_t b) const { return b == spec.stages.size() ? 1 : workers(b); }
    BoundedQueue<Slot*>& queue(std::size_t b, std::size_t consumer, std::size_t producer) {
      return *queues[b][consumer * producers(b) + producer];
    }

    void work(std::size_t st, std::size_t w) {
      const PipelineStage& stage = spec.stages[st];
      const bool pinned_ok = pin_current_thread(stage.workers[w].cpus);
      Expected<StageFn> fn = stage.workers[w].make ? stage.workers[w].make()
                                                   : Expected<StageFn>(Error(ErrorCode::invalid_argument, "no make()"));
      {
        std::lock_guard lock(init_mutex);
        pinned += pinned_ok ? 1 : 0;
        if (!fn && !init_error)
          init_error = Error(fn.error().code(), stage.name + " could not start: " + fn.error().message(), fn.error().context());
        ++started;
        init_done.notify_all();
      }
      if (fn) run(st, w, *fn);
      for (std::size_t c = 0; c < consumers(st + 1); ++c) queue(st + 1, c, w).close();  // downstream drains, then stops
    }

    void run(std::size_t st, std::size_t w, StageFn& fn) {
      const PipelineStage& stage = spec.stages[st];
      const std::size_t R = workers(st), P = producers(st), C = consumers(st + 1);
      std::vector<ConstTensorView> in(stage.reads.size());
      std::vector<TensorView> out(stage.writes.size());
      for (std::uint64_t i = w;; i += R) {
        std::optional<Slot*> got = queue(st, w, i % P).pop();
        if (!got) return;
        Slot& slot = **got;
        if (slot.status) {  // an input that failed upstream passes through untouched
          for (std::size_t k = 0; k < in.size(); ++k) in[k] = slot.values[static_cast<std::size_t>(stage.reads[k])].view();
          for (std::size_t k = 0; k < out.size(); ++k) out[k] = slot.values[static_cast<std::size_t>(stage.writes[k])].view();
          Status r = call(fn, in, out);
          if (!r)
            slot.status = Error(r.error().code(), stage.name + " failed on input #" + std::to_string(slot.id) + ": " +
                                                      r.error().message(), r.error().context());
        }
        if (!queue(st + 1, i % C, w).push(&slot)) return;
      }
    }

    static Status call(StageFn& fn, std::span<const ConstTensorView> in, std::span<const TensorView> out) {
#if PRIMSEL_HAS_EXCEPTIONS
      try {
        return fn(in, out);
      } catch (const std::exception& e) {
        return Error(ErrorCode::internal, std::string("threw: ") + e.what());
      } catch (...) {
        return Error(ErrorCode::internal, "threw an exception that is not a std::exception");
      }
#else
      return fn(in, out);
#endif
    }
  };

  Pipeline() = default;

  static Status validate(const PipelineSpec& s) {
    PRIMSEL_CHECK(s.names.size() == s.shapes.size(), ErrorCode::invalid_argument, "a pipeline value needs a name and a shape");
    PRIMSEL_CHECK(!s.stages.empty(), ErrorCode::invalid_argument, "a pipeline needs at least one stage");
    std::vector<char> ready(s.shapes.size(), 0);
    auto in_range = [&](int v) { return v >= 0 && static_cast<std::size_t>(v) < s.shapes.size(); };
    for (int v : s.inputs) {
      PRIMSEL_CHECK(in_range(v), ErrorCode::invalid_argument, "a pipeline input is not one of its values");
      ready[static_cast<std::size_t>(v)] = 1;
    }
    for (const PipelineStage& st : s.stages) {
      PRIMSEL_CHECK(!st.workers.empty(), ErrorCode::invalid_argument, st.name + " has no worker");
      for (int v : st.reads)
        PRIMSEL_CHECK(in_range(v) && ready[static_cast<std::size_t>(v)], ErrorCode::invalid_argument,
                      st.name + " reads a value no earlier stage writes");
      for (int v : st.writes) {
        PRIMSEL_CHECK(in_range(v) && !ready[static_cast<std::size_t>(v)], ErrorCode::invalid_argument,
                      st.name + " writes a value that is an input or written before");
        ready[static_cast<std::size_t>(v)] = 1;
      }
    }
    for (int v : s.outputs)
      PRIMSEL_CHECK(in_range(v) && ready[static_cast<std::size_t>(v)], ErrorCode::invalid_argument,
                    "a pipeline output is never written");
    return {};
  }

  /// The input's id; nullopt when full and not waiting.
  Expected<std::optional<std::uint64_t>> submit_impl(std::span<const ConstTensorView> inputs, bool wait) {
    State& s = *s_;
    PRIMSEL_CHECK(inputs.size() == s.spec.inputs.size(), ErrorCode::invalid_argument,
                  "the pipeline takes " + std::to_string(s.spec.inputs.size()) + " input(s)");
    for (std::size_t k = 0; k < inputs.size(); ++k) {
      const auto v = static_cast<std::size_t>(s.spec.inputs[k]);
      PRIMSEL_RETURN_IF_ERROR(detail::check_run_view(inputs[k], s.spec.shapes[v], s.spec.names[v], "input"));
    }
    std::lock_guard lock(s.submit_mutex);
    PRIMSEL_CHECK(!s.closed, ErrorCode::invalid_argument, "the pipeline is closed: no more inputs");
    std::optional<Slot*> got = wait ? s.free->pop() : s.free->try_pop();
    if (!got && !wait && !s.free->aborted()) return std::optional<std::uint64_t>();
    PRIMSEL_CHECK(got.has_value(), ErrorCode::invalid_argument, "the pipeline was shut down");
    Slot& slot = **got;
    for (std::size_t k = 0; k < inputs.size(); ++k)
      std::memcpy(slot.values[static_cast<std::size_t>(s.spec.inputs[k])].bytes(), inputs[k].bytes(),
                  slot.values[static_cast<std::size_t>(s.spec.inputs[k])].size_bytes());
    slot.id = s.submitted++;
    slot.status = {};
    (void)s.queue(0, slot.id % s.consumers(0), 0).push(&slot);  // never full: a queue holds at most `depth` slots
    return std::optional<std::uint64_t>(slot.id);
  }

  void abort() {
    if (!s_) return;
    s_->free->abort();
    for (auto& boundary : s_->queues)
      for (auto& q : boundary) q->abort();
    for (std::thread& t : s_->threads)
      if (t.joinable()) t.join();
    s_.reset();
  }

  std::unique_ptr<State> s_;
};

/// The pipeline of `plan` over graph `g` (the optimised graph the plan's node indices refer to, e.g.
/// Network::graph()). Each stage replica is a Network<S, P> of its nodes, bound by name to the plan's binding on its
/// own thread count, or measured and searched on its pinned cores when the plan has no binding for it.
template <Searcher S, class P = DefaultConvPrimitives>
Expected<Pipeline> make_pipeline(const Graph& g, const PipelinePlan& plan, const PipelineOptions& o = {},
                                 const BindOptions& bind = {}) {
  PRIMSEL_CHECK(!plan.stages.empty(), ErrorCode::invalid_argument, "the plan has no stages");
  PRIMSEL_CHECK(plan.stages.front().first == 0 && plan.stages.back().last == g.nodes().size(), ErrorCode::invalid_argument,
                "the plan covers nodes [" + std::to_string(plan.stages.front().first) + ", " +
                    std::to_string(plan.stages.back().last) + ") of the " + std::to_string(g.nodes().size()) + " in '" +
                    g.name() + "'");
  PipelineSpec spec;
  std::vector<int> index(g.values().size(), -1);  // graph value -> pipeline value
  auto add = [&](ValueId v) {
    if (index[static_cast<std::size_t>(v)] < 0) {
      index[static_cast<std::size_t>(v)] = static_cast<int>(spec.shapes.size());
      spec.names.push_back(g.value(v).name);
      spec.shapes.push_back(g.value(v).shape);
    }
    return index[static_cast<std::size_t>(v)];
  };
  for (ValueId v : g.inputs()) spec.inputs.push_back(add(v));
  for (std::size_t s = 0; s < plan.stages.size(); ++s) {
    const PlanStage& ps = plan.stages[s];
    PRIMSEL_CHECK(ps.first < ps.last && (s == 0 || ps.first == plan.stages[s - 1].last), ErrorCode::invalid_argument,
                  "plan stage " + std::to_string(s) + " does not start where the previous one ends");
    PRIMSEL_ASSIGN_OR_RETURN(Graph sub, extract_subgraph(g, ps.first, ps.last, g.name() + ".stage" + std::to_string(s)));
    PipelineStage st;
    st.name = "stage " + std::to_string(s) + " (" + g.nodes()[ps.first].name + " .. " + g.nodes()[ps.last - 1].name + ")";
    for (ValueId v : sub.inputs()) st.reads.push_back(index[static_cast<std::size_t>(*g.find_value(sub.value(v).name))]);
    for (ValueId v : sub.outputs()) st.writes.push_back(add(*g.find_value(sub.value(v).name)));
    auto shared = std::make_shared<const Graph>(std::move(sub));
    const int threads = std::max(1, ps.group);
    for (int r = 0; r < std::max(1, ps.replicas); ++r) {
      StageWorker w;
      if (static_cast<std::size_t>(r) < ps.cpus.size()) w.cpus = ps.cpus[static_cast<std::size_t>(r)];
      w.make = [shared, names = ps.binding, threads, bind]() -> Expected<StageFn> {
        using Net = Network<S, P>;  // a comma inside the macro's arguments would split them
        PRIMSEL_ASSIGN_OR_RETURN(Net net, Net::create(Graph(*shared)));
        BindOptions b = bind;
        b.threads = threads;
        if (names.empty()) {
          PRIMSEL_RETURN_IF_ERROR(net.bind(b));
        } else {
          std::vector<std::string_view> views(names.begin(), names.end());
          PRIMSEL_RETURN_IF_ERROR(net.bind_names(views, b));
        }
        auto owned = std::make_shared<Net>(std::move(net));
        return StageFn([owned](std::span<const ConstTensorView> in, std::span<const TensorView> out) { return owned->run(in, out); });
      };
      st.workers.push_back(std::move(w));
    }
    spec.stages.push_back(std::move(st));
  }
  for (ValueId v : g.outputs()) spec.outputs.push_back(add(v));  // an input that is also an output passes through
  return Pipeline::create(std::move(spec), o);
}

/// Time per input of a two-stage pipeline of empty stages on a small tensor in steady state: the handoff cost the
/// planner adds per stage (LayerCostOptions::handoff_ms).
inline double measure_handoff_ms(int inputs = 2000) {
  PipelineSpec spec{{"x", "y", "z"}, {Shape{1, 8, 4, 4}, Shape{1, 8, 4, 4}, Shape{1, 8, 4, 4}}, {0}, {2}, {}};
  auto noop = [] { return Expected<StageFn>(StageFn([](std::span<const ConstTensorView>, std::span<const TensorView>) { return Status{}; })); };
  spec.stages.push_back({"stage 0", {0}, {1}, {{{}, noop}}});
  spec.stages.push_back({"stage 1", {1}, {2}, {{{}, noop}}});
  auto p = Pipeline::create(std::move(spec));
  if (!p) return 0.0;
  const Tensor x(Shape{1, 8, 4, 4});
  Tensor y(Shape{1, 8, 4, 4});
  const TensorView yv = y.view();
  std::thread consumer([&] {
    for (int i = 0; i < inputs; ++i) (void)p->receive(std::span<const TensorView>(&yv, 1));
  });
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < inputs; ++i) (void)p->submit(x);
  consumer.join();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / inputs;
}

}  // namespace primsel

#endif  // PRIMSEL_HAS_THREADS
