// Builds ONNX ModelProto bytes field by field for tests, so a test can state exactly the (valid or broken) model
// it feeds the reader — wire details included — without depending on the writer under test.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "primsel/io/protobuf.hpp"

namespace onnx_bytes {

using primsel::io::proto::Writer;

inline std::string packed(const std::vector<std::int64_t>& v) {
  std::string s;
  for (std::int64_t x : v) s += Writer::varint_bytes(static_cast<std::uint64_t>(x));
  return s;
}

inline std::string float_tensor(const std::string& name, const std::vector<std::int64_t>& dims, const std::vector<float>& values) {
  std::string raw(values.size() * 4, '\0');
  for (std::size_t i = 0; i < values.size(); ++i) {
    std::uint32_t bits;
    std::memcpy(&bits, &values[i], 4);
    for (int b = 0; b < 4; ++b) raw[i * 4 + static_cast<std::size_t>(b)] = static_cast<char>((bits >> (8 * b)) & 0xff);
  }
  Writer w;
  w.bytes(1, packed(dims)).varint(2, 1).bytes(8, name).bytes(9, raw);
  return w.str();
}
inline std::string int_tensor(const std::string& name, const std::vector<std::int64_t>& dims, const std::vector<std::int64_t>& values) {
  Writer w;
  w.bytes(1, packed(dims)).varint(2, 7).bytes(8, name).bytes(7, packed(values));
  return w.str();
}

inline std::string attr_int(const std::string& name, std::int64_t v) {
  Writer w;
  w.bytes(1, name).varint(3, static_cast<std::uint64_t>(v)).varint(20, 2);
  return w.str();
}
inline std::string attr_ints(const std::string& name, const std::vector<std::int64_t>& v) {
  Writer w;
  w.bytes(1, name).bytes(8, packed(v)).varint(20, 7);
  return w.str();
}
inline std::string attr_float(const std::string& name, float v) {
  Writer w;
  w.bytes(1, name).fixed32(2, v).varint(20, 1);
  return w.str();
}
inline std::string attr_string(const std::string& name, const std::string& v) {
  Writer w;
  w.bytes(1, name).bytes(4, v).varint(20, 3);
  return w.str();
}
inline std::string attr_tensor(const std::string& name, const std::string& tensor) {
  Writer w;
  w.bytes(1, name).bytes(5, tensor).varint(20, 4);
  return w.str();
}

inline std::string node(const std::string& op, const std::vector<std::string>& inputs, const std::vector<std::string>& outputs,
                        const std::vector<std::string>& attrs = {}, const std::string& name = "", const std::string& domain = "") {
  Writer w;
  for (const auto& i : inputs) w.bytes(1, i);
  for (const auto& o : outputs) w.bytes(2, o);
  if (!name.empty()) w.bytes(3, name);
  w.bytes(4, op);
  for (const auto& a : attrs) w.bytes(5, a);
  if (!domain.empty()) w.bytes(7, domain);
  return w.str();
}

/// A float tensor value; a negative dim is symbolic, named by `param`.
inline std::string value_info(const std::string& name, const std::vector<std::int64_t>& dims, const std::string& param = "N",
                              std::int64_t elem_type = 1) {
  Writer shape;
  for (std::int64_t d : dims) {
    Writer dim;
    if (d >= 0)
      dim.varint(1, static_cast<std::uint64_t>(d));
    else
      dim.bytes(2, param);
    shape.bytes(1, dim.str());
  }
  Writer tensor;
  tensor.varint(1, static_cast<std::uint64_t>(elem_type)).bytes(2, shape.str());
  Writer type;
  type.bytes(1, tensor.str());
  Writer w;
  w.bytes(1, name).bytes(2, type.str());
  return w.str();
}

inline std::string graph(const std::vector<std::string>& nodes, const std::vector<std::string>& initializers,
                         const std::vector<std::string>& inputs, const std::vector<std::string>& outputs) {
  Writer w;
  for (const auto& n : nodes) w.bytes(1, n);
  w.bytes(2, "test");
  for (const auto& t : initializers) w.bytes(5, t);
  for (const auto& i : inputs) w.bytes(11, i);
  for (const auto& o : outputs) w.bytes(12, o);
  return w.str();
}

inline std::string model(const std::string& graph_bytes, std::int64_t opset = 13, const std::string& domain = "") {
  Writer opset_id;
  if (!domain.empty()) opset_id.bytes(1, domain);
  opset_id.varint(2, static_cast<std::uint64_t>(opset));
  Writer w;
  w.varint(1, 8).bytes(2, "primsel-test").bytes(7, graph_bytes).bytes(8, opset_id.str());
  return w.str();
}

}  // namespace onnx_bytes
