// Compiled (not run) for other targets and flag sets — aarch64, and -fno-exceptions -fno-rtti as firmware
// builds use: the umbrella header and the paths a zoo example takes (build, optimize, run on the reference, bind
// a Network and run it) must compile there.
#include <primsel/primsel.hpp>

int primsel_umbrella_check() {
  primsel::Expected<primsel::Graph> g = primsel::zoo::build("lenet5");
  if (!g) return 1;
  if (!primsel::optimize(*g)) return 2;
  const primsel::Tensor input = primsel::zoo::random_input(g->value(g->inputs()[0]).shape, 1);
  auto out = primsel::run_reference(*g, input);
  if (!out) return 3;
  // The bound path: Network with a searcher, measured, bound and run.
  auto net = primsel::Network<primsel::QLearning<>>::create(std::move(*g));
  if (!net || !net->bind({.threads = 1})) return 4;
  return net->run(input).ok() ? 0 : 5;
}
