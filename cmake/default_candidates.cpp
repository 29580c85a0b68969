// Compiled once into primsel_default_candidates: the project's tests, examples and benchmarks bind networks in
// dozens of translation units, and each would otherwise compile every primitive's kernels again.
#include <primsel/runtime/default_candidates.hpp>
