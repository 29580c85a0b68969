// Reference Gemm (ONNX: Y = alpha * A' * B' + beta * C, A' = A or A^T, B' = B or B^T, C broadcast) with a fused
// clamp, and 2-D MatMul. Plain row-major loops; the inner loop runs over contiguous columns of B when it can.
#pragma once

#include <cstdint>
#include <vector>

#include "primsel/core/tensor.hpp"
#include "primsel/graph/op.hpp"

namespace primsel::reference {

inline void gemm(ConstTensorView a, ConstTensorView b, ConstTensorView c, const GemmParams& p, TensorView y) {
  const std::int64_t m = y.shape()[0], n = y.shape()[1];
  const std::int64_t k = p.trans_a ? a.shape()[0] : a.shape()[1];
  const std::int64_t lda = a.shape()[1], ldb = b.shape()[1];
  const float* ad = a.data<float>();
  const float* bd = b.data<float>();
  float* yd = y.data<float>();
  for (std::int64_t i = 0; i < m; ++i) {
    float* yrow = yd + i * n;
    for (std::int64_t j = 0; j < n; ++j) yrow[j] = 0.0f;
    for (std::int64_t kk = 0; kk < k; ++kk) {
      const float av = p.trans_a ? ad[kk * lda + i] : ad[i * lda + kk];
      if (p.trans_b) {
        for (std::int64_t j = 0; j < n; ++j) yrow[j] += av * bd[j * ldb + kk];
      } else {
        const float* brow = bd + kk * ldb;
        for (std::int64_t j = 0; j < n; ++j) yrow[j] += av * brow[j];
      }
    }
    for (std::int64_t j = 0; j < n; ++j) yrow[j] *= p.alpha;
  }
  if (c.bytes() != nullptr && p.beta != 0.0f) {
    // C broadcasts to [m, n] by numpy rules: rank <= 2, each dim 1 or full.
    const Shape& cs = c.shape();
    const std::int64_t cm = cs.rank() == 2 ? cs[0] : 1;
    const std::int64_t cn = cs.rank() >= 1 ? cs[cs.rank() - 1] : 1;
    const float* cd = c.data<float>();
    for (std::int64_t i = 0; i < m; ++i)
      for (std::int64_t j = 0; j < n; ++j)
        yd[i * n + j] += p.beta * cd[(cm == 1 ? 0 : i) * cn + (cn == 1 ? 0 : j)];
  }
  if (!p.activation.is_none())
    for (std::int64_t i = 0; i < m * n; ++i) yd[i] = p.activation.apply(yd[i]);
}

inline void matmul(ConstTensorView a, ConstTensorView b, TensorView y) {
  gemm(a, b, ConstTensorView{}, GemmParams{.beta = 0.0f}, y);
}

}  // namespace primsel::reference
