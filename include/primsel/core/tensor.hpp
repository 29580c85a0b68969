// Tensor (owning, 64-byte aligned, value semantics) and TensorView / ConstTensorView (non-owning).
// The shape is always the logical one (NCHW for 4-D); the Format says how the bytes are laid out, and
// storage_elements() how many elements that takes (blocked layouts pad channels up to the block).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <span>
#include <string>
#include <type_traits>
#include <utility>

#include "primsel/core/error.hpp"
#include "primsel/core/format.hpp"
#include "primsel/core/shape.hpp"

namespace primsel {

/// Alignment of every buffer primsel allocates: one cache line, and one AVX-512 register.
inline constexpr std::size_t tensor_alignment = 64;

/// Elements a tensor of this shape occupies in this layout (channels rounded up to the block for nchw8c/16c).
constexpr std::int64_t storage_elements(const Shape& s, Layout l) noexcept {
  if (s.rank() != 4 || !is_blocked(l)) return s.numel();
  const std::int64_t b = channel_block(l);
  return s.n() * ((s.c() + b - 1) / b) * b * s.h() * s.w();
}

/// Why a layout cannot hold a shape, or empty if it can (non-plain layouts need rank 4).
inline std::string layout_mismatch(const Shape& s, Layout l) {
  if (l != Layout::nchw && s.rank() != 4)
    return "layout " + std::string(to_string(l)) + " needs a 4-D tensor, got " + to_string(s);
  return {};
}

template <class Byte>
class BasicTensorView {
 public:
  BasicTensorView() = default;
  BasicTensorView(Byte* data, Shape shape, Format format = {}, QuantParams quant = {})
      : data_(data), shape_(shape), format_(format), quant_(quant) {}
  // A mutable view converts to a const one.
  template <class B2>
    requires(std::is_const_v<Byte> && !std::is_const_v<B2>)
  BasicTensorView(const BasicTensorView<B2>& v)
      : data_(v.bytes()), shape_(v.shape()), format_(v.format()), quant_(v.quant()) {}

  Byte* bytes() const noexcept { return data_; }
  template <class T>
  auto* data() const noexcept {
    if constexpr (std::is_const_v<Byte>)
      return reinterpret_cast<const T*>(data_);
    else
      return reinterpret_cast<T*>(data_);
  }
  const Shape& shape() const noexcept { return shape_; }
  Format format() const noexcept { return format_; }
  Layout layout() const noexcept { return format_.layout; }
  DType dtype() const noexcept { return format_.dtype; }
  QuantParams quant() const noexcept { return quant_; }
  std::int64_t storage_elements() const noexcept { return primsel::storage_elements(shape_, format_.layout); }
  std::size_t size_bytes() const noexcept {
    return static_cast<std::size_t>(storage_elements()) * size_of(format_.dtype);
  }

 private:
  Byte* data_ = nullptr;
  Shape shape_;
  Format format_;
  QuantParams quant_;
};

using TensorView = BasicTensorView<std::byte>;
using ConstTensorView = BasicTensorView<const std::byte>;

class Tensor {
 public:
  Tensor() = default;

  /// Allocates a zero-filled tensor; raises (throws, or calls the fatal handler without exceptions) on failure.
  Tensor(Shape shape, Format format = {}, QuantParams quant = {}) { *this = create(shape, format, quant).value(); }

  /// Allocates a zero-filled tensor, or says why it cannot (negative dims, too large, wrong rank for layout).
  static Expected<Tensor> create(Shape shape, Format format = {}, QuantParams quant = {}) {
    const std::int64_t n = shape.checked_numel();
    PRIMSEL_CHECK(n >= 0, ErrorCode::invalid_argument, "tensor shape " + to_string(shape) + " is negative or too large");
    if (auto why = layout_mismatch(shape, format.layout); !why.empty())
      return Error(ErrorCode::invalid_argument, why);
    Tensor t;
    t.shape_ = shape;
    t.format_ = format;
    t.quant_ = quant;
    t.bytes_ = static_cast<std::size_t>(storage_elements(shape, format.layout)) * size_of(format.dtype);
    if (t.bytes_ > 0) {
      t.data_ = static_cast<std::byte*>(::operator new(t.bytes_, std::align_val_t{tensor_alignment}, std::nothrow));
      PRIMSEL_CHECK(t.data_ != nullptr, ErrorCode::out_of_memory,
                    "cannot allocate " + std::to_string(t.bytes_) + " bytes for tensor " + to_string(shape));
      std::memset(t.data_, 0, t.bytes_);
    }
    return t;
  }

  /// A 1-D/N-D f32 tensor holding a copy of `values` (row-major); the shape's numel must match.
  static Tensor from(Shape shape, std::span<const float> values) {
    Tensor t(shape);
    if (static_cast<std::int64_t>(values.size()) != shape.numel())
      raise(Error(ErrorCode::shape_mismatch, std::to_string(values.size()) + " values for shape " + to_string(shape)));
    if (!values.empty()) std::memcpy(t.data_, values.data(), values.size_bytes());
    return t;
  }

  Tensor(const Tensor& o) : Tensor() {
    if (!o.data_ && o.bytes_ == 0) {
      shape_ = o.shape_, format_ = o.format_, quant_ = o.quant_;
      return;
    }
    *this = create(o.shape_, o.format_, o.quant_).value();
    if (bytes_) std::memcpy(data_, o.data_, bytes_);
  }
  Tensor(Tensor&& o) noexcept { swap(o); }
  Tensor& operator=(Tensor o) noexcept {
    swap(o);
    return *this;
  }
  ~Tensor() {
    if (data_) ::operator delete(data_, std::align_val_t{tensor_alignment});
  }
  void swap(Tensor& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(bytes_, o.bytes_);
    std::swap(shape_, o.shape_);
    std::swap(format_, o.format_);
    std::swap(quant_, o.quant_);
  }

  const Shape& shape() const noexcept { return shape_; }
  Format format() const noexcept { return format_; }
  Layout layout() const noexcept { return format_.layout; }
  DType dtype() const noexcept { return format_.dtype; }
  QuantParams quant() const noexcept { return quant_; }
  void set_quant(QuantParams q) noexcept { quant_ = q; }
  std::int64_t numel() const noexcept { return shape_.numel(); }
  std::size_t size_bytes() const noexcept { return bytes_; }
  bool empty() const noexcept { return bytes_ == 0 && shape_.rank() == 0; }

  std::byte* bytes() noexcept { return data_; }
  const std::byte* bytes() const noexcept { return data_; }
  template <class T>
  T* data() noexcept {
    return reinterpret_cast<T*>(data_);
  }
  template <class T>
  const T* data() const noexcept {
    return reinterpret_cast<const T*>(data_);
  }
  /// The f32 elements in storage order.
  std::span<float> floats() noexcept { return {data<float>(), static_cast<std::size_t>(bytes_ / sizeof(float))}; }
  std::span<const float> floats() const noexcept {
    return {data<float>(), static_cast<std::size_t>(bytes_ / sizeof(float))};
  }

  TensorView view() noexcept { return {data_, shape_, format_, quant_}; }
  ConstTensorView view() const noexcept { return {data_, shape_, format_, quant_}; }
  operator TensorView() noexcept { return view(); }
  operator ConstTensorView() const noexcept { return view(); }

 private:
  std::byte* data_ = nullptr;
  std::size_t bytes_ = 0;
  Shape shape_;
  Format format_;
  QuantParams quant_;
};

}  // namespace primsel
