// The digits network as firmware: a compile-time network (digits_network.hpp), weights in flash, activations in a
// static arena, no exceptions, RTTI, threads or heap after start-up. One source, two builds: for a Cortex-M7 with
// arm-none-eabi-g++ and newlib (ctest examples.digits_firmware_cortex_m7 compiles, links and sizes it; see
// CMakeLists.txt here and docs/embedded.md), and for the host, where ctest runs it: exit code 0 when the compiled-in
// sample digit is classified right.
#include <cstddef>

#include "digits_network.hpp"

namespace {
digits::SmallNet network;  // the packed weights, allocated once by init()
alignas(primsel::tensor_alignment) std::byte arena[digits::SmallNet::arena_bytes];  // activations + scratch (.bss)
}  // namespace

/// The answer, where a debugger or the next stage of the firmware reads it.
volatile int digits_answer = -1;

int main() {
  if (!network.init(arena)) return 1;
  digits_answer = digits::classify(network, digits::sample_image);
  return digits_answer == digits::sample_label ? 0 : 2;
}
