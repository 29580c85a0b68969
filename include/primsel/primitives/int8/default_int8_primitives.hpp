// The one registration list of quantised (u8 NHWC) convolution primitives, the int8 counterpart of
// DefaultConvPrimitives: tests, benchmarks and (once the search prices dtypes on its edges) Network read it.
#pragma once

#include "primsel/primitives/default_primitives.hpp"
#include "primsel/primitives/int8/conv1x1_u8s8.hpp"
#include "primsel/primitives/int8/depthwise_u8s8.hpp"
#include "primsel/primitives/int8/im2col_u8s8.hpp"
#include "primsel/primitives/int8/quant_concept.hpp"

namespace primsel {

using DefaultInt8ConvPrimitives = PrimitiveList<Conv1x1U8S8, Im2colU8S8, DepthwiseU8S8>;
static_assert(DefaultInt8ConvPrimitives::names_unique(), "primitive names key the cache and the report");

namespace detail {
// The cache and the report key f32 and int8 primitives by name alike: no int8 name may repeat an f32 one.
template <class... F, class... Q>
constexpr bool names_disjoint(PrimitiveList<F...>*, PrimitiveList<Q...>*) {
  return PrimitiveList<F..., Q...>::names_unique();
}
}  // namespace detail
static_assert(detail::names_disjoint(static_cast<DefaultConvPrimitives*>(nullptr),
                                     static_cast<DefaultInt8ConvPrimitives*>(nullptr)),
              "int8 and f32 primitive names share one namespace");

}  // namespace primsel
