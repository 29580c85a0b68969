// Format: how an activation is stored — its physical Layout and its element DType. Converting between formats
// costs time, so formats are part of what the primitive search optimises.
//
// Layouts of a logical NCHW tensor:
//   nchw     element (n,c,h,w) at ((n*C + c)*H + h)*W + w
//   nhwc     element (n,c,h,w) at ((n*H + h)*W + w)*C + c
//   nchw8c   channels in blocks of 8: at (((n*Cb + c/8)*H + h)*W + w)*8 + c%8, Cb = ceil(C/8); the tail block is
//            zero-padded, so kernels may read whole blocks
//   nchw16c  the same with blocks of 16 (one AVX-512 register of floats)
// Tensors of rank other than 4 are plain row-major and use `nchw`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace primsel {

enum class DType : std::uint8_t { f32, s8, u8, s32 };

constexpr std::size_t size_of(DType t) noexcept {
  switch (t) {
    case DType::f32: return 4;
    case DType::s8: return 1;
    case DType::u8: return 1;
    case DType::s32: return 4;
  }
  return 0;
}

constexpr std::string_view to_string(DType t) noexcept {
  switch (t) {
    case DType::f32: return "f32";
    case DType::s8: return "s8";
    case DType::u8: return "u8";
    case DType::s32: return "s32";
  }
  return "?";
}

/// Affine quantisation of one tensor: real = scale * (q - zero_point), with q in [0, qmax]. qmax is 255 (the
/// whole byte) unless the target's int8 kernels need 7-bit activations (127: AVX2 without VNNI, whose vpmaddubsw
/// saturates on larger ones; PyTorch's observers call this reduce_range): every producer of the tensor clamps to it.
struct QuantParams {
  float scale = 1.0f;
  std::int32_t zero_point = 0;
  std::int32_t qmax = 255;
  friend constexpr bool operator==(const QuantParams&, const QuantParams&) = default;
};

enum class Layout : std::uint8_t { nchw, nhwc, nchw8c, nchw16c };

inline constexpr Layout all_layouts[] = {Layout::nchw, Layout::nhwc, Layout::nchw8c, Layout::nchw16c};

constexpr std::string_view to_string(Layout l) noexcept {
  switch (l) {
    case Layout::nchw: return "nchw";
    case Layout::nhwc: return "nhwc";
    case Layout::nchw8c: return "nchw8c";
    case Layout::nchw16c: return "nchw16c";
  }
  return "?";
}

/// Channels per block: 8 or 16 for the blocked layouts, 1 for the plain ones.
constexpr int channel_block(Layout l) noexcept {
  return l == Layout::nchw8c ? 8 : l == Layout::nchw16c ? 16 : 1;
}
constexpr bool is_blocked(Layout l) noexcept { return channel_block(l) > 1; }

constexpr std::optional<Layout> layout_from_string(std::string_view s) noexcept {
  for (Layout l : all_layouts)
    if (to_string(l) == s) return l;
  return std::nullopt;
}

/// A (Layout, DType) pair, written "nchw8c/f32".
struct Format {
  Layout layout = Layout::nchw;
  DType dtype = DType::f32;
  friend constexpr bool operator==(const Format&, const Format&) = default;
};

inline std::string to_string(Format f) {
  return std::string(to_string(f.layout)) + "/" + std::string(to_string(f.dtype));
}

}  // namespace primsel
