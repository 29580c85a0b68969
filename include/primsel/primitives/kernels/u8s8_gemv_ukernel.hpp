// u8 x s8 -> s32 matrix-vector products, c[j][n] = sum over k of a[j][k] * B[k][n] for J <= 4 rows of A, over a B
// packed for the u8s8 GEMM (gemm::PackedU8S8B: NR-column panels, K in groups of 4, group g of panel p the NR * 4
// bytes at (p * k4 + g) * NR * 4). The GEMM's MR x NR tile spends MR - J of every MR dot products on zero rows when
// J is 1 (a classifier at inference); here every vpdpbusd multiplies 64 weights by a row that exists, so the
// product streams B as fast as the cache gives it. AVX-512 VNNI only (u8s8_gemv_available); other targets use the
// GEMM, whose kernels cover every ISA.
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__) && !defined(PRIMSEL_FORCE_SCALAR)
#include <immintrin.h>
#define PRIMSEL_U8S8_GEMV_AVX512VNNI 1
#endif

namespace primsel::kernels {

/// Whether u8s8_gemv runs on this target for a B packed with panels of `nr` columns (whole zmm vectors, at most 4).
constexpr bool u8s8_gemv_available(int nr) noexcept {
#if defined(PRIMSEL_U8S8_GEMV_AVX512VNNI)
  return nr % 16 == 0 && nr / 16 >= 1 && nr / 16 <= 4;
#else
  (void)nr;
  return false;
#endif
}

#if defined(PRIMSEL_U8S8_GEMV_AVX512VNNI)
namespace detail {

/// One panel: rows [0, J) of A (row j's group g: 4 bytes at a + j * lda + g * 4) times the panel's NV * 16 columns,
/// `cols` of them stored to c (row stride ldc). With few rows the NV * J accumulators are too few chains to hide
/// vpdpbusd's latency, so even and odd groups sum into separate sets (U = 2) that are added at the end.
template <int J, int NV>
inline void u8s8_gemv_panel(std::int64_t k4, const std::uint8_t* a, std::int64_t lda, const std::int8_t* bp,
                            std::int32_t* c, std::int64_t ldc, std::int64_t cols) noexcept {
  constexpr int U = J <= 2 ? 2 : 1;
  __m512i acc[U][J][NV];
  for (int u = 0; u < U; ++u)
    for (int j = 0; j < J; ++j)
      for (int v = 0; v < NV; ++v) acc[u][j][v] = _mm512_setzero_si512();
  auto step = [&](int u, std::int64_t g) {
    __m512i w[NV];
    for (int v = 0; v < NV; ++v) w[v] = _mm512_loadu_si512(bp + (g * NV + v) * 64);
    for (int j = 0; j < J; ++j) {
      std::int32_t group;
      std::memcpy(&group, a + j * lda + g * 4, 4);
      const __m512i x = _mm512_set1_epi32(group);
      for (int v = 0; v < NV; ++v) acc[u][j][v] = _mm512_dpbusd_epi32(acc[u][j][v], x, w[v]);
    }
  };
  std::int64_t g = 0;
  for (; g + U <= k4; g += U)
    for (int u = 0; u < U; ++u) step(u, g + u);
  for (; g < k4; ++g) step(0, g);
  for (int j = 0; j < J; ++j)
    for (int v = 0; v < NV; ++v) {
      __m512i sum = acc[0][j][v];
      if constexpr (U == 2) sum = _mm512_add_epi32(sum, acc[1][j][v]);
      const std::int64_t left = cols - v * 16;
      if (left <= 0) break;
      const auto mask = static_cast<__mmask16>(left >= 16 ? 0xFFFF : (1u << left) - 1);
      _mm512_mask_storeu_epi32(c + j * ldc + v * 16, mask, sum);
    }
}

template <int J>
inline void u8s8_gemv_rows(int nr, std::int64_t k4, const std::uint8_t* a, std::int64_t lda, const std::int8_t* b,
                           std::int64_t n, std::int64_t panel0, std::int64_t panel1, std::int32_t* c,
                           std::int64_t ldc) noexcept {
  for (std::int64_t p = panel0; p < panel1; ++p) {
    const std::int8_t* bp = b + p * k4 * nr * 4;
    const std::int64_t col0 = p * nr, cols = n - col0 < nr ? n - col0 : nr;
    switch (nr / 16) {
      case 1:
        u8s8_gemv_panel<J, 1>(k4, a, lda, bp, c + col0, ldc, cols);
        break;
      case 2:
        u8s8_gemv_panel<J, 2>(k4, a, lda, bp, c + col0, ldc, cols);
        break;
      case 3:
        u8s8_gemv_panel<J, 3>(k4, a, lda, bp, c + col0, ldc, cols);
        break;
      default:
        u8s8_gemv_panel<J, 4>(k4, a, lda, bp, c + col0, ldc, cols);
        break;
    }
  }
}

}  // namespace detail
#endif

/// c[j * ldc + col] = sum over k of a[j * lda + k] * B[k][col] for rows j < m (1 to 4) and the columns of panels
/// [panel0, panel1) below n. B: `b` packed in panels of `nr` columns over k4 groups of 4 (gemm::PackedU8S8B's
/// data(), k4(), kernel().nr). Each row of a must hold k4 * 4 readable bytes; bytes past K meet B's zero padding.
/// Needs u8s8_gemv_available(nr).
inline void u8s8_gemv(std::int64_t m, int nr, std::int64_t k4, const std::uint8_t* a, std::int64_t lda,
                      const std::int8_t* b, std::int64_t n, std::int64_t panel0, std::int64_t panel1, std::int32_t* c,
                      std::int64_t ldc) noexcept {
#if defined(PRIMSEL_U8S8_GEMV_AVX512VNNI)
  switch (m) {
    case 1:
      return detail::u8s8_gemv_rows<1>(nr, k4, a, lda, b, n, panel0, panel1, c, ldc);
    case 2:
      return detail::u8s8_gemv_rows<2>(nr, k4, a, lda, b, n, panel0, panel1, c, ldc);
    case 3:
      return detail::u8s8_gemv_rows<3>(nr, k4, a, lda, b, n, panel0, panel1, c, ldc);
    default:
      return detail::u8s8_gemv_rows<4>(nr, k4, a, lda, b, n, panel0, panel1, c, ldc);
  }
#else
  (void)m, (void)nr, (void)k4, (void)a, (void)lda, (void)b, (void)n, (void)panel0, (void)panel1, (void)c, (void)ldc;
#endif
}

}  // namespace primsel::kernels
