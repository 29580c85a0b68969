// The plan shared by the GEMM-based convolutions: each group's weights [OC/g] x [IC/g * KH * KW] packed once for
// the GEMM, the bias, and the epilogue that fuses bias and activation.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "primsel/primitives/concept.hpp"
#include "primsel/primitives/gemm/sgemm.hpp"

namespace primsel::detail {

/// The packed weights of each group, the bias, and the layer.
struct GemmConvPlan {
  ConvDesc desc;
  std::vector<gemm::PackedA> weights;  // one per group
  Tensor bias;                         // [OC], or empty

  static Expected<GemmConvPlan> make(const ConvDesc& d, const ConvWeights& w) {
    GemmConvPlan p;
    p.desc = d;
    const std::int64_t ocg = d.oc_per_group(), k = d.ic_per_group() * d.kh * d.kw;
    PRIMSEL_CHECK(w.weight.shape() == Shape({d.oc, d.ic_per_group(), d.kh, d.kw}) && w.weight.format() == Format{},
                  ErrorCode::shape_mismatch,
                  "weight is " + to_string(w.weight.shape()) + " " + to_string(w.weight.format()) + " for layer " +
                      to_string(d));
    for (std::int64_t g = 0; g < d.groups; ++g) {
      PRIMSEL_ASSIGN_OR_RETURN(gemm::PackedA a,
                               gemm::PackedA::pack({w.weight.data<float>() + g * ocg * k, k}, ocg, k));
      p.weights.push_back(std::move(a));
    }
    if (d.has_bias) {
      PRIMSEL_ASSIGN_OR_RETURN(p.bias, plan_bias(d, w, d.oc));
    }
    return p;
  }

  gemm::GemmEpilogue epilogue(std::int64_t group) const noexcept {
    gemm::GemmEpilogue e;
    e.activation = desc.activation;
    if (desc.has_bias) {
      e.bias = bias.data<float>() + group * desc.oc_per_group();
      e.axis = gemm::BiasAxis::rows;
    }
    return e;
  }
};

}  // namespace primsel::detail
