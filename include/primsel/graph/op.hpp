// The ops a primsel Graph can hold and their attributes — the CNN subset of ONNX, with ONNX's semantics.
// An op is an enum value plus one parameter struct (or none); docs/ops.md lists them with their inputs.
#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>
#include <variant>

#include "primsel/core/shape.hpp"

namespace primsel {

enum class OpKind : std::uint8_t {
  Conv,                // X, W[OC, IC/groups, KH, KW], B[OC]? -> Y        (ConvParams)
  MaxPool,             // X -> Y                                          (PoolParams)
  AveragePool,         // X -> Y                                          (PoolParams)
  GlobalAveragePool,   // X[N,C,H,W] -> Y[N,C,1,1]
  Gemm,                // A[M,K], B[K,N] (or [N,K] with trans_b), C? -> Y   (GemmParams); the FC layer
  MatMul,              // A[M,K], B[K,N] -> Y (2-D only: a FC without bias)
  Relu,                // X -> Y
  Clip,                // X -> Y, clamp to [min, max]                     (ClipParams); Relu6 is Clip(0, 6)
  Sigmoid,             // X -> Y
  Add,                 // A, B -> Y, numpy broadcasting (residual connections)
  Mul,                 // A, B -> Y, numpy broadcasting (squeeze-excite channel scaling)
  Concat,              // X0, X1, ... -> Y along axis                     (AxisParams)
  BatchNormalization,  // X, scale, bias, mean, var -> Y                  (BatchNormParams)
  Flatten,             // X -> Y[prod(dims[:axis]), prod(dims[axis:])]    (AxisParams)
  Reshape,             // X -> Y                                          (ReshapeParams)
  Softmax,             // X -> Y along axis                               (AxisParams)
  Dropout,             // X -> Y, identity at inference
  Pad,                 // X -> Y                                          (PadParams)
  Identity,            // X -> Y
};

inline constexpr OpKind all_op_kinds[] = {
    OpKind::Conv,    OpKind::MaxPool, OpKind::AveragePool, OpKind::GlobalAveragePool, OpKind::Gemm,
    OpKind::MatMul,  OpKind::Relu,    OpKind::Clip,        OpKind::Sigmoid,           OpKind::Add,
    OpKind::Mul,     OpKind::Concat,  OpKind::BatchNormalization, OpKind::Flatten,    OpKind::Reshape,
    OpKind::Softmax, OpKind::Dropout, OpKind::Pad,         OpKind::Identity};

constexpr std::string_view to_string(OpKind k) noexcept {
  switch (k) {
    case OpKind::Conv: return "Conv";
    case OpKind::MaxPool: return "MaxPool";
    case OpKind::AveragePool: return "AveragePool";
    case OpKind::GlobalAveragePool: return "GlobalAveragePool";
    case OpKind::Gemm: return "Gemm";
    case OpKind::MatMul: return "MatMul";
    case OpKind::Relu: return "Relu";
    case OpKind::Clip: return "Clip";
    case OpKind::Sigmoid: return "Sigmoid";
    case OpKind::Add: return "Add";
    case OpKind::Mul: return "Mul";
    case OpKind::Concat: return "Concat";
    case OpKind::BatchNormalization: return "BatchNormalization";
    case OpKind::Flatten: return "Flatten";
    case OpKind::Reshape: return "Reshape";
    case OpKind::Softmax: return "Softmax";
    case OpKind::Dropout: return "Dropout";
    case OpKind::Pad: return "Pad";
    case OpKind::Identity: return "Identity";
  }
  return "?";
}

constexpr std::optional<OpKind> op_kind_from_string(std::string_view s) noexcept {
  for (OpKind k : all_op_kinds)
    if (to_string(k) == s) return k;
  return std::nullopt;
}

/// A fused activation is a clamp: none = [-inf, inf], Relu = [0, inf], Relu6 = [0, 6], Clip(a, b) = [a, b].
struct Activation {
  float lo = -std::numeric_limits<float>::infinity();
  float hi = std::numeric_limits<float>::infinity();

  static constexpr Activation none() { return {}; }
  static constexpr Activation relu() { return {0.0f, std::numeric_limits<float>::infinity()}; }
  static constexpr Activation relu6() { return {0.0f, 6.0f}; }
  constexpr bool is_none() const noexcept {
    return lo == -std::numeric_limits<float>::infinity() && hi == std::numeric_limits<float>::infinity();
  }
  constexpr float apply(float x) const noexcept { return x < lo ? lo : (x > hi ? hi : x); }
  friend constexpr bool operator==(const Activation&, const Activation&) = default;
};

/// Spatial padding of a 2-D window op: top, left, bottom, right (ONNX's pads order is [top, left, bottom, right]).
struct Pads2d {
  std::int64_t top = 0, left = 0, bottom = 0, right = 0;
  friend constexpr bool operator==(const Pads2d&, const Pads2d&) = default;
};

struct ConvParams {
  std::array<std::int64_t, 2> kernel{1, 1};  ///< kh, kw (also implied by the weight's shape; must agree)
  std::array<std::int64_t, 2> stride{1, 1};
  std::array<std::int64_t, 2> dilation{1, 1};
  Pads2d pads;
  std::int64_t groups = 1;
  Activation activation;  ///< fused by the fuse pass; none when loaded
  friend constexpr bool operator==(const ConvParams&, const ConvParams&) = default;
};

struct PoolParams {
  std::array<std::int64_t, 2> kernel{1, 1};
  std::array<std::int64_t, 2> stride{1, 1};
  Pads2d pads;
  bool ceil_mode = false;
  bool count_include_pad = false;  ///< AveragePool only: divide by the full window, padding included
  friend constexpr bool operator==(const PoolParams&, const PoolParams&) = default;
};

struct GemmParams {
  float alpha = 1.0f;
  float beta = 1.0f;
  bool trans_a = false;
  bool trans_b = false;
  Activation activation;
  friend constexpr bool operator==(const GemmParams&, const GemmParams&) = default;
};

struct ClipParams {
  float min = -std::numeric_limits<float>::infinity();
  float max = std::numeric_limits<float>::infinity();
  friend constexpr bool operator==(const ClipParams&, const ClipParams&) = default;
};

/// Concat, Flatten, Softmax: one axis (negative counts from the end, as in ONNX).
struct AxisParams {
  std::int64_t axis = 1;
  friend constexpr bool operator==(const AxisParams&, const AxisParams&) = default;
};

/// ONNX Reshape: 0 copies the input dim (allowzero = 0 semantics), one -1 is inferred.
struct ReshapeParams {
  Shape shape;
  friend constexpr bool operator==(const ReshapeParams&, const ReshapeParams&) = default;
};

struct BatchNormParams {
  float epsilon = 1e-5f;
  friend constexpr bool operator==(const BatchNormParams&, const BatchNormParams&) = default;
};

enum class PadMode : std::uint8_t { constant, reflect, edge };

/// ONNX Pad on a 4-D tensor: begin and end pads per axis (N, C, H, W), as in ONNX's [x1_begin, x2_begin, ...,
/// x1_end, ...] order split in two.
struct PadParams {
  std::array<std::int64_t, 4> begin{};
  std::array<std::int64_t, 4> end{};
  PadMode mode = PadMode::constant;
  float value = 0.0f;
  friend constexpr bool operator==(const PadParams&, const PadParams&) = default;
};

using OpParams = std::variant<std::monostate, ConvParams, PoolParams, GemmParams, ClipParams, AxisParams,
                              ReshapeParams, BatchNormParams, PadParams>;

}  // namespace primsel
