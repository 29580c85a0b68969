// The test suite's one cost knob. PRIMSEL_TEST_REDUCED (the CMake option of the same name, on by default in cross
// builds, whose tests run under qemu-user at a few hundred MFLOP/s) makes the slow tests do less: whole-network
// tests run their zoo models at 64x64 instead of 224x224 (zoo_models.hpp) and fewer of them, and two sweeps are
// shorter. The primitives keep their shape sweeps (FFT's has fewer channel counts), so odd sizes, strides, padding,
// dilation, channel counts off the vector width and both thread counts stay covered for every primitive; what is
// cut is repetition on large networks, whose cost is the reference executor, generating random weights and
// measuring every candidate on every layer. With it the aarch64 suite runs in about 3 minutes under qemu on 2
// cores (docs/arm.md).
//
// Reduced (test: what changes):
//   primitives.fft_conv      shape sweep: channels {1, 3, 5, 17, 33} -> {1, 17} (every kernel, stride and thread count)
//   graph.passes             zoo models at 64x64; resnet18 and googlenet left out
//   zoo.zoo                  parameter counts and layer shapes without vgg16 and resnet50 (164M weights to generate);
//                            calibrated full-size runs: lenet5 and squeezenet1_1 only
//   io.onnx_roundtrip        zoo models at 64x64; resnet18 and googlenet left out of the unoptimised round trip
//   io.onnx_writer           resnet18, googlenet and resnet50 left out (vgg16 already is)
//   runtime.network          every searcher on lenet5, squeezenet1_1, mobilenet_v2 at 64x64 (not all seven models);
//                            the measuring budget on squeezenet1_1 at 64x64
//   runtime.no_allocation    lenet5 (1 and 2 threads), squeezenet1_1 and mobilenet_v2 (2 threads) at 32x32;
//                            googlenet left out; the mixed-precision binding (mobilenet_v2 at 32x32) on 2 threads only
//   runtime.concurrent_run   squeezenet1_1 at 64x64
//   runtime.tuning_cache     zoo models at 64x64; the cache keys on squeezenet1_1 instead of resnet18
//   runtime.pipeline         lenet5 only (the models were 64x64 already; also the ThreadSanitizer build's case)
//   runtime.mixed_precision  digits int8 accuracy without the large model (21 MMAC per image)
//   select.model_selector    digits selector over tiny, small and medium (the large model left out); the cost-aware
//                            rule's test-part accuracy is printed, not checked (it misses on these three networks)
#pragma once

#include <initializer_list>
#include <vector>

#include "primsel/runtime/measure.hpp"

namespace primsel::testing {

#if defined(PRIMSEL_TEST_REDUCED)
inline constexpr bool reduced = true;
#else
inline constexpr bool reduced = false;
#endif

/// `full` in a normal run, `fewer` in a reduced one:
///
///   for (const char* model : testing::sweep({"lenet5", "resnet18", "googlenet"}, {"lenet5"})) ...
/// One timed run per candidate and no warm-up: the tests check what bind() does, not how fast anything is.
inline constexpr MeasureOptions quick{.warmup = 0, .min_runs = 1, .max_runs = 1};

template <class T>
std::vector<T> sweep(std::initializer_list<T> full, std::initializer_list<T> fewer) {
  return reduced ? std::vector<T>(fewer) : std::vector<T>(full);
}

}  // namespace primsel::testing
