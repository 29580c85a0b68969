// The one translation unit that compiles node_candidates() over the default primitive lists, the Network code
// they share (BasicNetwork) and the primitives' micro-kernel tables (KernelTable), for programs that
// define PRIMSEL_EXTERN_DEFAULT_CANDIDATES everywhere else (see runtime/network.hpp): include this header in
// exactly one .cpp of the program, built with the same flags (-march) as the rest.
#pragma once

#include "primsel/runtime/network.hpp"

namespace primsel {
template Expected<std::vector<Candidate>> node_candidates<DefaultConvPrimitives, DefaultInt8ConvPrimitives>(
    const Graph&, std::size_t, int, const Calibration*);
template class BasicNetwork<DefaultConvPrimitives, DefaultInt8ConvPrimitives>;
template struct KernelTable<DirectNchwc>;
template struct KernelTable<DirectSmallIc>;
template struct KernelTable<Depthwise>;
template struct KernelTable<DepthwiseU8S8>;
}  // namespace primsel
