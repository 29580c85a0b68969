// The ONNX reader (in progress, issue 5): decodes the protobuf messages of an .onnx file with the bounds-checked
// wire reader of io/protobuf.hpp — no protobuf runtime, so primsel stays header-only. This part decodes
// TensorProto (initializers, Constant values); the ModelProto/GraphProto/NodeProto walk into a Graph follows.
// Nothing read is trusted: sizes are checked against the bytes actually present before anything is allocated.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "primsel/core/error.hpp"
#include "primsel/io/protobuf.hpp"

namespace primsel::io::onnx {

/// TensorProto.DataType values primsel reads.
enum class DataType : std::int32_t { float32 = 1, uint8 = 2, int8 = 3, int32 = 6, int64 = 7, float64 = 11 };

/// A decoded tensor: float data for float32/float64 (converted), int64 data for integer types (shapes, axes,
/// pads are int64 in ONNX). Exactly one of the two is filled.
struct TensorData {
  std::string name;
  std::vector<std::int64_t> dims;
  DataType type = DataType::float32;
  std::vector<float> floats;
  std::vector<std::int64_t> ints;

  std::int64_t elements() const {
    std::int64_t n = 1;
    for (std::int64_t d : dims) n *= d;
    return n;
  }
};

namespace detail {
inline std::size_t element_size(DataType t) {
  switch (t) {
    case DataType::uint8:
    case DataType::int8: return 1;
    case DataType::float32:
    case DataType::int32: return 4;
    case DataType::int64:
    case DataType::float64: return 8;
  }
  return 0;
}
inline bool is_float(DataType t) { return t == DataType::float32 || t == DataType::float64; }

}  // namespace detail

/// Decodes one TensorProto message. Errors name the tensor (when its name was read) and the byte offset.
inline Expected<TensorData> parse_tensor(proto::Reader r) {
  TensorData t;
  std::int32_t type = 0;
  std::string_view raw;
  bool has_raw = false, external = false;
  std::vector<double> doubles;
  std::size_t first_offset = 0;
  while (!r.done()) {
    PRIMSEL_ASSIGN_OR_RETURN(const proto::Field f, r.next());
    if (!first_offset) first_offset = f.offset;
    switch (f.number) {
      case 1: PRIMSEL_RETURN_IF_ERROR(proto::append_int64s(f, t.dims)); break;
      case 2: type = static_cast<std::int32_t>(f.value); break;
      case 4: PRIMSEL_RETURN_IF_ERROR(proto::append_floats(f, t.floats)); break;
      case 5:  // int32_data (also carries int8/uint8)
      case 7:  // int64_data
        PRIMSEL_RETURN_IF_ERROR(proto::append_int64s(f, t.ints));
        break;
      case 8: t.name.assign(f.bytes); break;
      case 9: raw = f.bytes, has_raw = true; break;
      case 10: {  // double_data: packed fixed64
        if (f.type == proto::WireType::fixed64) {
          doubles.push_back(f.as_double());
        } else if (f.type == proto::WireType::bytes && f.bytes.size() % 8 == 0) {
          for (std::size_t i = 0; i < f.bytes.size(); i += 8) doubles.push_back(proto::load_le<double>(f.bytes.data() + i));
        } else {
          return proto::wire_error(f.offset, "tensor '" + t.name + "': malformed double_data");
        }
        break;
      }
      case 14: external = f.value == 1; break;  // data_location EXTERNAL
      default: break;                           // doc_string, segment, ... : not needed
    }
  }
  const std::string what = "tensor '" + t.name + "'";
  PRIMSEL_CHECK(!external, ErrorCode::unsupported, what + " keeps its data in an external file; save the model with its weights inside");
  const auto dt = static_cast<DataType>(type);
  PRIMSEL_CHECK(detail::element_size(dt) != 0, ErrorCode::unsupported,
                what + " has data type " + std::to_string(type) + " (float32, float64, int8, uint8, int32, int64 are read)");
  t.type = dt;
  // Element count, checked for overflow and against what the file can hold before anything is allocated.
  std::int64_t n = 1;
  for (std::int64_t d : t.dims) {
    PRIMSEL_CHECK(d >= 0, ErrorCode::invalid_model, what + " has a negative dimension " + std::to_string(d));
    PRIMSEL_CHECK(d == 0 || n <= (std::int64_t{1} << 40) / d, ErrorCode::invalid_model, what + " has more than 2^40 elements");
    n *= d;
  }
  if (has_raw) {
    const auto want = static_cast<std::uint64_t>(n) * detail::element_size(dt);
    PRIMSEL_CHECK(raw.size() == want, ErrorCode::invalid_model,
                  what + " has " + std::to_string(raw.size()) + " bytes of raw_data, its dims need " + std::to_string(want));
    if (detail::is_float(dt)) {
      t.floats.resize(static_cast<std::size_t>(n));
      for (std::size_t i = 0; i < t.floats.size(); ++i)
        t.floats[i] = dt == DataType::float32 ? proto::load_le<float>(raw.data() + 4 * i)
                                              : static_cast<float>(proto::load_le<double>(raw.data() + 8 * i));
    } else {
      t.ints.resize(static_cast<std::size_t>(n));
      for (std::size_t i = 0; i < t.ints.size(); ++i) {
        const char* p = raw.data() + i * detail::element_size(dt);
        switch (dt) {
          case DataType::uint8: t.ints[i] = static_cast<std::uint8_t>(*p); break;
          case DataType::int8: t.ints[i] = proto::load_le<std::int8_t>(p); break;
          case DataType::int32: t.ints[i] = proto::load_le<std::int32_t>(p); break;
          default: t.ints[i] = proto::load_le<std::int64_t>(p); break;
        }
      }
    }
    return t;
  }
  if (dt == DataType::float64) {
    t.floats.assign(doubles.begin(), doubles.end());
  }
  const std::size_t have = detail::is_float(dt) ? t.floats.size() : t.ints.size();
  PRIMSEL_CHECK(static_cast<std::int64_t>(have) == n, ErrorCode::invalid_model,
                what + " holds " + std::to_string(have) + " values, its dims need " + std::to_string(n));
  PRIMSEL_CHECK(detail::is_float(dt) ? t.ints.empty() : t.floats.empty(), ErrorCode::invalid_model,
                what + " has data in a field that does not match its data type " + std::to_string(type));
  return t;
}

}  // namespace primsel::io::onnx
