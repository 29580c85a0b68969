// LabelledSet: a small labelled image set for training and evaluating a premodel, read from a compact binary file
// (how data/digits/digits.bin ships the digits data set, so C++ tests and examples need no Python).
//
//   auto set = load_labelled_set("data/digits/digits.bin").value();
//   LabelledSet test = set.part(LabelledSet::test);   // images are 1xCxHxW nchw f32, pixel / max_value
//
// File format (little endian):
//   8 bytes  "PSIMAGES"
//   u32      version (1)
//   u32      count, channels, height, width, max_value (pixels are 0..max_value)
//   count x  { u8 part (0 fit, 1 validation, 2 test), u8 label, channels*height*width u8 pixels (CHW order) }
#pragma once

#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "primsel/core/error.hpp"
#include "primsel/core/tensor.hpp"

namespace primsel::select {

struct LabelledSet {
  /// Which part of a split a sample belongs to: models train on `fit`, the premodel on `validation` (inputs the
  /// models never saw), and everything is evaluated on `test`.
  enum Part : std::uint8_t { fit = 0, validation = 1, test = 2 };

  std::vector<Tensor> images;  ///< 1xCxHxW nchw f32
  std::vector<int> labels;
  std::vector<Part> parts;

  std::size_t size() const noexcept { return images.size(); }

  /// The samples of one part, in file order.
  LabelledSet part(Part p) const {
    LabelledSet s;
    for (std::size_t i = 0; i < images.size(); ++i)
      if (parts[i] == p) s.images.push_back(images[i]), s.labels.push_back(labels[i]), s.parts.push_back(p);
    return s;
  }
};

/// Parses the file's bytes; `source` (the path) starts every error message.
inline Expected<LabelledSet> parse_labelled_set(std::string_view bytes, const std::string& source) {
  const auto fail = [&](const std::string& what) {
    return Error(ErrorCode::invalid_model, "labelled set '" + source + "': " + what);
  };
  if (bytes.size() < 32 || bytes.substr(0, 8) != "PSIMAGES") return fail("not a labelled image set (no PSIMAGES header)");
  std::uint32_t h[6];
  for (int i = 0; i < 6; ++i) {
    const auto* b = reinterpret_cast<const unsigned char*>(bytes.data() + 8 + 4 * i);
    h[i] = static_cast<std::uint32_t>(b[0]) | static_cast<std::uint32_t>(b[1]) << 8 | static_cast<std::uint32_t>(b[2]) << 16 |
           static_cast<std::uint32_t>(b[3]) << 24;
  }
  const std::uint32_t version = h[0], count = h[1], c = h[2], ht = h[3], w = h[4], max_value = h[5];
  if (version != 1) return fail("version " + std::to_string(version) + " is not supported (this primsel reads version 1)");
  if (c == 0 || ht == 0 || w == 0 || c > 16 || ht > 4096 || w > 4096 || max_value == 0 || max_value > 255)
    return fail("implausible header: " + std::to_string(c) + "x" + std::to_string(ht) + "x" + std::to_string(w) +
                " images, max value " + std::to_string(max_value));
  const std::size_t pixels = std::size_t{c} * ht * w, record = 2 + pixels;
  if (bytes.size() != 32 + record * count)
    return fail("has " + std::to_string(bytes.size()) + " bytes, its header promises " + std::to_string(count) + " images of " +
                std::to_string(record) + " bytes each (" + std::to_string(32 + record * count) + " bytes): truncated or corrupt");
  LabelledSet s;
  s.images.reserve(count);
  const float scale = 1.0f / static_cast<float>(max_value);
  for (std::size_t i = 0; i < count; ++i) {
    const auto* r = reinterpret_cast<const unsigned char*>(bytes.data() + 32 + i * record);
    if (r[0] > 2) return fail("image " + std::to_string(i) + " has part " + std::to_string(r[0]) + " (0 fit, 1 validation, 2 test)");
    Tensor t(Shape{1, c, ht, w});
    float* d = t.data<float>();
    for (std::size_t k = 0; k < pixels; ++k) {
      if (r[2 + k] > max_value) return fail("image " + std::to_string(i) + " has a pixel above the max value " + std::to_string(max_value));
      d[k] = static_cast<float>(r[2 + k]) * scale;
    }
    s.images.push_back(std::move(t));
    s.labels.push_back(r[1]);
    s.parts.push_back(static_cast<LabelledSet::Part>(r[0]));
  }
  return s;
}

inline Expected<LabelledSet> load_labelled_set(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  PRIMSEL_CHECK(static_cast<bool>(f), ErrorCode::io_error, "cannot open labelled set '" + path + "'");
  std::ostringstream s;
  s << f.rdbuf();
  return parse_labelled_set(s.str(), path);
}

}  // namespace primsel::select
