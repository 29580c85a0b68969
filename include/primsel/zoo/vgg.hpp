// VGG-16 (Simonyan & Zisserman 2015, torchvision's vgg16 without batch norm): thirteen 3x3 convs with ReLU, five
// 2x2 max pools, classifier 25088-4096-4096-1000 with dropout. torchvision's AdaptiveAvgPool2d((7, 7)) is the
// identity at 224x224 input, so it is left out.
#pragma once

#include <cstdint>
#include <string>

#include "primsel/graph/builder.hpp"

namespace primsel::zoo {

inline Expected<Graph> vgg16(std::uint64_t seed = 42) {
  GraphBuilder b("vgg16", seed);
  ValueId x = b.input("input", {1, 3, 224, 224});
  constexpr std::int64_t pool = 0;  // 'M' in torchvision's configuration "D"
  const std::int64_t cfg[] = {64, 64, pool, 128, 128, pool, 256, 256, 256, pool, 512, 512, 512, pool, 512, 512, 512, pool};
  int index = 0;
  for (std::int64_t c : cfg) {
    if (c == pool) {
      x = b.max_pool(x, {.kernel = 2}, "features." + std::to_string(index++));
    } else {
      x = b.conv(x, {.out_channels = c, .kernel = 3, .pad = 1}, "features." + std::to_string(index++));
      x = b.relu(x, "features." + std::to_string(index++));
    }
  }
  x = b.flatten(x, "flatten");
  x = b.dropout(b.relu(b.linear(x, 4096, "classifier.0"), "classifier.1"), "classifier.2");
  x = b.dropout(b.relu(b.linear(x, 4096, "classifier.3"), "classifier.4"), "classifier.5");
  b.output(b.linear(x, 1000, "classifier.6"));
  return std::move(b).build();
}

}  // namespace primsel::zoo
