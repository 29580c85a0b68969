// ConvDesc: everything a convolution primitive needs to know about one layer, as a plain hashable value, and its
// one problem string — e.g. `mb1ic64ih56oc64oh56kh3ph1` in the style of oneDNN's benchdnn. The same string keys the
// tuning cache, names benchmark shapes, labels test failures and appears in the verbose log.
#pragma once

#include <charconv>
#include <cstdlib>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "primsel/core/error.hpp"
#include "primsel/graph/graph.hpp"
#include "primsel/graph/op.hpp"

namespace primsel {

struct ConvDesc {
  std::int64_t n = 1;                    ///< batch (mb)
  std::int64_t groups = 1;               ///< g
  std::int64_t ic = 1, ih = 1, iw = 1;   ///< input channels and spatial size
  std::int64_t oc = 1, oh = 1, ow = 1;   ///< output channels and spatial size
  std::int64_t kh = 1, kw = 1;           ///< kernel
  std::int64_t sh = 1, sw = 1;           ///< stride
  std::int64_t dh = 1, dw = 1;           ///< dilation (1 = dense)
  Pads2d pads;                           ///< top, left, bottom, right
  bool has_bias = true;
  Activation activation;

  std::int64_t ic_per_group() const noexcept { return ic / groups; }
  std::int64_t oc_per_group() const noexcept { return oc / groups; }
  /// One filter per channel (a single-channel conv counts too).
  bool is_depthwise() const noexcept { return groups == ic && groups == oc; }
  bool is_pointwise() const noexcept {
    return kh == 1 && kw == 1 && sh == 1 && sw == 1 && pads == Pads2d{};
  }
  /// Multiply-accumulates of the direct algorithm (what GFLOP/s figures are quoted against: 2 FLOP per MAC).
  std::int64_t macs() const noexcept { return n * oc * oh * ow * ic_per_group() * kh * kw; }
  std::int64_t input_elements() const noexcept { return n * ic * ih * iw; }
  std::int64_t output_elements() const noexcept { return n * oc * oh * ow; }
  std::int64_t weight_elements() const noexcept { return oc * ic_per_group() * kh * kw; }

  friend constexpr bool operator==(const ConvDesc&, const ConvDesc&) = default;
};

/// The canonical problem string. Fields equal to their default or to their partner (iw = ih, ow = oh, kw = kh,
/// sw = sh, dw = dh, all pads equal) are left out, as benchdnn does; `_relu`, `_relu6` or `_clip<lo>:<hi>` marks
/// a fused activation and `_nb` a missing bias.
inline std::string to_string(const ConvDesc& d) {
  std::string s;
  auto put = [&](const char* key, std::int64_t v) {
    s += key;
    s += std::to_string(v);
  };
  put("mb", d.n);
  if (d.groups != 1) put("g", d.groups);
  put("ic", d.ic);
  put("ih", d.ih);
  if (d.iw != d.ih) put("iw", d.iw);
  put("oc", d.oc);
  put("oh", d.oh);
  if (d.ow != d.oh) put("ow", d.ow);
  put("kh", d.kh);
  if (d.kw != d.kh) put("kw", d.kw);
  if (d.sh != 1 || d.sw != 1) put("sh", d.sh);
  if (d.sw != d.sh) put("sw", d.sw);
  if (d.dh != 1 || d.dw != 1) put("dh", d.dh);
  if (d.dw != d.dh) put("dw", d.dw);
  const Pads2d& p = d.pads;
  if (p.top == p.left && p.top == p.bottom && p.top == p.right) {
    if (p.top != 0) put("ph", p.top);
  } else {
    put("pt", p.top);
    put("pl", p.left);
    put("pb", p.bottom);
    put("pr", p.right);
  }
  if (!d.has_bias) s += "_nb";
  if (d.activation == Activation::relu()) {
    s += "_relu";
  } else if (d.activation == Activation::relu6()) {
    s += "_relu6";
  } else if (!d.activation.is_none()) {
    s += "_clip" + std::to_string(d.activation.lo) + ":" + std::to_string(d.activation.hi);
  }
  return s;
}

/// Parses a problem string (the canonical form, or one with any subset of the optional fields). Missing partner
/// fields take their partner's value; the output size is computed when oh/ow are absent.
inline Expected<ConvDesc> parse_conv_desc(std::string_view text) {
  ConvDesc d;
  bool seen[19] = {};
  static constexpr std::string_view keys[] = {"mb", "g",  "ic", "ih", "iw", "oc", "oh", "ow", "kh", "kw",
                                              "sh", "sw", "dh", "dw", "ph", "pt", "pl", "pb", "pr"};
  std::int64_t* fields[] = {&d.n,  &d.groups, &d.ic, &d.ih, &d.iw, &d.oc, &d.oh, &d.ow, &d.kh, &d.kw,
                            &d.sh, &d.sw,     &d.dh, &d.dw, nullptr, &d.pads.top, &d.pads.left, &d.pads.bottom,
                            &d.pads.right};
  auto bad = [&](std::string why) {
    return Error(ErrorCode::invalid_argument, "problem string '" + std::string(text) + "': " + why);
  };
  std::string_view rest = text;
  std::int64_t ph = 0;
  while (!rest.empty() && rest.front() != '_') {
    std::size_t k = 0;
    while (k < rest.size() && rest[k] >= 'a' && rest[k] <= 'z') ++k;
    const std::string_view key = rest.substr(0, k);
    std::size_t which = std::size(keys);
    for (std::size_t i = 0; i < std::size(keys); ++i)
      if (keys[i] == key) which = i;
    if (which == std::size(keys)) return bad("unknown field '" + std::string(key) + "'");
    std::int64_t v = 0;
    const char* first = rest.data() + k;
    const char* last = rest.data() + rest.size();
    auto [ptr, ec] = std::from_chars(first, last, v);
    if (ec != std::errc() || ptr == first) return bad("field '" + std::string(key) + "' needs a number");
    // Sizes, strides and dilations are positive; pads (from index 14 on) may be zero.
    if (v < 0 || (v == 0 && which < 14)) return bad("field '" + std::string(key) + "' must be positive");
    if (seen[which]) return bad("field '" + std::string(key) + "' appears twice");
    seen[which] = true;
    if (fields[which]) *fields[which] = v;
    else ph = v;
    rest.remove_prefix(static_cast<std::size_t>(ptr - rest.data()));
  }
  if (!seen[2] || !seen[3] || !seen[5] || !seen[8]) return bad("needs at least ic, ih, oc and kh");
  if (!seen[4]) d.iw = d.ih;
  if (!seen[9]) d.kw = d.kh;
  if (!seen[11]) d.sw = d.sh;
  if (!seen[13]) d.dw = d.dh;
  if (seen[14]) {
    if (seen[15] || seen[16] || seen[17] || seen[18]) return bad("use either ph or pt/pl/pb/pr");
    d.pads = {ph, ph, ph, ph};
  }
  if (d.ic % d.groups != 0 || d.oc % d.groups != 0) return bad("channels are not divisible by groups");
  auto out = [](std::int64_t in, std::int64_t k, std::int64_t s, std::int64_t a, std::int64_t b, std::int64_t dil) {
    const std::int64_t room = in + a + b - (dil * (k - 1) + 1);
    return room < 0 ? std::int64_t{0} : room / s + 1;
  };
  const std::int64_t oh = out(d.ih, d.kh, d.sh, d.pads.top, d.pads.bottom, d.dh);
  const std::int64_t ow = out(d.iw, d.kw, d.sw, d.pads.left, d.pads.right, d.dw);
  if (!seen[6]) d.oh = oh;
  if (!seen[7]) d.ow = ow;
  if (d.oh != oh || d.ow != ow || oh <= 0 || ow <= 0)
    return bad("output " + std::to_string(d.oh) + "x" + std::to_string(d.ow) + " disagrees with the input, kernel, " +
               "stride and pads (expected " + std::to_string(oh) + "x" + std::to_string(ow) + ")");
  while (!rest.empty()) {
    rest.remove_prefix(1);  // '_'
    const std::size_t end = rest.find('_');
    const std::string_view tag = rest.substr(0, end);
    if (tag == "nb") {
      d.has_bias = false;
    } else if (tag == "relu") {
      d.activation = Activation::relu();
    } else if (tag == "relu6") {
      d.activation = Activation::relu6();
    } else if (tag.starts_with("clip")) {
      const std::string clip(tag.substr(4));
      const std::size_t colon = clip.find(':');
      if (colon == std::string::npos) return bad("clip needs lo:hi");
      char* e1 = nullptr;
      char* e2 = nullptr;
      const float lo = std::strtof(clip.c_str(), &e1);
      const float hi = std::strtof(clip.c_str() + colon + 1, &e2);
      if (e1 != clip.c_str() + colon || *e2 != '\0' || !(lo <= hi)) return bad("clip bounds '" + clip + "' are invalid");
      d.activation = Activation{lo, hi};
    } else {
      return bad("unknown suffix '_" + std::string(tag) + "'");
    }
    rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end);
  }
  return d;
}

/// The descriptor of a Conv node of a finalized graph.
inline ConvDesc conv_desc(const Graph& g, const Node& node) {
  const auto& p = node.get<ConvParams>();
  const Shape& x = g.value(node.inputs[0]).shape;
  const Shape& y = g.value(node.outputs[0]).shape;
  ConvDesc d;
  d.n = x.n();
  d.groups = p.groups;
  d.ic = x.c(), d.ih = x.h(), d.iw = x.w();
  d.oc = y.c(), d.oh = y.h(), d.ow = y.w();
  d.kh = p.kernel[0], d.kw = p.kernel[1];
  d.sh = p.stride[0], d.sw = p.stride[1];
  d.dh = p.dilation[0], d.dw = p.dilation[1];
  d.pads = p.pads;
  d.has_bias = node.input(2) != no_value;
  d.activation = p.activation;
  return d;
}

}  // namespace primsel

template <>
struct std::hash<primsel::ConvDesc> {
  std::size_t operator()(const primsel::ConvDesc& d) const noexcept { return std::hash<std::string>{}(to_string(d)); }
};
