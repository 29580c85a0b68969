// ResNet-18 and ResNet-50 (He et al. 2016) with torchvision's inference graphs: BasicBlock / Bottleneck (v1.5:
// stride on the 3x3 conv), BatchNorm after every conv, 1x1 projection shortcuts, batch 1, 3x224x224. Node names
// follow torchvision's modules (layer1.0.conv1, layer2.0.downsample.0, ...).
#pragma once

#include <cstdint>
#include <string>

#include "primsel/graph/builder.hpp"

namespace primsel::zoo {

namespace detail {

inline ValueId conv_bn(GraphBuilder& b, ValueId x, std::int64_t out, std::int64_t k, std::int64_t stride,
                       const std::string& conv, const std::string& bn) {
  x = b.conv(x, {.out_channels = out, .kernel = k, .stride = stride, .pad = k / 2, .bias = false}, conv);
  return b.batch_norm(x, bn);
}

inline ValueId shortcut(GraphBuilder& b, ValueId x, std::int64_t out, std::int64_t stride, const std::string& p) {
  if (!b.error() && stride == 1 && b.shape(x).c() == out) return x;
  return conv_bn(b, x, out, 1, stride, p + ".downsample.0", p + ".downsample.1");
}

inline ValueId basic_block(GraphBuilder& b, ValueId x, std::int64_t planes, std::int64_t stride, const std::string& p) {
  const ValueId identity = shortcut(b, x, planes, stride, p);
  ValueId y = b.relu(conv_bn(b, x, planes, 3, stride, p + ".conv1", p + ".bn1"), p + ".relu1");
  y = conv_bn(b, y, planes, 3, 1, p + ".conv2", p + ".bn2");
  return b.relu(b.add(y, identity, p + ".add"), p + ".relu2");
}

inline ValueId bottleneck(GraphBuilder& b, ValueId x, std::int64_t planes, std::int64_t stride, const std::string& p) {
  const ValueId identity = shortcut(b, x, planes * 4, stride, p);
  ValueId y = b.relu(conv_bn(b, x, planes, 1, 1, p + ".conv1", p + ".bn1"), p + ".relu1");
  y = b.relu(conv_bn(b, y, planes, 3, stride, p + ".conv2", p + ".bn2"), p + ".relu2");
  y = conv_bn(b, y, planes * 4, 1, 1, p + ".conv3", p + ".bn3");
  return b.relu(b.add(y, identity, p + ".add"), p + ".relu3");
}

template <class Block>
Expected<Graph> resnet(const char* name, const int (&blocks)[4], Block block, std::uint64_t seed) {
  GraphBuilder b(name, seed);
  ValueId x = b.input("input", {1, 3, 224, 224});
  x = b.relu(conv_bn(b, x, 64, 7, 2, "conv1", "bn1"), "relu");
  x = b.max_pool(x, {.kernel = 3, .stride = 2, .pad = 1}, "maxpool");
  const std::int64_t planes[4] = {64, 128, 256, 512};
  for (int l = 0; l < 4; ++l)
    for (int i = 0; i < blocks[l]; ++i)
      x = block(b, x, planes[l], i == 0 && l > 0 ? 2 : 1, "layer" + std::to_string(l + 1) + "." + std::to_string(i));
  x = b.flatten(b.global_avg_pool(x, "avgpool"), "flatten");
  b.output(b.linear(x, 1000, "fc"));
  return std::move(b).build();
}

}  // namespace detail

inline Expected<Graph> resnet18(std::uint64_t seed = 42) {
  static constexpr int blocks[4] = {2, 2, 2, 2};
  return detail::resnet("resnet18", blocks, detail::basic_block, seed);
}

inline Expected<Graph> resnet50(std::uint64_t seed = 42) {
  static constexpr int blocks[4] = {3, 4, 6, 3};
  return detail::resnet("resnet50", blocks, detail::bottleneck, seed);
}

}  // namespace primsel::zoo
