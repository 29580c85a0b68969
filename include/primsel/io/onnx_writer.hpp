// The ONNX writer: serialises a finalized Graph as a standard ONNX model (opset 13, IR version 7 by default) with
// the wire encoder of io/protobuf.hpp, so tests can round-trip graphs through the reader, and zoo models or
// optimized graphs can be exported to other runtimes. Fused activations are written back as Relu/Clip nodes;
// weights are spliced from their tensors into the file (or string) without intermediate copies.
//
//   Status s = io::onnx::save_model(*zoo::build("resnet18"), "resnet18.onnx");
#pragma once

#include <bit>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

#include "primsel/core/error.hpp"
#include "primsel/core/layout_convert.hpp"
#include "primsel/core/tensor.hpp"
#include "primsel/graph/graph.hpp"
#include "primsel/io/onnx.hpp"
#include "primsel/io/protobuf.hpp"
#include "primsel/version.hpp"

namespace primsel::io::onnx {

/// The default-domain opsets the writer emits. Below 13, Softmax meant something else (a softmax over the
/// flattened trailing axes) and Clip/Pad took attributes; the ops primsel writes keep their semantics up to 21.
inline constexpr std::int64_t min_write_opset = 13;
inline constexpr std::int64_t max_write_opset = 21;

struct WriteOptions {
  std::int64_t opset = 13;           ///< opset_import of the default domain, min_write_opset..max_write_opset
  std::string producer = "primsel";  ///< ModelProto.producer_name (producer_version is primsel's version)
};

namespace write_detail {

// ONNX enums (onnx.proto) the writer needs besides DataType.
enum AttributeType : std::uint64_t { attr_float = 1, attr_int = 2, attr_string = 3, attr_ints = 7 };

/// protobuf refuses to parse a message of 2 GiB or more; ONNX then needs external data, which is not written.
inline constexpr std::size_t max_model_bytes = std::numeric_limits<std::int32_t>::max();

/// IR version of the ONNX release that introduced `opset` (onnx.helper.VERSION_TABLE).
constexpr std::int64_t ir_version_for(std::int64_t opset) noexcept {
  return opset <= 14 ? 7 : opset <= 18 ? 8 : opset <= 20 ? 9 : 10;
}

/// Encoded bytes whose weights stay in their tensors until the final copy: `owned` holds every byte but those, and
/// each view is spliced in at its offset of `owned`. Writing a 500 MB model then copies the weights once.
struct Bytes {
  std::string owned;
  std::vector<std::pair<std::size_t, std::string_view>> views;
  std::size_t view_bytes = 0;

  std::size_t size() const noexcept { return owned.size() + view_bytes; }
  void add(std::string_view s) { owned.append(s); }
  void add_view(std::string_view v) {
    views.emplace_back(owned.size(), v);
    view_bytes += v.size();
  }
  void add(const Bytes& b) {
    for (const auto& [at, v] : b.views) views.emplace_back(owned.size() + at, v);
    view_bytes += b.view_bytes;
    owned.append(b.owned);
  }
  /// Calls sink(piece) for each piece in order; stops at the first false.
  template <class Sink>
  bool for_each_piece(Sink&& sink) const {
    std::size_t at = 0;
    for (const auto& [offset, v] : views) {
      if (!sink(std::string_view(owned).substr(at, offset - at)) || !sink(v)) return false;
      at = offset;
    }
    return sink(std::string_view(owned).substr(at));
  }
};

/// The key and length of a length-delimited field whose payload is appended separately.
inline std::string field_header(std::uint32_t number, std::size_t length) {
  return proto::Writer::varint_bytes((static_cast<std::uint64_t>(number) << 3) | 2) +
         proto::Writer::varint_bytes(length);
}

/// A packed repeated int64 payload (negative values take ten bytes, as protobuf's int64 does).
inline std::string packed_int64s(std::span<const std::int64_t> values) {
  std::string out;
  for (std::int64_t v : values) out += proto::Writer::varint_bytes(static_cast<std::uint64_t>(v));
  return out;
}

/// Appends `v` in little-endian byte order, whatever the host's.
template <class T>
void put_le(std::string& out, T v) {
  static_assert(sizeof(T) == 4 || sizeof(T) == 8);
  std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t> bits;
  std::memcpy(&bits, &v, sizeof bits);
  for (std::size_t i = 0; i < sizeof bits; ++i) out += static_cast<char>((bits >> (8 * i)) & 0xff);
}

inline std::string attribute_int(std::string_view name, std::int64_t v) {
  proto::Writer w;
  w.bytes(1, name).varint(20, attr_int).varint(3, static_cast<std::uint64_t>(v));
  return w.str();
}
inline std::string attribute_float(std::string_view name, float v) {
  proto::Writer w;
  w.bytes(1, name).varint(20, attr_float).fixed32(2, v);
  return w.str();
}
inline std::string attribute_ints(std::string_view name, std::span<const std::int64_t> v) {
  proto::Writer w;
  w.bytes(1, name).varint(20, attr_ints).bytes(8, packed_int64s(v));
  return w.str();
}
inline std::string attribute_string(std::string_view name, std::string_view v) {
  proto::Writer w;
  w.bytes(1, name).varint(20, attr_string).bytes(4, v);
  return w.str();
}

/// TensorProto fields before raw_data: dims, data_type, name.
inline std::string tensor_header(std::string_view name, std::span<const std::int64_t> dims, DataType type) {
  proto::Writer w;
  if (!dims.empty()) w.bytes(1, packed_int64s(dims));
  w.varint(2, static_cast<std::uint64_t>(type)).bytes(8, name);
  return w.str();
}

/// A ValueInfoProto: name and a float tensor type with static dims.
inline std::string value_info(std::string_view name, const Shape& shape) {
  proto::Writer dims;
  for (std::int64_t d : shape) {
    proto::Writer dim;
    dim.varint(1, static_cast<std::uint64_t>(d));
    dims.bytes(1, dim.str());
  }
  // The shape is always present: an empty one means rank 0 (a scalar), a missing one an unknown rank.
  proto::Writer tensor;
  tensor.varint(1, static_cast<std::uint64_t>(DataType::float32)).bytes(2, dims.str());
  proto::Writer type;
  type.bytes(1, tensor.str());
  proto::Writer vi;
  vi.bytes(1, name).bytes(2, type.str());
  return vi.str();
}

template <class P>
inline constexpr std::size_t index_of = OpParams(std::in_place_type<P>).index();

/// The alternatives of OpParams by index, for messages.
inline constexpr std::string_view params_names[] = {"no",         "ConvParams", "PoolParams",    "GemmParams",
                                                    "ClipParams", "AxisParams", "ReshapeParams", "BatchNormParams",
                                                    "PadParams"};
static_assert(std::size(params_names) == std::variant_size_v<OpParams> && index_of<PadParams> == 8);

/// The index into OpParams of the parameters an op carries; 0 (monostate) for ops without attributes.
constexpr std::size_t params_index(OpKind k) noexcept {
  switch (k) {
    case OpKind::Conv:
      return index_of<ConvParams>;
    case OpKind::MaxPool:
    case OpKind::AveragePool:
      return index_of<PoolParams>;
    case OpKind::Gemm:
      return index_of<GemmParams>;
    case OpKind::Clip:
      return index_of<ClipParams>;
    case OpKind::Concat:
    case OpKind::Flatten:
    case OpKind::Softmax:
      return index_of<AxisParams>;
    case OpKind::Reshape:
      return index_of<ReshapeParams>;
    case OpKind::BatchNormalization:
      return index_of<BatchNormParams>;
    case OpKind::Pad:
      return index_of<PadParams>;
    default:
      return index_of<std::monostate>;
  }
}

/// The graph walk: one ONNX node per primsel node (two for a fused activation), initializers for the constants it
/// reads and for the attribute-like inputs ONNX wants (Clip bounds, Reshape shape, Pad pads and value).
class GraphEncoder {
 public:
  explicit GraphEncoder(const Graph& g) : g_(g), constant_written_(g.values().size(), false) {}

  Expected<Bytes> encode() {
    PRIMSEL_RETURN_IF_ERROR(check_names());
    for (const Node& n : g_.nodes()) PRIMSEL_RETURN_IF_ERROR(write_node(n));
    for (ValueId v : g_.outputs())
      if (g_.value(v).is_constant()) PRIMSEL_RETURN_IF_ERROR(write_constant(v, nullptr));

    proto::Writer io;
    for (ValueId v : g_.inputs()) {
      const Value& val = g_.value(v);
      PRIMSEL_CHECK(val.dtype == DType::f32, ErrorCode::unsupported,
                    "graph input '" + val.name + "' has dtype " + std::string(to_string(val.dtype)) +
                        "; the ONNX ops primsel writes take float32");
      io.bytes(11, value_info(val.name, val.shape));
    }
    std::vector<bool> is_output(g_.values().size(), false);
    for (ValueId v : g_.outputs()) {
      io.bytes(12, value_info(g_.value(v).name, g_.value(v).shape));
      is_output[static_cast<std::size_t>(v)] = true;
    }
    // Intermediate shapes, so other tools (and ONNX's checker) see what primsel inferred.
    for (const Node& n : g_.nodes())
      if (!is_output[static_cast<std::size_t>(n.outputs[0])])
        io.bytes(13, value_info(g_.value(n.outputs[0]).name, g_.value(n.outputs[0]).shape));
    for (const auto& [name, shape] : extra_value_info_) io.bytes(13, value_info(name, shape));

    Bytes graph;
    graph.add(nodes_);
    proto::Writer name;
    name.bytes(2, g_.name());
    graph.add(name.str());
    graph.add(initializers_);
    graph.add(io.str());
    return graph;
  }

 private:
  ErrorContext context(const Node& n) const { return g_.context_of(n); }

  /// Written value names must be unique and non-empty (ONNX is SSA and reads "" as an omitted input); every name
  /// in the graph is reserved, so generated names cannot shadow one.
  Status check_names() {
    read_.assign(g_.values().size(), false);
    for (ValueId v : g_.outputs()) read_[static_cast<std::size_t>(v)] = true;
    for (const Node& n : g_.nodes())
      for (ValueId v : n.inputs)
        if (v != no_value) read_[static_cast<std::size_t>(v)] = true;
    std::vector<bool> written(g_.values().size(), false);
    for (ValueId v : g_.inputs()) written[static_cast<std::size_t>(v)] = true;
    for (ValueId v : g_.outputs()) written[static_cast<std::size_t>(v)] = true;
    for (const Node& n : g_.nodes()) {
      for (std::size_t i = 0; i < n.inputs.size(); ++i)
        if (n.inputs[i] != no_value && !(n.op == OpKind::Dropout && i > 0))
          written[static_cast<std::size_t>(n.inputs[i])] = true;
      for (ValueId o : n.outputs) written[static_cast<std::size_t>(o)] = true;
    }
    for (std::size_t v = 0; v < written.size(); ++v) {
      if (!written[v]) continue;
      const Value& val = g_.values()[v];
      auto fail = [&](const std::string& msg) {
        return Error(ErrorCode::invalid_model, msg,
                     val.producer >= 0 ? context(g_.nodes()[static_cast<std::size_t>(val.producer)]) : ErrorContext{});
      };
      if (val.name.empty())
        return fail(std::string(val.producer >= 0   ? "the output"
                                : val.is_constant() ? "a constant"
                                                    : "a graph input") +
                    " has an empty name; ONNX reads \"\" as an omitted input");
      if (!value_names_.insert(val.name).second)
        return fail("two values are named '" + val.name + "'; ONNX value names must be unique");
    }
    for (const Value& val : g_.values()) value_names_.insert(val.name);
    for (const Node& n : g_.nodes()) node_names_.insert(n.name);
    return {};
  }

  /// ONNX node names are unique too: a node keeps its name unless an earlier node took it; generated nodes (fused
  /// activations) never take a name the graph uses.
  std::string node_name(const std::string& name) {
    if (name.empty() || emitted_nodes_.insert(name).second) return name;
    return generated_node_name(name);
  }
  std::string generated_node_name(const std::string& base) {
    std::string name = unique(node_names_, base);
    emitted_nodes_.insert(name);
    return name;
  }

  /// `base`, or `base_1`, `base_2`, ... : the first not yet taken in `taken`, which then holds it. Suffixes resume
  /// where the last call for `base` stopped, so a thousand nodes named alike stay linear.
  std::string unique(std::unordered_set<std::string>& taken, const std::string& base) {
    if (taken.insert(base).second) return base;
    int& k = next_suffix_[base];
    std::string name;
    do name = base + "_" + std::to_string(++k);
    while (!taken.insert(name).second);
    return name;
  }

  void emit(std::string_view op_type, const std::string& name, std::vector<std::string> inputs,
            const std::vector<std::string>& outputs, const std::vector<std::string>& attributes = {}) {
    while (!inputs.empty() && inputs.back().empty()) inputs.pop_back();  // trailing omitted optionals
    proto::Writer w;
    for (const std::string& i : inputs) w.bytes(1, i);
    for (const std::string& o : outputs) w.bytes(2, o);
    if (!name.empty()) w.bytes(3, name);
    w.bytes(4, op_type);
    for (const std::string& a : attributes) w.bytes(5, a);
    nodes_ += field_header(1, w.str().size());
    nodes_ += w.str();
  }

  /// An initializer from a graph constant, once; its name goes to `name` when given.
  Status write_constant(ValueId v, std::string* name) {
    const Value& val = g_.value(v);
    if (name) *name = val.name;
    if (constant_written_[static_cast<std::size_t>(v)]) return {};
    constant_written_[static_cast<std::size_t>(v)] = true;
    const Tensor& t = *val.constant;
    PRIMSEL_CHECK(t.dtype() == DType::f32, ErrorCode::unsupported,
                  "constant '" + val.name + "' has dtype " + std::string(to_string(t.dtype())) +
                      "; the ONNX ops primsel writes take float32 (dequantise it first)");
    const std::vector<std::int64_t> dims(t.shape().begin(), t.shape().end());
    const std::size_t raw_bytes = static_cast<std::size_t>(t.numel()) * sizeof(float);
    const std::string header = tensor_header(val.name, dims, DataType::float32);
    const std::string raw_key = field_header(9, raw_bytes);
    initializers_.add(field_header(5, header.size() + raw_key.size() + raw_bytes));
    initializers_.add(header);
    initializers_.add(raw_key);
    if (t.layout() == Layout::nchw && std::endian::native == std::endian::little) {
      initializers_.add_view(std::string_view(reinterpret_cast<const char*>(t.bytes()), raw_bytes));
      return {};
    }
    // Blocked layouts (and big-endian hosts) need a rewrite into plain little-endian floats.
    Tensor plain;
    if (t.layout() != Layout::nchw) {
      auto converted = to_layout(t, Layout::nchw);
      if (!converted) return std::move(converted).error();
      plain = std::move(*converted);
    }
    const Tensor& src = t.layout() == Layout::nchw ? t : plain;
    std::string raw;
    raw.reserve(raw_bytes);
    for (float f : src.floats().first(static_cast<std::size_t>(t.numel()))) put_le(raw, f);
    initializers_.add(raw);
    return {};
  }

  /// A new initializer for an attribute-like input; returns its (unique) name.
  std::string write_initializer(const std::string& base, std::span<const std::int64_t> dims, DataType type,
                                const std::string& raw) {
    const std::string name = unique(value_names_, base);
    proto::Writer tensor;
    tensor.bytes(9, raw);
    proto::Writer field;
    field.bytes(5, tensor_header(name, dims, type) + tensor.str());
    initializers_.add(field.str());
    return name;
  }
  std::string scalar_initializer(const std::string& base, float v) {
    std::string raw;
    put_le(raw, v);
    return write_initializer(base, {}, DataType::float32, raw);
  }
  std::string int64_initializer(const std::string& base, std::span<const std::int64_t> values) {
    std::string raw;
    for (std::int64_t v : values) put_le(raw, v);
    const std::int64_t dims[] = {static_cast<std::int64_t>(values.size())};
    return write_initializer(base, dims, DataType::int64, raw);
  }

  /// A Clip named `name` (opset >= 11: the bounds are optional scalar inputs, "" for an infinite one, and their
  /// initializers are named after the node).
  Status write_clip(const Node& n, std::string_view what, float lo, float hi, const std::string& input,
                    const std::string& output, const std::string& name) {
    constexpr float inf = std::numeric_limits<float>::infinity();
    PRIMSEL_CHECK(!std::isnan(lo) && !std::isnan(hi) && lo <= hi, ErrorCode::invalid_model,
                  std::string(what) + " [" + std::to_string(lo) + ", " + std::to_string(hi) + "] is not an interval",
                  context(n));
    const std::string base = name.empty() ? output : name;
    const std::string min = lo == -inf ? std::string() : scalar_initializer(base + ".min", lo);
    const std::string max = hi == inf ? std::string() : scalar_initializer(base + ".max", hi);
    emit("Clip", name, {input, min, max}, {output});
    return {};
  }

  /// Conv and Gemm write to a new intermediate when they carry a fused activation; a Relu (for [0, inf]) or a Clip
  /// after them writes the original output.
  Status write_with_activation(const Node& n, const std::string& name, std::vector<std::string> inputs,
                               const std::vector<std::string>& attributes, const Activation& act) {
    const Value& out = g_.value(n.outputs[0]);
    if (act.is_none()) {
      emit(to_string(n.op), name, std::move(inputs), {out.name}, attributes);
      return {};
    }
    const std::string pre = unique(value_names_, out.name + ".pre_act");
    extra_value_info_.emplace_back(pre, out.shape);
    emit(to_string(n.op), name, std::move(inputs), {pre}, attributes);
    const std::string base = name.empty() ? out.name : name;
    if (act == Activation::relu()) {
      emit("Relu", generated_node_name(base + ".relu"), {pre}, {out.name});
      return {};
    }
    return write_clip(n, "fused activation", act.lo, act.hi, pre, out.name, generated_node_name(base + ".clip"));
  }

  /// Refuses a node whose parameters ONNX's op has no attribute for (they would be dropped silently).
  Status check_params(const Node& n) const {
    const std::size_t want = params_index(n.op);
    if (n.params.index() == want) return {};
    const Activation* act = nullptr;
    if (const auto* conv = std::get_if<ConvParams>(&n.params)) act = &conv->activation;
    if (const auto* gemm = std::get_if<GemmParams>(&n.params)) act = &gemm->activation;
    if (act && !act->is_none())
      return Error(ErrorCode::unsupported,
                   "carries a fused activation [" + std::to_string(act->lo) + ", " + std::to_string(act->hi) +
                       "], which only Conv and Gemm can hold",
                   context(n));
    const std::string expected = want == 0 ? "takes none" : "takes " + std::string(params_names[want]);
    return Error(ErrorCode::invalid_model,
                 "carries " + std::string(params_names[n.params.index()]) + " parameters; ONNX's " +
                     std::string(to_string(n.op)) + " " + expected,
                 context(n));
  }

  Status write_node(const Node& n) {
    PRIMSEL_RETURN_IF_ERROR(check_params(n));
    std::vector<std::string> inputs;
    for (std::size_t i = 0; i < n.inputs.size(); ++i) {
      const ValueId v = n.inputs[i];
      // Dropout's ratio/training_mode change nothing at inference, and training_mode is a bool ONNX-side.
      if (n.op == OpKind::Dropout && i > 0) break;
      std::string name;  // "" for an omitted optional input
      if (v != no_value && g_.value(v).is_constant()) {
        PRIMSEL_RETURN_IF_ERROR(write_constant(v, &name));
      } else if (v != no_value) {
        name = g_.value(v).name;
      }
      inputs.push_back(std::move(name));
    }
    const std::string& out = g_.value(n.outputs[0]).name;
    const std::string name = node_name(n.name);
    const std::string base = name.empty() ? out : name;  // of generated initializer names
    const std::string_view op_type = to_string(n.op);
    switch (n.op) {
      case OpKind::Conv: {
        const auto& p = n.get<ConvParams>();
        const std::int64_t pads[] = {p.pads.top, p.pads.left, p.pads.bottom, p.pads.right};
        return write_with_activation(
            n, name, std::move(inputs),
            {attribute_ints("kernel_shape", p.kernel), attribute_ints("strides", p.stride),
             attribute_ints("dilations", p.dilation), attribute_ints("pads", pads), attribute_int("group", p.groups)},
            p.activation);
      }
      case OpKind::Gemm: {
        const auto& p = n.get<GemmParams>();
        return write_with_activation(n, name, std::move(inputs),
                                     {attribute_float("alpha", p.alpha), attribute_float("beta", p.beta),
                                      attribute_int("transA", p.trans_a), attribute_int("transB", p.trans_b)},
                                     p.activation);
      }
      case OpKind::MaxPool:
      case OpKind::AveragePool: {
        const auto& p = n.get<PoolParams>();
        const std::int64_t pads[] = {p.pads.top, p.pads.left, p.pads.bottom, p.pads.right};
        std::vector<std::string> attributes{attribute_ints("kernel_shape", p.kernel),
                                            attribute_ints("strides", p.stride), attribute_ints("pads", pads),
                                            attribute_int("ceil_mode", p.ceil_mode)};
        if (n.op == OpKind::AveragePool) attributes.push_back(attribute_int("count_include_pad", p.count_include_pad));
        emit(op_type, name, std::move(inputs), {out}, attributes);
        return {};
      }
      case OpKind::Clip: {
        const auto& p = n.get<ClipParams>();
        return write_clip(n, "Clip bounds", p.min, p.max, inputs[0], out, name);
      }
      case OpKind::Concat:
      case OpKind::Flatten:
      case OpKind::Softmax:
        emit(op_type, name, std::move(inputs), {out}, {attribute_int("axis", n.get<AxisParams>().axis)});
        return {};
      case OpKind::BatchNormalization:
        emit(op_type, name, std::move(inputs), {out}, {attribute_float("epsilon", n.get<BatchNormParams>().epsilon)});
        return {};
      case OpKind::Reshape: {
        const Shape& s = n.get<ReshapeParams>().shape;
        const std::vector<std::int64_t> dims(s.begin(), s.end());
        inputs.push_back(int64_initializer(base + ".shape", dims));
        emit(op_type, name, std::move(inputs), {out});
        return {};
      }
      case OpKind::Pad: {
        const auto& p = n.get<PadParams>();
        std::vector<std::int64_t> pads(p.begin.begin(), p.begin.end());
        pads.insert(pads.end(), p.end.begin(), p.end.end());
        inputs.push_back(int64_initializer(base + ".pads", pads));
        const char* mode = p.mode == PadMode::reflect ? "reflect" : p.mode == PadMode::edge ? "edge" : "constant";
        if (p.mode == PadMode::constant) inputs.push_back(scalar_initializer(base + ".value", p.value));
        emit(op_type, name, std::move(inputs), {out}, {attribute_string("mode", mode)});
        return {};
      }
      case OpKind::Dropout:
        // primsel types the mask as float; ONNX's is bool, so a graph that reads it cannot be written.
        if (n.outputs.size() > 1 && read_[static_cast<std::size_t>(n.outputs[1])])
          return Error(ErrorCode::unsupported,
                       "the Dropout mask '" + g_.value(n.outputs[1]).name +
                           "' is read, but ONNX types it bool and primsel float",
                       context(n));
        emit(op_type, name, std::move(inputs), {out});
        return {};
      case OpKind::GlobalAveragePool:
      case OpKind::MatMul:
      case OpKind::Relu:
      case OpKind::Sigmoid:
      case OpKind::Add:
      case OpKind::Mul:
      case OpKind::Identity:
        emit(op_type, name, std::move(inputs), {out});
        return {};
    }
    return Error(ErrorCode::unsupported, "op has no ONNX mapping", context(n));
  }

  const Graph& g_;
  std::vector<bool> constant_written_;
  std::vector<bool> read_;  // by a node or as a graph output
  std::unordered_set<std::string> value_names_, node_names_, emitted_nodes_;
  std::unordered_map<std::string, int> next_suffix_;
  std::string nodes_;
  Bytes initializers_;
  std::vector<std::pair<std::string, Shape>> extra_value_info_;
};

/// The whole ModelProto: IR version, producer, the graph, the opset import.
inline Expected<Bytes> encode_model(const Graph& g, const WriteOptions& opt) {
  PRIMSEL_CHECK(g.finalized(), ErrorCode::invalid_argument,
                "graph '" + g.name() + "' is not finalized; call finalize(g) before writing it");
  PRIMSEL_CHECK(opt.opset >= min_write_opset && opt.opset <= max_write_opset, ErrorCode::unsupported,
                "opset " + std::to_string(opt.opset) + " cannot be written; primsel writes opsets " +
                    std::to_string(min_write_opset) + " to " + std::to_string(max_write_opset) +
                    " (before 13 Softmax had other semantics)");
  GraphEncoder encoder(g);
  PRIMSEL_ASSIGN_OR_RETURN(Bytes graph, encoder.encode());
  proto::Writer head;
  head.varint(1, static_cast<std::uint64_t>(ir_version_for(opt.opset))).bytes(2, opt.producer).bytes(3, version_string);
  proto::Writer opset_id;
  opset_id.varint(2, static_cast<std::uint64_t>(opt.opset));  // domain omitted: the default ONNX domain
  proto::Writer tail;
  tail.bytes(8, opset_id.str());
  Bytes model;
  model.add(head.str());
  model.add(field_header(7, graph.size()));
  model.add(graph);
  model.add(tail.str());
  PRIMSEL_CHECK(model.size() <= max_model_bytes, ErrorCode::unsupported,
                "graph '" + g.name() + "' encodes to " + std::to_string(model.size()) +
                    " bytes; protobuf cannot read a model of 2 GiB or more (external data is not written)");
  return model;
}

}  // namespace write_detail

/// The serialized ModelProto of a finalized graph. Errors name the node (or value) that cannot be written.
inline Expected<std::string> write_model(const Graph& g, const WriteOptions& opt = {}) {
  PRIMSEL_ASSIGN_OR_RETURN(const write_detail::Bytes model, write_detail::encode_model(g, opt));
  std::string out;
  out.reserve(model.size());
  model.for_each_piece([&](std::string_view piece) {
    out.append(piece);
    return true;
  });
  return out;
}

/// Writes the model to `path` (weights stream from the graph's tensors, not through a copy of the whole file). On
/// failure the partial file is removed and the error (io_error) names the path.
inline Status save_model(const Graph& g, const std::string& path, const WriteOptions& opt = {}) {
  PRIMSEL_ASSIGN_OR_RETURN(const write_detail::Bytes model, write_detail::encode_model(g, opt));
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return Error(ErrorCode::io_error, "cannot open '" + path + "' for writing: " + std::strerror(errno));
  bool ok = model.for_each_piece(
      [&](std::string_view piece) { return std::fwrite(piece.data(), 1, piece.size(), f) == piece.size(); });
  int err = ok ? 0 : errno;
  if (std::fclose(f) != 0 && ok) {  // buffered bytes that fail to flush (a full disk) show up here
    ok = false;
    err = errno;
  }
  if (!ok) {
    std::remove(path.c_str());
    return Error(ErrorCode::io_error, "cannot write '" + path + "': " + std::strerror(err));
  }
  return {};
}

}  // namespace primsel::io::onnx
