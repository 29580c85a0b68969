// SqueezeNet 1.1 (Iandola et al. 2016, torchvision's squeezenet1_1): Fire modules (1x1 squeeze, then 1x1 and 3x3
// expands concatenated), ceil-mode max pooling, a 1x1 conv classifier and global average pooling. 1,235,496 params.
#pragma once

#include <cstdint>
#include <string>

#include "primsel/graph/builder.hpp"

namespace primsel::zoo {

inline Expected<Graph> squeezenet1_1(std::uint64_t seed = 42) {
  GraphBuilder b("squeezenet1_1", seed);
  auto fire = [&](ValueId x, int index, std::int64_t squeeze, std::int64_t expand) {
    const std::string p = "features." + std::to_string(index);
    const ValueId s = b.relu(b.conv(x, {.out_channels = squeeze}, p + ".squeeze"), p + ".squeeze_activation");
    const ValueId e1 = b.relu(b.conv(s, {.out_channels = expand}, p + ".expand1x1"), p + ".expand1x1_activation");
    const ValueId e3 = b.relu(b.conv(s, {.out_channels = expand, .kernel = 3, .pad = 1}, p + ".expand3x3"),
                              p + ".expand3x3_activation");
    return b.concat({e1, e3}, 1, p + ".cat");
  };
  const PoolSpec pool{.kernel = 3, .stride = 2, .ceil_mode = true};
  ValueId x = b.input("input", {1, 3, 224, 224});
  x = b.relu(b.conv(x, {.out_channels = 64, .kernel = 3, .stride = 2}, "features.0"), "features.1");
  x = b.max_pool(x, pool, "features.2");
  x = fire(x, 3, 16, 64);
  x = fire(x, 4, 16, 64);
  x = b.max_pool(x, pool, "features.5");
  x = fire(x, 6, 32, 128);
  x = fire(x, 7, 32, 128);
  x = b.max_pool(x, pool, "features.8");
  x = fire(x, 9, 48, 192);
  x = fire(x, 10, 48, 192);
  x = fire(x, 11, 64, 256);
  x = fire(x, 12, 64, 256);
  x = b.dropout(x, "classifier.0");
  x = b.relu(b.conv(x, {.out_channels = 1000}, "classifier.1"), "classifier.2");
  b.output(b.flatten(b.global_avg_pool(x, "classifier.3"), "flatten"));
  return std::move(b).build();
}

}  // namespace primsel::zoo
