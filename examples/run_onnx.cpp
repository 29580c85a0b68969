// Load an ONNX model, bind every layer to its fastest primitive on this machine, and classify an image.
// Usage: run_onnx model.onnx [image.bin]   (image.bin: raw float32 NCHW sized by the model's input; random without)
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <numeric>
#include <string>
#include <vector>

#include <primsel/primsel.hpp>

int main(int argc, char** argv) {
  using namespace primsel;
  if (argc < 2) {
    std::fprintf(stderr, "usage: run_onnx model.onnx [image.bin]\n");
    return 2;
  }
  // A symbolic batch dimension becomes 1; pass LoadOptions::input_shapes to choose other symbolic dims.
  Expected<Graph> graph = io::onnx::load_model(argv[1]);
  if (!graph) {
    std::fprintf(stderr, "error: %s\n", graph.error().what());  // names the node, op and opset, or the byte offset
    return 1;
  }
  const Shape in_shape = graph->value(graph->inputs()[0]).shape;
  Tensor image = zoo::random_input(in_shape, 1);
  if (argc > 2) {
    std::ifstream f(argv[2], std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    if (bytes.size() != static_cast<std::size_t>(in_shape.numel()) * sizeof(float)) {
      std::fprintf(stderr, "error: '%s' has %zu bytes, the input %s needs %lld\n", argv[2], bytes.size(), to_string(in_shape).c_str(),
                   static_cast<long long>(in_shape.numel()) * 4);
      return 1;
    }
    std::copy(bytes.begin(), bytes.end(), reinterpret_cast<char*>(image.data<float>()));
  }

  auto net = Network<QLearning<>>::create(std::move(*graph));  // Q-learning over the measured primitives
  if (!net) {
    std::fprintf(stderr, "error: %s\n", net.error().what());
    return 1;
  }
  if (Status bound = net->bind({.threads = 1}); !bound) {
    std::fprintf(stderr, "error: %s\n", bound.error().what());
    return 1;
  }
  auto out = net->run(image);
  if (!out) {
    std::fprintf(stderr, "error: %s\n", out.error().what());
    return 1;
  }
  const auto scores = (*out)[0].floats();
  std::vector<std::size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  const std::size_t k = std::min<std::size_t>(5, order.size());
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(),
                    [&](std::size_t a, std::size_t b) { return scores[a] > scores[b]; });
  std::printf("%s: %zu layers bound, input %s\ntop-%zu:", argv[1], net->report().layers.size(), to_string(in_shape).c_str(), k);
  for (std::size_t i = 0; i < k; ++i) std::printf(" %zu (%.3f)", order[i], static_cast<double>(scores[order[i]]));
  std::printf("\n");
}
