// GoogLeNet (Szegedy et al. 2015) as torchvision builds it for inference: no auxiliary heads, transform_input
// off, BasicConv2d = conv (no bias) + BatchNorm(eps 1e-3) + ReLU, ceil-mode max pools, and — unlike the paper —
// a 3x3 conv in the inception module's "5x5" branch (a known torchvision quirk kept for compatibility).
#pragma once

#include <cstdint>
#include <string>

#include "primsel/graph/builder.hpp"

namespace primsel::zoo {

inline Expected<Graph> googlenet(std::uint64_t seed = 42) {
  GraphBuilder b("googlenet", seed);
  auto basic = [&](ValueId x, std::int64_t out, std::int64_t k, std::int64_t stride, const std::string& p) {
    x = b.conv(x, {.out_channels = out, .kernel = k, .stride = stride, .pad = k / 2, .bias = false}, p + ".conv");
    return b.relu(b.batch_norm(x, p + ".bn", 1e-3f), p + ".relu");
  };
  auto inception = [&](ValueId x, const std::string& p, std::int64_t c1, std::int64_t c3r, std::int64_t c3,
                       std::int64_t c5r, std::int64_t c5, std::int64_t pool_proj) {
    const ValueId b1 = basic(x, c1, 1, 1, p + ".branch1");
    const ValueId b2 = basic(basic(x, c3r, 1, 1, p + ".branch2.0"), c3, 3, 1, p + ".branch2.1");
    const ValueId b3 = basic(basic(x, c5r, 1, 1, p + ".branch3.0"), c5, 3, 1, p + ".branch3.1");
    const ValueId pooled = b.max_pool(x, {.kernel = 3, .stride = 1, .pad = 1, .ceil_mode = true}, p + ".branch4.0");
    const ValueId b4 = basic(pooled, pool_proj, 1, 1, p + ".branch4.1");
    return b.concat({b1, b2, b3, b4}, 1, p + ".cat");
  };
  const PoolSpec pool{.kernel = 3, .stride = 2, .ceil_mode = true};
  ValueId x = b.input("input", {1, 3, 224, 224});
  x = basic(x, 64, 7, 2, "conv1");
  x = b.max_pool(x, pool, "maxpool1");
  x = basic(x, 64, 1, 1, "conv2");
  x = basic(x, 192, 3, 1, "conv3");
  x = b.max_pool(x, pool, "maxpool2");
  x = inception(x, "inception3a", 64, 96, 128, 16, 32, 32);
  x = inception(x, "inception3b", 128, 128, 192, 32, 96, 64);
  x = b.max_pool(x, pool, "maxpool3");
  x = inception(x, "inception4a", 192, 96, 208, 16, 48, 64);
  x = inception(x, "inception4b", 160, 112, 224, 24, 64, 64);
  x = inception(x, "inception4c", 128, 128, 256, 24, 64, 64);
  x = inception(x, "inception4d", 112, 144, 288, 32, 64, 64);
  x = inception(x, "inception4e", 256, 160, 320, 32, 128, 128);
  x = b.max_pool(x, {.kernel = 2, .stride = 2, .ceil_mode = true}, "maxpool4");
  x = inception(x, "inception5a", 256, 160, 320, 32, 128, 128);
  x = inception(x, "inception5b", 384, 192, 384, 48, 128, 128);
  x = b.flatten(b.global_avg_pool(x, "avgpool"), "flatten");
  x = b.dropout(x, "dropout");
  b.output(b.linear(x, 1000, "fc"));
  return std::move(b).build();
}

}  // namespace primsel::zoo
