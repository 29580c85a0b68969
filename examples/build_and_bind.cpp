// A network built in code, bound with Q-learning, and the report of what each layer got.
#include <primsel/primsel.hpp>

#include <cstdio>

int main() {
  using namespace primsel;
  GraphBuilder b("small_cnn");
  ValueId x = b.input("image", {1, 3, 64, 64});
  x = b.relu(b.conv(x, {.out_channels = 32, .kernel = 3, .stride = 2, .pad = 1}, "stem"));
  for (int i = 0; i < 2; ++i) x = b.relu(b.conv(x, {.out_channels = 32, .kernel = 3, .pad = 1}));
  x = b.max_pool(x, {.kernel = 2});
  x = b.relu(b.conv(x, {.out_channels = 64, .kernel = 5, .pad = 2}, "wide"));
  b.output(b.linear(b.flatten(b.global_avg_pool(x)), 10, "classifier"));
  auto graph = std::move(b).build();
  if (!graph) return std::puts(graph.error().what()), 1;

  auto net = Network<QLearning<QConfig{.episodes = 200}>>::create(std::move(*graph));
  if (!net) return std::puts(net.error().what()), 1;
  if (Status s = net->bind({.threads = 1}); !s) return std::puts(s.error().what()), 1;
  for (const LayerBinding& l : net->report().layers) {
    const auto c = static_cast<std::size_t>(l.chosen);
    std::printf("%-12s %-18s %-16s %7.3f ms (of %zu candidates)\n", l.node.c_str(), std::string(to_string(l.op)).c_str(),
                l.candidates[c].c_str(), l.ms[c], l.candidates.size());
  }
  std::printf("predicted %.3f ms, %d conversion(s)\n", net->report().search.cost, net->report().conversions);
  auto y = net->run(zoo::random_input({1, 3, 64, 64}, 2));
  return y && (*y)[0].shape() == Shape{1, 10} ? 0 : 1;
}
