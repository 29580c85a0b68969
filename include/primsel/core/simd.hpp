// The SIMD vocabulary of primsel's kernels: `FloatVec` is xsimd's best float batch for the target the code is
// compiled for (AVX-512, AVX2+FMA, NEON, ...) and, where xsimd has no architecture (Cortex-M, or
// PRIMSEL_FORCE_SCALAR), a one-lane scalar type with the same operations — so every kernel has a portable path
// chosen at compile time. The dispatch is compile-time: build for the target you run on (-march=native, -mcpu=...).
#pragma once

#include <algorithm>
#include <cstddef>
#include <string_view>

#if !defined(PRIMSEL_FORCE_SCALAR)
#include <xsimd/xsimd.hpp>
#endif

#if defined(PRIMSEL_FORCE_SCALAR) || defined(XSIMD_NO_SUPPORTED_ARCHITECTURE)
#define PRIMSEL_HAS_SIMD 0
#else
#define PRIMSEL_HAS_SIMD 1
#endif

namespace primsel::simd {

#if PRIMSEL_HAS_SIMD
using Arch = xsimd::default_arch;
using FloatVec = xsimd::batch<float, Arch>;
inline constexpr std::string_view isa = Arch::name();

inline FloatVec load(const float* p) noexcept { return FloatVec::load_unaligned(p); }
inline FloatVec load_aligned(const float* p) noexcept { return FloatVec::load_aligned(p); }
inline FloatVec broadcast(float v) noexcept { return FloatVec::broadcast(v); }
inline void store(float* p, const FloatVec& v) noexcept { v.store_unaligned(p); }
inline FloatVec fma(const FloatVec& a, const FloatVec& b, const FloatVec& c) noexcept { return xsimd::fma(a, b, c); }
#if defined(__AVX512F__)
// GCC 12's _mm512_min_ps/_mm512_max_ps pass an uninitialised pass-through operand, which -Wall reports once
// inlined (GCC PR 105593); the masked form with an all-ones mask is the same instruction without it.
inline FloatVec min(const FloatVec& a, const FloatVec& b) noexcept {
  return FloatVec(_mm512_mask_min_ps(a, __mmask16(0xFFFF), a, b));
}
inline FloatVec max(const FloatVec& a, const FloatVec& b) noexcept {
  return FloatVec(_mm512_mask_max_ps(a, __mmask16(0xFFFF), a, b));
}
#else
inline FloatVec min(const FloatVec& a, const FloatVec& b) noexcept { return xsimd::min(a, b); }
inline FloatVec max(const FloatVec& a, const FloatVec& b) noexcept { return xsimd::max(a, b); }
#endif
/// a / b correctly rounded, as a scalar division is. xsimd 8 divides NEON floats by a reciprocal estimate and two
/// Newton steps (Armv7 has no vector divide) on AArch64 too: an ulp off in some lanes, so averages and softmax would
/// no longer equal the reference. AArch64 has the exact vector divide.
inline FloatVec div(const FloatVec& a, const FloatVec& b) noexcept {
#if defined(__aarch64__)
  return FloatVec(vdivq_f32(a, b));
#else
  return a / b;
#endif
}
#else
/// One float lane with the operations kernels use.
struct FloatVec {
  static constexpr std::size_t size = 1;
  float v = 0;
  FloatVec() = default;
  FloatVec(float x) : v(x) {}
  friend FloatVec operator+(FloatVec a, FloatVec b) noexcept { return a.v + b.v; }
  friend FloatVec operator-(FloatVec a, FloatVec b) noexcept { return a.v - b.v; }
  friend FloatVec operator-(FloatVec a) noexcept { return -a.v; }
  friend FloatVec operator*(FloatVec a, FloatVec b) noexcept { return a.v * b.v; }
  FloatVec& operator+=(FloatVec b) noexcept { return v += b.v, *this; }
};
inline constexpr std::string_view isa = "scalar";

inline FloatVec load(const float* p) noexcept { return *p; }
inline FloatVec load_aligned(const float* p) noexcept { return *p; }
inline FloatVec broadcast(float v) noexcept { return v; }
inline void store(float* p, const FloatVec& v) noexcept { *p = v.v; }
inline FloatVec fma(const FloatVec& a, const FloatVec& b, const FloatVec& c) noexcept { return a.v * b.v + c.v; }
inline FloatVec div(const FloatVec& a, const FloatVec& b) noexcept { return a.v / b.v; }
// x86's min/max semantics: the second operand when unordered.
inline FloatVec min(const FloatVec& a, const FloatVec& b) noexcept { return a.v < b.v ? a.v : b.v; }
inline FloatVec max(const FloatVec& a, const FloatVec& b) noexcept { return a.v > b.v ? a.v : b.v; }
#endif

/// Clamps to [lo, hi] and lets NaN through, as the reference does (x86 min/max return the second operand when
/// unordered; NEON's propagate NaN).
inline FloatVec clamp(const FloatVec& x, const FloatVec& lo, const FloatVec& hi) noexcept {
  return min(hi, max(lo, x));
}

/// Floats per vector register.
inline constexpr std::size_t width = FloatVec::size;

/// Architectural vector registers: how many accumulators a register-tiled kernel can keep live.
#if defined(__AVX512F__) || defined(__aarch64__)
inline constexpr int vector_registers = 32;
#else
inline constexpr int vector_registers = 16;
#endif

}  // namespace primsel::simd
