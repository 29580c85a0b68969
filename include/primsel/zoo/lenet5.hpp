// LeNet-5 (LeCun et al. 1998) in its common modern form: 1x1x28x28 input, 5x5 convs (the first padded by 2 so the
// 28x28 MNIST digit plays the paper's 32x32 input), ReLU, 2x2 max pooling, FC 120-84-10. 61,706 parameters.
#pragma once

#include <cstdint>

#include "primsel/graph/builder.hpp"

namespace primsel::zoo {

inline Expected<Graph> lenet5(std::uint64_t seed = 42) {
  GraphBuilder b("lenet5", seed);
  ValueId x = b.input("input", {1, 1, 28, 28});
  x = b.relu(b.conv(x, {.out_channels = 6, .kernel = 5, .pad = 2}, "conv1"), "relu1");
  x = b.max_pool(x, {.kernel = 2}, "pool1");
  x = b.relu(b.conv(x, {.out_channels = 16, .kernel = 5}, "conv2"), "relu2");
  x = b.max_pool(x, {.kernel = 2}, "pool2");
  x = b.flatten(x, "flatten");
  x = b.relu(b.linear(x, 120, "fc1"), "relu3");
  x = b.relu(b.linear(x, 84, "fc2"), "relu4");
  b.output(b.linear(x, 10, "fc3"));
  return std::move(b).build();
}

}  // namespace primsel::zoo
