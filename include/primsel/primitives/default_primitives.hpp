// The one registration list of convolution primitives. Network's default, the tests' and benchmarks' sweeps
// and the report all read it; adding a primitive is one header plus one entry here.
#pragma once

#include "primsel/primitives/concept.hpp"
#include "primsel/primitives/conv1x1_gemm.hpp"
#include "primsel/primitives/depthwise.hpp"
#include "primsel/primitives/direct_nchwc.hpp"
#include "primsel/primitives/direct_small_ic.hpp"
#include "primsel/primitives/fft_conv.hpp"
#include "primsel/primitives/im2col_gemm.hpp"
#include "primsel/primitives/winograd.hpp"

namespace primsel {

using DefaultConvPrimitives = PrimitiveList<Im2colGemm, Conv1x1Gemm, DirectNchwc, DirectSmallIc, Depthwise, WinogradF23, WinogradF43, WinogradF63,
                                      FftConv>;
static_assert(DefaultConvPrimitives::names_unique(), "primitive names key the cache and the report: keep them unique");

}  // namespace primsel
