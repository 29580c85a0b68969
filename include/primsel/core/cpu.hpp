// What the machine is: CPU model name (from /proc/cpuinfo where there is one), the SIMD ISA the kernels were
// compiled for, and the measured peak f32 FMA throughput of one core — the yardstick benchmarks quote
// "fraction of peak" against. Peak is measured, not looked up: clock and FMA units vary by SKU and by VM.
#pragma once

#include <chrono>
#include <cstdint>
#include <fstream>
#include <istream>
#include <string>
#include <thread>

#include "primsel/core/simd.hpp"
#include "primsel/core/thread_pool.hpp"  // PRIMSEL_HAS_THREADS

namespace primsel {

/// The CPU's name from /proc/cpuinfo's text: its model name, e.g. "AMD EPYC 7551 32-Core Processor". arm64 Linux
/// gives no name (a Raspberry Pi's "Model" line aside), only the core's codes: "CPU implementer 0x41 part 0xd0c" (a
/// Neoverse N1), so that tuning caches and reports still tell Arm cores apart. "unknown" when there is neither.
inline std::string cpu_name_from(std::istream& cpuinfo) {
  std::string line, implementer, part;
  auto value = [&line] {
    const auto colon = line.find(':');
    return colon != std::string::npos && colon + 2 <= line.size() ? line.substr(colon + 2) : std::string();
  };
  while (std::getline(cpuinfo, line)) {
    for (const char* key : {"model name", "Model", "Hardware"})
      if (line.rfind(key, 0) == 0 && !value().empty()) return value();
    if (line.rfind("CPU implementer", 0) == 0 && implementer.empty()) implementer = value();
    if (line.rfind("CPU part", 0) == 0 && part.empty()) part = value();
  }
  if (!implementer.empty() && !part.empty()) return "CPU implementer " + implementer + " part " + part;
  return "unknown";
}

/// The CPU's name (cpu_name_from on /proc/cpuinfo), or "unknown".
inline std::string cpu_name() {
  std::ifstream info("/proc/cpuinfo");
  return cpu_name_from(info);
}

inline int hardware_threads() {
#if PRIMSEL_HAS_THREADS
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
#else
  return 1;
#endif
}

namespace detail {
/// Hides a value from the optimiser at no cost (it stays in its register): without it GCC -O3 collapses the
/// timed loop below and "measures" tens of TFLOP/s.
inline void opaque(simd::FloatVec& v) noexcept {
#if PRIMSEL_HAS_SIMD && (defined(__x86_64__) || defined(__i386__))
  auto reg = static_cast<typename simd::FloatVec::register_type>(v);
  asm volatile("" : "+v"(reg));
  v = simd::FloatVec(reg);
#elif PRIMSEL_HAS_SIMD && defined(__aarch64__)
  auto reg = static_cast<typename simd::FloatVec::register_type>(v);
  asm volatile("" : "+w"(reg));
  v = simd::FloatVec(reg);
#else
  asm volatile("" : : "g"(&v) : "memory");
#endif
}
}  // namespace detail

/// Measured single-core peak f32 GFLOP/s of fused multiply-adds at the compiled ISA: independent accumulator
/// chains (enough to cover FMA latency x throughput on current cores), timed for about `seconds`.
inline double measure_peak_gflops(double seconds = 0.2) {
  using simd::FloatVec;
  constexpr int chains = 12;
  FloatVec acc[chains];
  for (int i = 0; i < chains; ++i) acc[i] = simd::broadcast(1.0f + 1e-7f * static_cast<float>(i));
  const FloatVec mul = simd::broadcast(0.9999999f), add = simd::broadcast(1e-7f);
  std::int64_t iterations = 0;
  const auto start = std::chrono::steady_clock::now();
  double elapsed = 0;
  constexpr int inner = 4096;
  do {
    for (int r = 0; r < inner; ++r) {
#pragma GCC unroll 12
      for (int i = 0; i < chains; ++i) {
        acc[i] = simd::fma(acc[i], mul, add);
        detail::opaque(acc[i]);
      }
    }
    iterations += inner;
    elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  } while (elapsed < seconds);
  FloatVec sum = acc[0];
  for (int i = 1; i < chains; ++i) sum = sum + acc[i];
  alignas(64) float out[simd::width];
  simd::store(out, sum);
  volatile float sink = out[0];  // keep the chains alive
  (void)sink;
  return static_cast<double>(iterations) * chains * static_cast<double>(simd::width) * 2.0 / elapsed / 1e9;
}

}  // namespace primsel
