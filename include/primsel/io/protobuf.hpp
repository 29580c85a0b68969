// A bounds-checked reader of the protobuf wire format, enough for ONNX files: varints, 32/64-bit fixed values and
// length-delimited fields, plus the packed repeated encodings. Written here rather than depending on the protobuf
// runtime so primsel stays header-only (and firmware-friendly); nothing read is trusted — every length is checked
// against what remains, every varint against overflow, and every error names the byte offset in the file.
//
//   proto::Reader r(bytes);
//   while (!r.done()) {
//     PRIMSEL_ASSIGN_OR_RETURN(proto::Field f, r.next());
//     if (f.number == 7 && f.type == proto::WireType::bytes) parse_graph(f.sub());   // a nested message
//   }
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "primsel/core/error.hpp"

namespace primsel::io::proto {

enum class WireType : std::uint8_t { varint = 0, fixed64 = 1, bytes = 2, fixed32 = 5 };

/// One field as read: its number and wire type, its scalar value (varint, fixed32, fixed64 bits) or its bytes.
struct Field {
  std::uint32_t number = 0;
  WireType type = WireType::varint;
  std::uint64_t value = 0;     ///< varint / fixed32 / fixed64 payload
  std::string_view bytes;      ///< length-delimited payload
  std::size_t offset = 0;      ///< file offset of the payload (for errors in nested messages)

  std::int64_t as_int64() const noexcept { return static_cast<std::int64_t>(value); }
  float as_float() const noexcept {
    const auto bits = static_cast<std::uint32_t>(value);
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
  }
  double as_double() const noexcept {
    double d;
    std::memcpy(&d, &value, sizeof d);
    return d;
  }
};

/// A little-endian value of type T (1, 4 or 8 bytes) at p, whatever the host's byte order.
template <class T>
T load_le(const char* p) noexcept {
  static_assert(sizeof(T) == 1 || sizeof(T) == 4 || sizeof(T) == 8);
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) v |= static_cast<std::uint64_t>(static_cast<std::uint8_t>(p[i])) << (8 * i);
  T out;
  if constexpr (sizeof(T) == 8) {
    std::memcpy(&out, &v, 8);
  } else if constexpr (sizeof(T) == 4) {
    const auto v32 = static_cast<std::uint32_t>(v);
    std::memcpy(&out, &v32, 4);
  } else {
    const auto v8 = static_cast<std::uint8_t>(v);
    std::memcpy(&out, &v8, 1);
  }
  return out;
}

inline Error wire_error(std::size_t offset, const std::string& what) {
  return Error(ErrorCode::invalid_model, "corrupt protobuf at byte " + std::to_string(offset) + ": " + what);
}

/// Reads a base-128 varint at data[pos], advancing pos. At most 10 bytes, the 10th contributing one bit.
inline Expected<std::uint64_t> read_varint(std::string_view data, std::size_t& pos, std::size_t base = 0) {
  const std::size_t start = pos;
  std::uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (pos >= data.size()) return wire_error(base + start, "varint runs past the end of its message");
    const auto byte = static_cast<std::uint8_t>(data[pos++]);
    if (shift == 63 && byte > 1) return wire_error(base + start, "varint overflows 64 bits");
    v |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
    if (!(byte & 0x80)) return v;
  }
  return wire_error(base + start, "varint longer than 10 bytes");
}

/// Fields of one message, in file order. `base` is the message's offset in the file (for error messages).
class Reader {
 public:
  explicit Reader(std::string_view data, std::size_t base = 0) noexcept : data_(data), base_(base) {}

  bool done() const noexcept { return pos_ >= data_.size(); }

  Expected<Field> next() {
    const std::size_t at = pos_;
    PRIMSEL_ASSIGN_OR_RETURN(const std::uint64_t key, read_varint(data_, pos_, base_));
    Field f;
    const std::uint64_t number = key >> 3;
    if (number == 0 || number > 0x1fffffff) return wire_error(base_ + at, "invalid field number " + std::to_string(number));
    f.number = static_cast<std::uint32_t>(number);
    switch (key & 7) {
      case 0: {
        f.type = WireType::varint;
        PRIMSEL_ASSIGN_OR_RETURN(f.value, read_varint(data_, pos_, base_));
        break;
      }
      case 1:
      case 5: {
        const std::size_t width = (key & 7) == 1 ? 8 : 4;
        f.type = width == 8 ? WireType::fixed64 : WireType::fixed32;
        if (data_.size() - pos_ < width)
          return wire_error(base_ + pos_, "field " + std::to_string(number) + " needs " + std::to_string(width) +
                                              " bytes, " + std::to_string(data_.size() - pos_) + " remain");
        f.value = width == 8 ? load_le<std::uint64_t>(data_.data() + pos_) : load_le<std::uint32_t>(data_.data() + pos_);
        pos_ += width;
        break;
      }
      case 2: {
        f.type = WireType::bytes;
        const std::size_t len_at = pos_;
        PRIMSEL_ASSIGN_OR_RETURN(const std::uint64_t len, read_varint(data_, pos_, base_));
        if (len > data_.size() - pos_)
          return wire_error(base_ + len_at, "field " + std::to_string(number) + " claims " + std::to_string(len) +
                                                " bytes, " + std::to_string(data_.size() - pos_) + " remain");
        f.offset = base_ + pos_;
        f.bytes = data_.substr(pos_, static_cast<std::size_t>(len));
        pos_ += static_cast<std::size_t>(len);
        return f;
      }
      case 3:
      case 4:
        return wire_error(base_ + at, "field " + std::to_string(number) + " uses groups (wire type " +
                                          std::to_string(key & 7) + "), which ONNX never does");
      default:
        return wire_error(base_ + at, "field " + std::to_string(number) + " has invalid wire type " + std::to_string(key & 7));
    }
    f.offset = base_ + at;
    return f;
  }

 private:
  std::string_view data_;
  std::size_t base_ = 0;
  std::size_t pos_ = 0;
};

/// A nested message's reader.
inline Reader sub(const Field& f) noexcept { return Reader(f.bytes, f.offset); }

/// Appends a repeated int64 field, packed (one length-delimited run of varints) or not (one varint per field).
inline Status append_int64s(const Field& f, std::vector<std::int64_t>& out) {
  if (f.type == WireType::varint) {
    out.push_back(f.as_int64());
    return {};
  }
  if (f.type != WireType::bytes) return wire_error(f.offset, "an integer list has wire type " + std::to_string(static_cast<int>(f.type)));
  for (std::size_t pos = 0; pos < f.bytes.size();) {
    PRIMSEL_ASSIGN_OR_RETURN(const std::uint64_t v, read_varint(f.bytes, pos, f.offset));
    out.push_back(static_cast<std::int64_t>(v));
  }
  return {};
}

/// Appends a repeated float field, packed (a run of little-endian fixed32) or not.
inline Status append_floats(const Field& f, std::vector<float>& out) {
  if (f.type == WireType::fixed32) {
    out.push_back(f.as_float());
    return {};
  }
  if (f.type != WireType::bytes) return wire_error(f.offset, "a float list has wire type " + std::to_string(static_cast<int>(f.type)));
  if (f.bytes.size() % 4 != 0)
    return wire_error(f.offset, "a packed float list of " + std::to_string(f.bytes.size()) + " bytes is not a multiple of 4");
  const std::size_t n = f.bytes.size() / 4;
  const std::size_t old = out.size();
  out.resize(old + n);
  for (std::size_t i = 0; i < n; ++i) out[old + i] = load_le<float>(f.bytes.data() + i * 4);
  return {};
}

/// The other direction, for writing models and building test inputs: appends encoded fields to a string.
class Writer {
 public:
  Writer& varint(std::uint32_t number, std::uint64_t v) {
    key(number, 0);
    put_varint(v);
    return *this;
  }
  Writer& fixed32(std::uint32_t number, float v) {
    key(number, 5);
    std::uint32_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    for (int i = 0; i < 4; ++i) out_ += static_cast<char>((bits >> (8 * i)) & 0xff);
    return *this;
  }
  Writer& bytes(std::uint32_t number, std::string_view payload) {
    key(number, 2);
    put_varint(payload.size());
    out_.append(payload);
    return *this;
  }
  const std::string& str() const noexcept { return out_; }

  static std::string varint_bytes(std::uint64_t v) {
    Writer w;
    w.put_varint(v);
    return w.out_;
  }

 private:
  void key(std::uint32_t number, std::uint32_t wire) { put_varint((static_cast<std::uint64_t>(number) << 3) | wire); }
  void put_varint(std::uint64_t v) {
    while (v >= 0x80) {
      out_ += static_cast<char>((v & 0x7f) | 0x80);
      v >>= 7;
    }
    out_ += static_cast<char>(v);
  }
  std::string out_;
};

}  // namespace primsel::io::proto
