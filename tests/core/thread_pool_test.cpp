#include <catch2/catch.hpp>

#include <atomic>
#include <thread>
#include <vector>

#include "primsel/core/thread_pool.hpp"

using namespace primsel;

TEST_CASE("parallel_for visits every index exactly once") {
  for (int threads : {1, 2, 3, 8}) {
    ThreadPool pool(threads);
    CHECK(pool.size() == threads);
    for (std::int64_t n : {1, 2, 3, 7, 100, 1001}) {
      INFO(threads << " threads, n = " << n);
      std::vector<std::atomic<int>> hits(static_cast<std::size_t>(n));
      std::atomic<int> max_thread{0};
      pool.parallel_for(n, [&](std::int64_t b, std::int64_t e, int t) {
        for (std::int64_t i = b; i < e; ++i) hits[static_cast<std::size_t>(i)]++;
        int seen = max_thread.load();
        while (t > seen && !max_thread.compare_exchange_weak(seen, t)) {
        }
      });
      bool once = true;
      for (auto& h : hits) once = once && h.load() == 1;
      CHECK(once);
      CHECK(max_thread.load() < std::min<std::int64_t>(n, threads));
    }
  }
}

TEST_CASE("named (lvalue) and const callables work too") {
  ThreadPool pool(2);
  std::atomic<std::int64_t> sum{0};
  auto add = [&](std::int64_t b, std::int64_t e, int) { sum += e - b; };
  pool.parallel_for(10, add);
  const auto& const_add = add;
  pool.parallel_for(10, const_add);
  CHECK(sum.load() == 20);
}

TEST_CASE("a pool of one runs inline on the caller") {
  ThreadPool pool(1);
  const auto caller = std::this_thread::get_id();
  bool inline_call = false;
  pool.parallel_for(10, [&](std::int64_t b, std::int64_t e, int t) {
    inline_call = std::this_thread::get_id() == caller && b == 0 && e == 10 && t == 0;
  });
  CHECK(inline_call);
}

TEST_CASE("many small calls back to back, and calls from several threads") {
  ThreadPool pool(2);
  std::atomic<std::int64_t> sum{0};
  for (int i = 0; i < 2000; ++i)
    pool.parallel_for(4, [&](std::int64_t b, std::int64_t e, int) { sum += e - b; });
  CHECK(sum.load() == 8000);
  std::atomic<std::int64_t> total{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 3; ++c)
    callers.emplace_back([&] {
      for (int i = 0; i < 200; ++i) pool.parallel_for(5, [&](std::int64_t b, std::int64_t e, int) { total += e - b; });
    });
  for (auto& t : callers) t.join();
  CHECK(total.load() == 3 * 200 * 5);
}

TEST_CASE("empty ranges do nothing and idle pools shut down") {
  ThreadPool pool(4);
  bool called = false;
  pool.parallel_for(0, [&](std::int64_t, std::int64_t, int) { called = true; });
  CHECK_FALSE(called);
  { ThreadPool idle(3); }  // destroyed with sleeping workers
  CHECK(ThreadPool(0).size() >= 1);
}

TEST_CASE("workers and callers that wait past the spin time sleep and are woken") {
  // Each wait below outlasts ThreadPool::spin_time, so both sleeping paths run: the worker's between calls (the
  // caller pauses), the caller's while a worker's chunk is still running.
  const auto past_spin = ThreadPool::spin_time * 20;
  for (int threads : {2, 3}) {
    ThreadPool pool(threads);
    std::atomic<std::int64_t> sum{0};
    for (int round = 0; round < 5; ++round) {
      std::this_thread::sleep_for(past_spin);  // the workers fall asleep
      pool.parallel_for(threads, [&](std::int64_t b, std::int64_t e, int t) {
        if (t == threads - 1) std::this_thread::sleep_for(past_spin);  // the caller falls asleep waiting
        sum += e - b;
      });
    }
    CHECK(sum.load() == 5 * threads);
  }
  { ThreadPool spinning(2); }  // destroyed while its worker still spins
}
