// Conversions between the activation layouts of format.hpp, for any element size (f32, s8, u8, s32). Each is a
// reordering of the same logical NCHW tensor; blocked layouts zero their padded tail channels. These run on every
// edge where neighbouring primitives disagree, so the search measures them: the inner loops are contiguous on the
// side that matters (the destination for nchw -> nhwc, the source block for nchwXc -> nchw).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>

#include "primsel/core/error.hpp"
#include "primsel/core/tensor.hpp"

namespace primsel {

/// Element offset of logical (n, c, h, w) in a 4-D tensor of shape `s` stored in layout `l`.
constexpr std::int64_t offset(const Shape& s, Layout l, std::int64_t n, std::int64_t c, std::int64_t h,
                              std::int64_t w) noexcept {
  const std::int64_t C = s.c(), H = s.h(), W = s.w();
  switch (l) {
    case Layout::nchw: return ((n * C + c) * H + h) * W + w;
    case Layout::nhwc: return ((n * H + h) * W + w) * C + c;
    case Layout::nchw8c:
    case Layout::nchw16c: {
      const std::int64_t b = channel_block(l), cb = (C + b - 1) / b;
      return (((n * cb + c / b) * H + h) * W + w) * b + c % b;
    }
  }
  return 0;
}

namespace detail {

template <std::size_t E>
struct Element {
  unsigned char bytes[E];
};

// Copies one logical tensor between layouts; T is an opaque element of the right size.
template <class T>
void convert_elements(const T* src, Layout from, T* dst, Layout to, const Shape& s) {
  const std::int64_t N = s.n(), C = s.c(), H = s.h(), W = s.w(), HW = H * W;
  if (is_blocked(to)) {  // the padded tail channels must read as zero
    const std::int64_t total = storage_elements(s, to);
    std::memset(static_cast<void*>(dst), 0, static_cast<std::size_t>(total) * sizeof(T));
  }
  if (from == Layout::nchw && to == Layout::nhwc) {
    for (std::int64_t n = 0; n < N; ++n)
      for (std::int64_t p = 0; p < HW; ++p)
        for (std::int64_t c = 0; c < C; ++c) dst[(n * HW + p) * C + c] = src[(n * C + c) * HW + p];
    return;
  }
  if (from == Layout::nhwc && to == Layout::nchw) {
    for (std::int64_t n = 0; n < N; ++n)
      for (std::int64_t c = 0; c < C; ++c)
        for (std::int64_t p = 0; p < HW; ++p) dst[(n * C + c) * HW + p] = src[(n * HW + p) * C + c];
    return;
  }
  if (from == Layout::nchw && is_blocked(to)) {
    const std::int64_t b = channel_block(to), cb = (C + b - 1) / b;
    for (std::int64_t n = 0; n < N; ++n)
      for (std::int64_t c = 0; c < C; ++c) {
        const T* plane = src + (n * C + c) * HW;
        T* out = dst + (n * cb + c / b) * HW * b + c % b;
        for (std::int64_t p = 0; p < HW; ++p) out[p * b] = plane[p];
      }
    return;
  }
  if (is_blocked(from) && to == Layout::nchw) {
    const std::int64_t b = channel_block(from), cb = (C + b - 1) / b;
    for (std::int64_t n = 0; n < N; ++n)
      for (std::int64_t c = 0; c < C; ++c) {
        const T* in = src + (n * cb + c / b) * HW * b + c % b;
        T* plane = dst + (n * C + c) * HW;
        for (std::int64_t p = 0; p < HW; ++p) plane[p] = in[p * b];
      }
    return;
  }
  // Everything else (nhwc <-> blocked, 8c <-> 16c): walk the destination's natural order.
  for (std::int64_t n = 0; n < N; ++n)
    for (std::int64_t c = 0; c < C; ++c)
      for (std::int64_t h = 0; h < H; ++h)
        for (std::int64_t w = 0; w < W; ++w) dst[offset(s, to, n, c, h, w)] = src[offset(s, from, n, c, h, w)];
}

}  // namespace detail

/// Copies `src` into `dst`, which has the same logical shape and dtype and any layout. Non-4-D tensors only
/// support the plain layout.
inline Status convert(ConstTensorView src, TensorView dst) {
  // The context is built only on failure: run() converts between layers and must not allocate.
  auto fail = [&](ErrorCode code, std::string why) {
    return Error(code, std::move(why),
                 ErrorContext{"convert", {}, to_string(src.shape()) + " " + to_string(src.format()) + " -> " +
                                                 to_string(dst.shape()) + " " + to_string(dst.format())});
  };
  if (src.shape() != dst.shape()) return fail(ErrorCode::shape_mismatch, "source and destination shapes differ");
  if (src.dtype() != dst.dtype())
    return fail(ErrorCode::invalid_argument, "conversion changes the layout, not the dtype (quantise/dequantise do that)");
  for (Layout l : {src.layout(), dst.layout()})
    if (auto why = layout_mismatch(src.shape(), l); !why.empty()) return fail(ErrorCode::invalid_argument, why);
  if (src.bytes() == nullptr || dst.bytes() == nullptr) return fail(ErrorCode::invalid_argument, "a view has no data");
  if (src.layout() == dst.layout()) {
    std::memcpy(dst.bytes(), src.bytes(), src.size_bytes());
    return {};
  }
  switch (size_of(src.dtype())) {
    case 1:
      detail::convert_elements(reinterpret_cast<const detail::Element<1>*>(src.bytes()), src.layout(),
                               reinterpret_cast<detail::Element<1>*>(dst.bytes()), dst.layout(), src.shape());
      return {};
    case 4:
      detail::convert_elements(src.data<std::uint32_t>(), src.layout(), dst.data<std::uint32_t>(), dst.layout(), src.shape());
      return {};
  }
  return fail(ErrorCode::internal, "unexpected element size");
}

/// A copy of `t` in layout `l`.
inline Expected<Tensor> to_layout(const Tensor& t, Layout l) {
  PRIMSEL_ASSIGN_OR_RETURN(Tensor out, Tensor::create(t.shape(), Format{l, t.dtype()}, t.quant()));
  PRIMSEL_RETURN_IF_ERROR(convert(t.view(), out.view()));
  return out;
}

}  // namespace primsel
