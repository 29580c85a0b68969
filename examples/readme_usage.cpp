// The README's usage example, compiled and run by CI so it stays true.
#include <primsel/primsel.hpp>

int main() {
  using namespace primsel;
  // Any Graph: built in code (GraphBuilder), from the zoo, or (soon) loaded from ONNX.
  auto net = Network<QLearning<>>::create(zoo::build("resnet18").value()).value();
  // Measure every candidate primitive on this CPU, search, plan; reuse the measurements next start-up.
  net.bind({.threads = 2, .cache_path = "resnet18.cache"}).value();
  Tensor image = zoo::random_input({1, 3, 224, 224}, 1);
  std::vector<Tensor> logits = net.run(image).value();   // no allocation inside run(views...)
  for (const LayerBinding& l : net.report().layers) { /* l.node, l.candidates[l.chosen], l.ms ... */ (void)l; }
  return logits[0].shape() == Shape{1, 1000} ? 0 : 1;
}
