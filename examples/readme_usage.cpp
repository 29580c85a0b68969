// The README's usage example, compiled and run by CI so it stays true.
#include <primsel/primsel.hpp>
#include <cstdio>

int main() {
  using namespace primsel;
  Graph g("tiny");
  ValueId x = g.add_input("x", {1, 3, 32, 32});
  ValueId w = g.add_constant("conv.weight", Tensor({16, 3, 3, 3}));
  ValueId y = g.add_node(OpKind::Conv, "conv", {x, w}, ConvParams{.kernel = {3, 3}, .pads = {1, 1, 1, 1}});
  g.mark_output(g.add_node(OpKind::Relu, "relu", {y}));
  if (Status s = finalize(g); !s) {           // topological order + shape inference
    std::puts(s.error().what());              // e.g. "shape mismatch: Conv 'conv' (...): input has 4 channels..."
    return 1;
  }
  std::printf("%s\n", to_string(conv_desc(g, g.nodes()[0])).c_str());   // mb1ic3ih32oc16oh32kh3ph1
}
