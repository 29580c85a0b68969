#include <cstdio>

#include <primsel/primsel.hpp>

int main() {
  primsel::Graph g("consumer");
  const auto x = g.add_input("x", {1, 3, 8, 8});
  const auto w = g.add_constant("w", primsel::Tensor({4, 3, 3, 3}));
  g.mark_output(g.add_node(primsel::OpKind::Conv, "conv", {x, w}, primsel::ConvParams{.kernel = {3, 3}}));
  const primsel::Status s = primsel::finalize(g);
  if (!s) {
    std::puts(s.error().what());
    return 1;
  }
  std::printf("primsel %s: output %s\n", primsel::version_string, to_string(g.value(g.outputs()[0]).shape).c_str());
  return 0;
}
