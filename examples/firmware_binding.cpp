// Firmware-style start-up: the binding was searched once on the target (primsel-bench --emit-binding) and is
// compiled in, so the device binds without measuring or searching — only the chosen weights are packed.
//   ./build/benchmarks/primsel-bench --model lenet5 --searcher exact --emit-binding examples/lenet5_binding.hpp
#include <primsel/primsel.hpp>

#include <cstdio>

#include "lenet5_binding.hpp"

int main() {
  using namespace primsel;
  auto net = Network<Greedy>::create(zoo::build("lenet5").value());  // the searcher is never run here
  if (!net) return std::puts(net.error().what()), 1;
  if (Status s = net->bind_names(lenet5_binding, {.threads = 1}); !s) return std::puts(s.error().what()), 1;
  const Tensor digit = zoo::random_input({1, 1, 28, 28}, 1);
  auto logits = net->run(digit);
  if (!logits) return std::puts(logits.error().what()), 1;
  for (const LayerBinding& l : net->report().layers)
    std::printf("%-8s %s\n", l.node.c_str(), l.candidates[static_cast<std::size_t>(l.chosen)].c_str());
  std::printf("logit[0] = %.4f\n", (*logits)[0].floats()[0]);
  return 0;
}
