// Shape: the logical dimensions of a tensor, a small fixed-capacity value type (no heap, usable in firmware).
// 4-D activations are always described in NCHW order, whatever their physical layout (see layout.hpp).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>

namespace primsel {

class Shape {
 public:
  static constexpr int max_rank = 6;

  constexpr Shape() = default;
  constexpr Shape(std::initializer_list<std::int64_t> dims) {
    // Callers with untrusted data use from_dims(); literal shapes beyond max_rank are a programming error.
    for (std::int64_t d : dims) dims_[static_cast<std::size_t>(rank_ < max_rank ? rank_++ : rank_)] = d;
  }
  /// Builds from a range of dims; returns false in `ok` when there are more than max_rank.
  template <class It>
  static constexpr Shape from_dims(It first, It last, bool* ok = nullptr) {
    Shape s;
    bool fits = true;
    for (; first != last; ++first) {
      if (s.rank_ == max_rank) {
        fits = false;
        break;
      }
      s.dims_[static_cast<std::size_t>(s.rank_++)] = static_cast<std::int64_t>(*first);
    }
    if (ok) *ok = fits;
    return s;
  }

  constexpr int rank() const noexcept { return rank_; }
  constexpr std::int64_t operator[](int i) const noexcept { return dims_[static_cast<std::size_t>(i)]; }
  constexpr std::int64_t& operator[](int i) noexcept { return dims_[static_cast<std::size_t>(i)]; }
  constexpr const std::int64_t* begin() const noexcept { return dims_.data(); }
  constexpr const std::int64_t* end() const noexcept { return dims_.data() + rank_; }

  /// Product of the dims (1 for a scalar). Callers validate dims first; see checked_numel for untrusted input.
  constexpr std::int64_t numel() const noexcept {
    std::int64_t n = 1;
    for (int i = 0; i < rank_; ++i) n *= dims_[static_cast<std::size_t>(i)];
    return n;
  }
  /// Product of the dims, or -1 if any dim is negative or the product exceeds `limit`.
  constexpr std::int64_t checked_numel(std::int64_t limit = std::int64_t{1} << 40) const noexcept {
    std::int64_t n = 1;
    for (int i = 0; i < rank_; ++i) {
      const std::int64_t d = dims_[static_cast<std::size_t>(i)];
      if (d < 0) return -1;
      if (d != 0 && n > limit / d) return -1;
      n *= d;
    }
    return n;
  }

  constexpr void push_back(std::int64_t d) noexcept {
    if (rank_ < max_rank) dims_[static_cast<std::size_t>(rank_++)] = d;
  }

  // NCHW accessors for 4-D activations.
  constexpr std::int64_t n() const noexcept { return dims_[0]; }
  constexpr std::int64_t c() const noexcept { return dims_[1]; }
  constexpr std::int64_t h() const noexcept { return dims_[2]; }
  constexpr std::int64_t w() const noexcept { return dims_[3]; }

  friend constexpr bool operator==(const Shape& a, const Shape& b) noexcept {
    return a.rank_ == b.rank_ && std::equal(a.begin(), a.end(), b.begin());
  }

 private:
  std::array<std::int64_t, max_rank> dims_{};
  int rank_ = 0;
};

/// "1x3x224x224"; a scalar prints as "scalar".
inline std::string to_string(const Shape& s) {
  if (s.rank() == 0) return "scalar";
  std::string out;
  for (int i = 0; i < s.rank(); ++i) {
    if (i) out += 'x';
    out += std::to_string(s[i]);
  }
  return out;
}

}  // namespace primsel

template <>
struct std::hash<primsel::Shape> {
  std::size_t operator()(const primsel::Shape& s) const noexcept {
    std::size_t h = static_cast<std::size_t>(s.rank());
    for (std::int64_t d : s) h = h * 1000003u ^ std::hash<std::int64_t>{}(d);
    return h;
  }
};
