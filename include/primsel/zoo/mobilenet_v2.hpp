// MobileNetV2 (Sandler et al. 2018) with torchvision's inference graph: inverted residual blocks (1x1 expand,
// 3x3 depthwise, 1x1 linear projection), BatchNorm after every conv, ReLU6 as Clip(0, 6), width 1.0, 224x224.
#pragma once

#include <cstdint>
#include <string>

#include "primsel/graph/builder.hpp"

namespace primsel::zoo {

inline Expected<Graph> mobilenet_v2(std::uint64_t seed = 42) {
  GraphBuilder b("mobilenet_v2", seed);
  auto conv_bn = [&](ValueId x, std::int64_t out, std::int64_t k, std::int64_t stride, std::int64_t groups,
                     const std::string& p, bool act) {
    x = b.conv(x, {.out_channels = out, .kernel = k, .stride = stride, .pad = k / 2, .groups = groups, .bias = false},
               p + ".0");
    x = b.batch_norm(x, p + ".1");
    return act ? b.relu6(x, p + ".2") : x;
  };
  ValueId x = b.input("input", {1, 3, 224, 224});
  x = conv_bn(x, 32, 3, 2, 1, "features.0", true);
  // t (expansion), c (channels), n (repeats), s (first stride): torchvision's inverted_residual_setting.
  const std::int64_t settings[7][4] = {{1, 16, 1, 1},  {6, 24, 2, 2},  {6, 32, 3, 2}, {6, 64, 4, 2},
                                       {6, 96, 3, 1},  {6, 160, 3, 2}, {6, 320, 1, 1}};
  int index = 1;
  for (const auto& [t, c, n, s] : settings)
    for (std::int64_t i = 0; i < n; ++i, ++index) {
      const std::string p = "features." + std::to_string(index) + ".conv";
      const std::int64_t in = b.error() ? 0 : b.shape(x).c();
      const std::int64_t stride = i == 0 ? s : 1;
      const std::int64_t hidden = in * t;
      ValueId y = x;
      int part = 0;
      if (t != 1) y = conv_bn(y, hidden, 1, 1, 1, p + "." + std::to_string(part++), true);
      y = conv_bn(y, hidden, 3, stride, hidden, p + "." + std::to_string(part++), true);
      y = b.conv(y, {.out_channels = c, .kernel = 1, .bias = false}, p + "." + std::to_string(part++));
      y = b.batch_norm(y, p + "." + std::to_string(part));
      x = stride == 1 && in == c ? b.add(y, x, "features." + std::to_string(index) + ".add") : y;
    }
  x = conv_bn(x, 1280, 1, 1, 1, "features.18", true);
  x = b.flatten(b.global_avg_pool(x, "avgpool"), "flatten");
  x = b.dropout(x, "classifier.0");
  b.output(b.linear(x, 1000, "classifier.1"));
  return std::move(b).build();
}

}  // namespace primsel::zoo
