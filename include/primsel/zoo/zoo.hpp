// The model zoo: CNNs built in code with deterministic pseudo-random weights, so primsel runs, tests and
// benchmarks with no files. Layer shapes follow torchvision's inference graphs (batch 1).
//
//   Expected<Graph> g = zoo::build("resnet18");              // calibrated weights
//   Expected<Graph> f = zoo::build("vgg16", {.calibrate = false});  // shapes only: fast
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "primsel/zoo/calibrate.hpp"
#include "primsel/zoo/googlenet.hpp"
#include "primsel/zoo/lenet5.hpp"
#include "primsel/zoo/mobilenet_v2.hpp"
#include "primsel/zoo/resnet.hpp"
#include "primsel/zoo/squeezenet.hpp"
#include "primsel/zoo/vgg.hpp"

namespace primsel::zoo {

struct ZooOptions {
  std::uint64_t seed = 42;  ///< weights
  bool calibrate = true;    ///< rescale weights so activations stay O(1) (one reference forward pass)
};

struct ZooEntry {
  std::string_view name;
  Expected<Graph> (*make)(std::uint64_t seed);
};

inline constexpr ZooEntry models[] = {
    {"lenet5", lenet5},         {"resnet18", resnet18},           {"resnet50", resnet50},   {"mobilenet_v2", mobilenet_v2},
    {"squeezenet1_1", squeezenet1_1}, {"vgg16", vgg16},           {"googlenet", googlenet},
};

inline std::vector<std::string_view> names() {
  std::vector<std::string_view> out;
  for (const ZooEntry& e : models) out.push_back(e.name);
  return out;
}

/// Builds zoo model `name`, or says which names exist.
inline Expected<Graph> build(std::string_view name, const ZooOptions& options = {}) {
  for (const ZooEntry& e : models) {
    if (e.name != name) continue;
    PRIMSEL_ASSIGN_OR_RETURN(Graph g, e.make(options.seed));
    if (options.calibrate) PRIMSEL_RETURN_IF_ERROR(calibrate(g, options.seed + 1));
    return g;
  }
  std::string known;
  for (const ZooEntry& e : models) known += (known.empty() ? "" : ", ") + std::string(e.name);
  return Error(ErrorCode::invalid_argument, "no zoo model named '" + std::string(name) + "' (known: " + known + ")");
}

}  // namespace primsel::zoo
