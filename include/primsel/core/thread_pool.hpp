// ThreadPool: intra-op parallelism for primitives. parallel_for splits a range statically over the pool's
// threads, runs the first chunk on the calling thread and returns when every chunk is done. Idle workers sleep on
// a condition variable (no busy spinning when idle); a pool of 1 runs inline with no synchronisation at all.
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
      stopping_ = true;
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
      pending_ = chunks - 1;
      ++generation_;
    }
    wake_.notify_all();
    run_chunk(job, 0);
    std::unique_lock lock(mutex_);
    done_.wait(lock, [this] { return pending_ == 0; });
  }

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

  void work(int index) {
    std::uint64_t seen = 0;
    for (;;) {
      Job job;
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
        if (stopping_) return;
        seen = generation_;
        job = job_;
      }
      if (index >= job.chunks) continue;  // fewer chunks than threads: this one sits out
      run_chunk(job, index);
      bool last;
      {
        std::lock_guard lock(mutex_);
        last = --pending_ == 0;
      }
      if (last) done_.notify_one();
    }
  }

  int size_ = 1;
  std::vector<std::thread> workers_;
  std::mutex call_mutex_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  Job job_;
  std::uint64_t generation_ = 0;
  int pending_ = 0;
  bool stopping_ = false;
};

}  // namespace primsel
#endif  // PRIMSEL_HAS_THREADS
