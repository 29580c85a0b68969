// Reference element-wise ops over f32: unary (Relu, Clip, Sigmoid), binary with numpy broadcasting (Add, Mul),
// and inference-mode BatchNormalization.
#pragma once

#include <cmath>
#include <cstdint>

#include "primsel/core/tensor.hpp"
#include "primsel/graph/op.hpp"

namespace primsel::reference {

inline void clamp(ConstTensorView x, Activation act, TensorView y) {
  const float* xd = x.data<float>();
  float* yd = y.data<float>();
  const std::int64_t n = x.shape().numel();
  for (std::int64_t i = 0; i < n; ++i) yd[i] = act.apply(xd[i]);  // NaN passes through apply() unchanged
}

inline void sigmoid(ConstTensorView x, TensorView y) {
  const float* xd = x.data<float>();
  float* yd = y.data<float>();
  const std::int64_t n = x.shape().numel();
  for (std::int64_t i = 0; i < n; ++i) yd[i] = 1.0f / (1.0f + std::exp(-xd[i]));
}

enum class BinaryOp { add, mul };

/// y = a (op) b with numpy broadcasting; y has the broadcast shape (shape inference checked it).
inline void binary(ConstTensorView a, ConstTensorView b, BinaryOp op, TensorView y) {
  const Shape& ys = y.shape();
  const int r = ys.rank();
  // Strides of a and b in the output's index space (0 along broadcast dims).
  std::int64_t sa[Shape::max_rank] = {}, sb[Shape::max_rank] = {};
  auto strides = [r](const Shape& s, std::int64_t* out) {
    std::int64_t stride = 1;
    for (int d = r - 1; d >= 0; --d) {
      const int sd = d - (r - s.rank());
      const std::int64_t dim = sd >= 0 ? s[sd] : 1;
      out[d] = dim == 1 ? 0 : stride;
      stride *= dim;
    }
  };
  strides(a.shape(), sa);
  strides(b.shape(), sb);
  const float* ad = a.data<float>();
  const float* bd = b.data<float>();
  float* yd = y.data<float>();
  const std::int64_t inner = r > 0 ? ys[r - 1] : 1;
  const std::int64_t outer = ys.numel() / (inner > 0 ? inner : 1);
  const std::int64_t ia = r > 0 ? sa[r - 1] : 0, ib = r > 0 ? sb[r - 1] : 0;
  std::int64_t idx[Shape::max_rank] = {};
  for (std::int64_t o = 0; o < outer; ++o) {
    std::int64_t oa = 0, ob = 0;
    for (int d = 0; d < r - 1; ++d) oa += idx[d] * sa[d], ob += idx[d] * sb[d];
    float* yrow = yd + o * inner;
    if (op == BinaryOp::add)
      for (std::int64_t j = 0; j < inner; ++j) yrow[j] = ad[oa + j * ia] + bd[ob + j * ib];
    else
      for (std::int64_t j = 0; j < inner; ++j) yrow[j] = ad[oa + j * ia] * bd[ob + j * ib];
    for (int d = r - 2; d >= 0; --d) {  // odometer over the outer dims
      if (++idx[d] < ys[d]) break;
      idx[d] = 0;
    }
  }
}

/// y = scale * (x - mean) / sqrt(var + eps) + bias, per channel (axis 1).
inline void batch_norm(ConstTensorView x, const float* scale, const float* bias, const float* mean,
                       const float* var, float epsilon, TensorView y) {
  const Shape& s = x.shape();
  const std::int64_t c = s[1];
  const std::int64_t inner = s.numel() / (s[0] * c);
  const float* xd = x.data<float>();
  float* yd = y.data<float>();
  for (std::int64_t n = 0; n < s[0]; ++n)
    for (std::int64_t ch = 0; ch < c; ++ch) {
      const float k = scale[ch] / std::sqrt(var[ch] + epsilon);
      const float shift = bias[ch] - k * mean[ch];
      const std::int64_t base = (n * c + ch) * inner;
      for (std::int64_t i = 0; i < inner; ++i) yd[base + i] = k * xd[base + i] + shift;
    }
}

}  // namespace primsel::reference
