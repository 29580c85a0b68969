// Flush denormals to zero while inference runs. Deep nets can drift into denormal range, where x86 and many Arm
// cores slow down by 10-100x and timings stop meaning anything. FTZ/DAZ on x86 (MXCSR), FZ on aarch64 (FPCR);
// a no-op elsewhere. RAII: the previous mode comes back when the guard ends.
#pragma once

#include <cstdint>

#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#define PRIMSEL_DENORMALS_X86 1
#elif defined(__aarch64__)
#define PRIMSEL_DENORMALS_AARCH64 1
#endif

namespace primsel {

class ScopedFlushDenormals {
 public:
  ScopedFlushDenormals() noexcept {
#if defined(PRIMSEL_DENORMALS_X86)
    saved_ = _mm_getcsr();
    _mm_setcsr(saved_ | 0x8040u);  // FTZ (bit 15) | DAZ (bit 6)
#elif defined(PRIMSEL_DENORMALS_AARCH64)
    std::uint64_t fpcr;
    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    saved_ = fpcr;
    __asm__ volatile("msr fpcr, %0" : : "r"(fpcr | (std::uint64_t{1} << 24)));  // FZ
#endif
  }
  ~ScopedFlushDenormals() {
#if defined(PRIMSEL_DENORMALS_X86)
    _mm_setcsr(static_cast<unsigned>(saved_));
#elif defined(PRIMSEL_DENORMALS_AARCH64)
    __asm__ volatile("msr fpcr, %0" : : "r"(saved_));
#endif
  }
  ScopedFlushDenormals(const ScopedFlushDenormals&) = delete;
  ScopedFlushDenormals& operator=(const ScopedFlushDenormals&) = delete;

  /// Whether this build can flush denormals (reports say so).
  static constexpr bool supported() noexcept {
#if defined(PRIMSEL_DENORMALS_X86) || defined(PRIMSEL_DENORMALS_AARCH64)
    return true;
#else
    return false;
#endif
  }

 private:
  [[maybe_unused]] std::uint64_t saved_ = 0;
};

}  // namespace primsel
