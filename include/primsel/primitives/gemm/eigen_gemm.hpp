// SGEMM through Eigen: the simpler variant and the baseline the packed sgemm must beat. Same operands and
// epilogue as gemm::sgemm; single-threaded (Eigen parallelises only with OpenMP, which primsel does not use).
#pragma once

#include <Eigen/Core>
#include <cstdint>

#include "primsel/primitives/gemm/sgemm.hpp"

namespace primsel::gemm {

inline void eigen_sgemm(std::int64_t m, std::int64_t n, std::int64_t k, MatrixRef a, MatrixRef b, float* c,
                        std::int64_t ldc, const GemmEpilogue& e) noexcept {
  using Stride = Eigen::OuterStride<>;
  using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using ColMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;
  // A transposed row-major matrix is the same memory read column-major.
  auto mat = [](MatrixRef x, std::int64_t rows, std::int64_t cols, auto&& use) {
    if (x.trans)
      use(Eigen::Map<const ColMajor, 0, Stride>(x.data, rows, cols, Stride(x.ld)));
    else
      use(Eigen::Map<const RowMajor, 0, Stride>(x.data, rows, cols, Stride(x.ld)));
  };
  Eigen::Map<RowMajor, 0, Stride> cm(c, m, n, Stride(ldc));
  mat(a, m, k, [&](const auto& am) {
    mat(b, k, n, [&](const auto& bm) {
      if (e.beta == 0.0f)
        cm.noalias() = am * bm;
      else
        cm = e.beta * cm + am * bm;
    });
  });
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j) {
      float& v = c[i * ldc + j];
      if (e.axis == BiasAxis::rows) v += e.bias[i];
      if (e.axis == BiasAxis::columns) v += e.bias[j];
      v = e.activation.apply(v);
    }
}

}  // namespace primsel::gemm
