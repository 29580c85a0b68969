// The ONNX messages primsel reads, decoded from protobuf wire bytes into plain structs: TensorProto,
// AttributeProto, NodeProto, ValueInfoProto, GraphProto, ModelProto (field numbers from onnx/onnx.proto). Decoding
// uses the bounds-checked wire reader of io/protobuf.hpp — no protobuf runtime, so primsel stays header-only and
// builds for firmware. Nothing read is trusted: every size is checked against the bytes actually present before
// anything is allocated, and errors name the byte offset and the message. io/onnx_import.hpp turns these into a Graph.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
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

// ---- the graph-level messages ----

/// AttributeProto. `type` is the AttributeType enum; files from before IR version 2 leave it 0, so the kind is
/// also told by which field was present (the has_* flags).
struct Attribute {
  enum Type : std::int32_t { undefined = 0, float_ = 1, int_ = 2, string = 3, tensor = 4, graph = 5, floats_ = 6, ints_ = 7 };
  std::string name;
  std::int32_t type = undefined;
  float f = 0.0f;
  std::int64_t i = 0;
  std::string s;
  std::optional<TensorData> t;
  std::vector<float> floats;
  std::vector<std::int64_t> ints;
  bool has_f = false, has_i = false, has_s = false, has_graph = false;
};

struct NodeProto {
  std::string name, op_type, domain;
  std::vector<std::string> inputs, outputs;  ///< "" marks an omitted optional input
  std::vector<Attribute> attributes;
  std::size_t offset = 0;  ///< where the node starts in the file, for errors about unnamed nodes

  const Attribute* attribute(std::string_view n) const {
    for (const Attribute& a : attributes)
      if (a.name == n) return &a;
    return nullptr;
  }
};

/// A tensor dimension: a fixed size, or a symbolic name (dim_param) / unknown (value -1).
struct Dim {
  std::int64_t value = -1;
  std::string param;
  bool has_value = false;  ///< dim_value was in the file (a 0 or negative one is an error, not a dynamic dim)
};

/// ValueInfoProto of a graph input or output (only tensor types matter here).
struct ValueInfo {
  std::string name;
  bool is_tensor = false;
  std::int32_t elem_type = 0;
  bool has_shape = false;
  std::vector<Dim> dims;
};

struct GraphProto {
  std::string name;
  std::vector<NodeProto> nodes;
  std::vector<TensorData> initializers;
  std::vector<ValueInfo> inputs, outputs;
  bool has_sparse_initializers = false;
};

struct ModelProto {
  std::int64_t ir_version = 0;
  std::string producer;                      ///< producer_name and version, for messages
  std::optional<std::int64_t> opset;         ///< the default ("" / "ai.onnx") domain's opset
  std::vector<std::string> other_domains;    ///< opset_import domains besides the default one
  GraphProto graph;
  bool has_graph = false;
};

namespace detail {

/// A string or sub-message field must be length-delimited; anything else is a corrupt file.
inline Status expect_bytes(const proto::Field& f, std::string_view what) {
  if (f.type != proto::WireType::bytes)
    return proto::wire_error(f.offset, std::string(what) + " (field " + std::to_string(f.number) + ") is not length-delimited");
  return {};
}
inline Status expect_varint(const proto::Field& f, std::string_view what) {
  if (f.type != proto::WireType::varint)
    return proto::wire_error(f.offset, std::string(what) + " (field " + std::to_string(f.number) + ") is not a varint");
  return {};
}

}  // namespace detail

inline Expected<Attribute> parse_attribute(proto::Reader r) {
  Attribute a;
  while (!r.done()) {
    PRIMSEL_ASSIGN_OR_RETURN(const proto::Field f, r.next());
    switch (f.number) {
      case 1: {
        PRIMSEL_RETURN_IF_ERROR(detail::expect_bytes(f, "attribute name"));
        a.name.assign(f.bytes);
        break;
      }
      case 2: {
        if (f.type != proto::WireType::fixed32) return proto::wire_error(f.offset, "attribute '" + a.name + "': f is not a fixed32");
        a.f = f.as_float(), a.has_f = true;
        break;
      }
      case 3: {
        PRIMSEL_RETURN_IF_ERROR(detail::expect_varint(f, "attribute i"));
        a.i = f.as_int64(), a.has_i = true;
        break;
      }
      case 4: {
        PRIMSEL_RETURN_IF_ERROR(detail::expect_bytes(f, "attribute s"));
        a.s.assign(f.bytes), a.has_s = true;
        break;
      }
      case 5: {
        PRIMSEL_RETURN_IF_ERROR(detail::expect_bytes(f, "attribute t"));
        PRIMSEL_ASSIGN_OR_RETURN(a.t, parse_tensor(proto::sub(f)));
        break;
      }
      case 6:
      case 11: a.has_graph = true; break;  // subgraphs (If/Loop bodies): never read; the op is refused later
      case 7: PRIMSEL_RETURN_IF_ERROR(proto::append_floats(f, a.floats)); break;
      case 8: PRIMSEL_RETURN_IF_ERROR(proto::append_int64s(f, a.ints)); break;
      case 20: {
        PRIMSEL_RETURN_IF_ERROR(detail::expect_varint(f, "attribute type"));
        a.type = static_cast<std::int32_t>(f.value);
        break;
      }
      default: break;  // doc_string, strings, tensors, ref_attr_name: nothing primsel reads
    }
  }
  return a;
}

inline Expected<NodeProto> parse_node(proto::Reader r, std::size_t offset) {
  NodeProto n;
  n.offset = offset;
  while (!r.done()) {
    PRIMSEL_ASSIGN_OR_RETURN(const proto::Field f, r.next());
    switch (f.number) {
      case 1:
      case 2:
      case 3:
      case 4:
      case 7: {
        PRIMSEL_RETURN_IF_ERROR(detail::expect_bytes(f, "node string"));
        if (f.number == 1) n.inputs.emplace_back(f.bytes);
        if (f.number == 2) n.outputs.emplace_back(f.bytes);
        if (f.number == 3) n.name.assign(f.bytes);
        if (f.number == 4) n.op_type.assign(f.bytes);
        if (f.number == 7) n.domain.assign(f.bytes);
        break;
      }
      case 5: {
        PRIMSEL_RETURN_IF_ERROR(detail::expect_bytes(f, "node attribute"));
        PRIMSEL_ASSIGN_OR_RETURN(Attribute a, parse_attribute(proto::sub(f)));
        n.attributes.push_back(std::move(a));
        break;
      }
      default: break;
    }
  }
  return n;
}

/// ValueInfoProto -> TypeProto -> TypeProto.Tensor -> TensorShapeProto -> Dimension.
inline Expected<ValueInfo> parse_value_info(proto::Reader r) {
  ValueInfo v;
  while (!r.done()) {
    PRIMSEL_ASSIGN_OR_RETURN(const proto::Field f, r.next());
    if (f.number == 1) {
      PRIMSEL_RETURN_IF_ERROR(detail::expect_bytes(f, "value name"));
      v.name.assign(f.bytes);
    } else if (f.number == 2) {
      PRIMSEL_RETURN_IF_ERROR(detail::expect_bytes(f, "value type"));
      for (proto::Reader type = proto::sub(f); !type.done();) {
        PRIMSEL_ASSIGN_OR_RETURN(const proto::Field tf, type.next());
        if (tf.number != 1) continue;  // sequence, map, optional, sparse types: not a tensor
        PRIMSEL_RETURN_IF_ERROR(detail::expect_bytes(tf, "tensor type"));
        v.is_tensor = true;
        for (proto::Reader tensor = proto::sub(tf); !tensor.done();) {
          PRIMSEL_ASSIGN_OR_RETURN(const proto::Field ef, tensor.next());
          if (ef.number == 1) {
            PRIMSEL_RETURN_IF_ERROR(detail::expect_varint(ef, "element type"));
            v.elem_type = static_cast<std::int32_t>(ef.value);
          } else if (ef.number == 2) {
            PRIMSEL_RETURN_IF_ERROR(detail::expect_bytes(ef, "tensor shape"));
            v.has_shape = true;
            for (proto::Reader shape = proto::sub(ef); !shape.done();) {
              PRIMSEL_ASSIGN_OR_RETURN(const proto::Field df, shape.next());
              if (df.number != 1) continue;
              PRIMSEL_RETURN_IF_ERROR(detail::expect_bytes(df, "dimension"));
              Dim d;
              for (proto::Reader dim = proto::sub(df); !dim.done();) {
                PRIMSEL_ASSIGN_OR_RETURN(const proto::Field xf, dim.next());
                if (xf.number == 1) {
                  PRIMSEL_RETURN_IF_ERROR(detail::expect_varint(xf, "dim_value"));
                  d.value = xf.as_int64();
                  d.has_value = true;
                } else if (xf.number == 2) {
                  PRIMSEL_RETURN_IF_ERROR(detail::expect_bytes(xf, "dim_param"));
                  d.param.assign(xf.bytes);
                }
              }
              v.dims.push_back(std::move(d));
            }
          }
        }
      }
    }
  }
  return v;
}

inline Expected<GraphProto> parse_graph(proto::Reader r) {
  GraphProto g;
  while (!r.done()) {
    PRIMSEL_ASSIGN_OR_RETURN(const proto::Field f, r.next());
    switch (f.number) {
      case 1: {
        PRIMSEL_RETURN_IF_ERROR(detail::expect_bytes(f, "node"));
        PRIMSEL_ASSIGN_OR_RETURN(NodeProto n, parse_node(proto::sub(f), f.offset));
        g.nodes.push_back(std::move(n));
        break;
      }
      case 2: {
        PRIMSEL_RETURN_IF_ERROR(detail::expect_bytes(f, "graph name"));
        g.name.assign(f.bytes);
        break;
      }
      case 5: {
        PRIMSEL_RETURN_IF_ERROR(detail::expect_bytes(f, "initializer"));
        PRIMSEL_ASSIGN_OR_RETURN(TensorData t, parse_tensor(proto::sub(f)));
        g.initializers.push_back(std::move(t));
        break;
      }
      case 11:
      case 12: {
        PRIMSEL_RETURN_IF_ERROR(detail::expect_bytes(f, "graph input/output"));
        PRIMSEL_ASSIGN_OR_RETURN(ValueInfo v, parse_value_info(proto::sub(f)));
        (f.number == 11 ? g.inputs : g.outputs).push_back(std::move(v));
        break;
      }
      case 15: g.has_sparse_initializers = true; break;
      default: break;  // doc_string, value_info (shapes are inferred), quantization annotations
    }
  }
  return g;
}

inline Expected<ModelProto> parse_model_proto(std::string_view bytes) {
  ModelProto m;
  for (proto::Reader r(bytes); !r.done();) {
    PRIMSEL_ASSIGN_OR_RETURN(const proto::Field f, r.next());
    switch (f.number) {
      case 1: {
        PRIMSEL_RETURN_IF_ERROR(detail::expect_varint(f, "ir_version"));
        m.ir_version = f.as_int64();
        break;
      }
      case 2:
      case 3: {
        PRIMSEL_RETURN_IF_ERROR(detail::expect_bytes(f, "producer"));
        if (!m.producer.empty()) m.producer += ' ';
        m.producer.append(f.bytes);
        break;
      }
      case 7: {
        PRIMSEL_RETURN_IF_ERROR(detail::expect_bytes(f, "graph"));
        PRIMSEL_ASSIGN_OR_RETURN(m.graph, parse_graph(proto::sub(f)));
        m.has_graph = true;
        break;
      }
      case 8: {
        PRIMSEL_RETURN_IF_ERROR(detail::expect_bytes(f, "opset_import"));
        std::string domain;
        std::int64_t version = 0;
        for (proto::Reader o = proto::sub(f); !o.done();) {
          PRIMSEL_ASSIGN_OR_RETURN(const proto::Field of, o.next());
          if (of.number == 1) {
            PRIMSEL_RETURN_IF_ERROR(detail::expect_bytes(of, "opset domain"));
            domain.assign(of.bytes);
          } else if (of.number == 2) {
            PRIMSEL_RETURN_IF_ERROR(detail::expect_varint(of, "opset version"));
            version = of.as_int64();
          }
        }
        if (domain.empty() || domain == "ai.onnx")
          m.opset = version;
        else
          m.other_domains.push_back(domain);
        break;
      }
      default: break;  // domain, model_version, doc_string, metadata, training info, functions
    }
  }
  return m;
}

}  // namespace primsel::io::onnx
