// ThreadPool: intra-op parallelism for primitives. parallel_for splits a range statically over the pool's
// threads, runs the first chunk on the calling thread and returns when every chunk is done. A worker that finishes
// a job, and a caller waiting for the workers, spin for a short while (spin_time) before sleeping on a condition
// variable: a network calls parallel_for once or more per layer, tens of microseconds apart, and a sleeping thread
// takes ~20 us to wake (measured: 24 us per parallel_for on 2 threads, ~2 ms a network). Idle for longer, they
// sleep (no busy spinning when idle), as OpenMP runtimes do after their block time. A pool of 1 runs inline with
// no synchronisation at all.
// It lives in core/ because primitives' run(ctx) uses it. No allocation per call: jobs are passed by reference.
//
// Targets without threads (bare-metal newlib: no gthreads, so no std::thread or std::mutex) get PRIMSEL_HAS_THREADS
// 0 and a pool that is always one thread, the caller; asking it for more is refused where threads are chosen
// (Network::bind).
#pragma once

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <utility>

#if !defined(PRIMSEL_HAS_THREADS)
#if defined(__GLIBCXX__) && !defined(_GLIBCXX_HAS_GTHREADS)
#define PRIMSEL_HAS_THREADS 0
#else
#define PRIMSEL_HAS_THREADS 1
#endif
#endif

#if !PRIMSEL_HAS_THREADS
namespace primsel {

class ThreadPool {
 public:
  explicit ThreadPool(int = 1) noexcept {}
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;
  int size() const noexcept { return 1; }
  template <class F>
  void parallel_for(std::int64_t n, F&& fn) {
    if (n > 0) fn(std::int64_t{0}, n, 0);
  }
};

}  // namespace primsel
#else

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace primsel {

class ThreadPool {
 public:
  /// A pool of `threads` threads in all, the caller included (so `threads - 1` workers). 0 = hardware concurrency.
  explicit ThreadPool(int threads = 0) {
    if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    size_ = threads;
    workers_.reserve(static_cast<std::size_t>(threads - 1));
    for (int t = 1; t < threads; ++t) workers_.emplace_back([this, t] { work(t); });
  }
  ~ThreadPool() {
    {
      std::lock_guard lock(mutex_);
      stopping_.store(true, std::memory_order_release);
    }
    wake_.notify_all();
    for (std::thread& w : workers_) w.join();
  }
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const noexcept { return size_; }

  /// Calls fn(begin, end, thread_index) on disjoint chunks covering [0, n), one chunk per thread (fewer when n is
  /// small), and returns when all have finished. fn must not throw (primitives' run() is noexcept). Calls from
  /// several threads at once are serialised.
  template <class F>
  void parallel_for(std::int64_t n, F&& fn) {
    if (n <= 0) return;
    const int chunks = static_cast<int>(std::min<std::int64_t>(n, size_));
    if (chunks == 1) {
      fn(std::int64_t{0}, n, 0);
      return;
    }
    std::lock_guard serial(call_mutex_);
    using Fn = std::remove_reference_t<F>;
    Job job{n, chunks, const_cast<void*>(static_cast<const void*>(&fn)),
            [](void* f, std::int64_t b, std::int64_t e, int t) { (*static_cast<Fn*>(f))(b, e, t); }};
    {
      std::lock_guard lock(mutex_);
      job_ = job;
      pending_.store(chunks - 1, std::memory_order_relaxed);
      generation_.fetch_add(1, std::memory_order_release);  // publishes job_ to spinning workers
    }
    if (sleepers_.load(std::memory_order_acquire) > 0) wake_.notify_all();
    run_chunk(job, 0);
    if (spin_until([this] { return pending_.load(std::memory_order_acquire) == 0; })) return;
    std::unique_lock lock(mutex_);
    done_.wait(lock, [this] { return pending_.load(std::memory_order_acquire) == 0; });
  }

  /// How long a thread spins for the next job (a worker) or for the workers (the caller) before sleeping.
  static constexpr std::chrono::microseconds spin_time{100};

 private:
  struct Job {
    std::int64_t n = 0;
    int chunks = 0;
    void* fn = nullptr;
    void (*call)(void*, std::int64_t, std::int64_t, int) = nullptr;
  };

  static void run_chunk(const Job& job, int chunk) {
    const std::int64_t begin = job.n * chunk / job.chunks, end = job.n * (chunk + 1) / job.chunks;
    job.call(job.fn, begin, end, chunk);
  }

  /// Spins until ready() holds or spin_time has passed; whether it holds.
  template <class Ready>
  static bool spin_until(Ready&& ready) noexcept {
    const auto deadline = std::chrono::steady_clock::now() + spin_time;
    for (int i = 1;; ++i) {
      if (ready()) return true;
      if (i % 64 == 0 && std::chrono::steady_clock::now() >= deadline) return false;
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();  // yields the core's pipeline to its hyper-thread sibling while spinning
#elif defined(__aarch64__)
      asm volatile("yield");
#endif
    }
  }

  void work(int index) {
    std::uint64_t seen = 0;
    for (;;) {
      auto news = [&] { return stopping_.load(std::memory_order_acquire) || generation_.load(std::memory_order_acquire) != seen; };
      if (!spin_until(news)) {
        std::unique_lock lock(mutex_);
        sleepers_.fetch_add(1, std::memory_order_seq_cst);
        wake_.wait(lock, news);
        sleepers_.fetch_sub(1, std::memory_order_relaxed);
      }
      if (stopping_.load(std::memory_order_acquire)) return;
      Job job;
      {
        std::lock_guard lock(mutex_);  // job_ is written under it; generation_'s release also published it
        seen = generation_.load(std::memory_order_relaxed);
        job = job_;
      }
      if (index >= job.chunks) continue;  // fewer chunks than threads: this one sits out
      run_chunk(job, index);
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        // The last one: a caller that stopped spinning waits on done_ (under mutex_, so it cannot miss this).
        std::lock_guard lock(mutex_);
        done_.notify_one();
      }
    }
  }

  int size_ = 1;
  std::vector<std::thread> workers_;
  std::mutex call_mutex_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  Job job_;
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<int> sleepers_{0};  ///< workers waiting on wake_ (a caller skips notify_all when none are)
  std::atomic<bool> stopping_{false};
};

}  // namespace primsel
#endif  // PRIMSEL_HAS_THREADS
