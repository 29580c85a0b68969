// ONNX model -> primsel Graph: walks the decoded ModelProto (io/onnx_messages.hpp) node by node, maps each ONNX op
// of the CNN subset to a Graph op, and evaluates at load time what only computes on constants — Constant nodes,
// and the shape arithmetic exporters emit (Shape -> Gather -> Unsqueeze -> Concat -> Reshape) — so only ops on
// activations reach the Graph. Shapes are inferred node by node as the walk goes: auto_pad, Squeeze and Shape need
// them, and a shape error is reported at the node that causes it. docs/onnx.md lists the ops, opsets (7–18) and
// attributes read; anything else is refused with its op type, node name and opset.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstdint>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "primsel/core/error.hpp"
#include "primsel/graph/graph.hpp"
#include "primsel/graph/shape_inference.hpp"
#include "primsel/io/onnx_messages.hpp"

namespace primsel::io::onnx {

/// The opsets of the default domain the reader knows the semantics of.
inline constexpr std::int64_t min_opset = 7;
inline constexpr std::int64_t max_opset = 18;

struct LoadOptions {
  /// Shapes of graph inputs by name ("" names the first input). They fill symbolic dims (a dynamic batch) and must
  /// agree with the dims the file fixes.
  std::vector<std::pair<std::string, Shape>> input_shapes;
  /// A symbolic first (batch) dimension that input_shapes does not set becomes this.
  std::int64_t batch = 1;
};

namespace detail {

class Importer {
 public:
  Importer(const ModelProto& m, const LoadOptions& opt) : model_(m), opt_(opt), g_(m.graph.name.empty() ? "onnx" : m.graph.name) {}

  Expected<Graph> run() {
    PRIMSEL_CHECK(model_.has_graph, ErrorCode::invalid_model, "the model has no graph");
    PRIMSEL_CHECK(model_.opset.has_value(), ErrorCode::invalid_model,
                  "the model imports no opset of the default ONNX domain (opset_import is empty)");
    opset_ = *model_.opset;
    PRIMSEL_CHECK(opset_ >= min_opset && opset_ <= max_opset, ErrorCode::unsupported,
                  "opset " + std::to_string(opset_) + " is outside the opsets primsel reads (" + std::to_string(min_opset) +
                      " to " + std::to_string(max_opset) + "); re-export the model with an opset in that range");
    PRIMSEL_CHECK(!model_.graph.has_sparse_initializers, ErrorCode::unsupported, "sparse initializers are not supported");
    collect_names();
    for (const TensorData& t : model_.graph.initializers) {
      PRIMSEL_CHECK(!t.name.empty(), ErrorCode::invalid_model, "an initializer has no name");
      PRIMSEL_CHECK(consts_.emplace(t.name, t).second, ErrorCode::invalid_model, "initializer '" + t.name + "' is defined twice");
    }
    PRIMSEL_RETURN_IF_ERROR(add_inputs());
    for (const NodeProto& n : model_.graph.nodes) PRIMSEL_RETURN_IF_ERROR(convert(n));
    PRIMSEL_CHECK(!model_.graph.outputs.empty(), ErrorCode::invalid_model, "the graph has no outputs");
    for (const ValueInfo& o : model_.graph.outputs) {
      auto it = values_.find(o.name);
      if (it == values_.end()) {
        PRIMSEL_CHECK(!consts_.count(o.name), ErrorCode::unsupported,
                      "graph output '" + o.name + "' is a constant; primsel runs graphs whose outputs are computed");
        return Error(ErrorCode::invalid_model, "graph output '" + o.name + "' is not produced by any node or input");
      }
      g_.mark_output(it->second);
    }
    PRIMSEL_RETURN_IF_ERROR(finalize(g_));
    return std::move(g_);
  }

 private:
  // ---- names and values ----

  /// Every name the file uses, so names made up here (intermediate values of multi-node expansions) never clash.
  void collect_names() {
    for (const TensorData& t : model_.graph.initializers) used_.insert(t.name);
    for (const ValueInfo& v : model_.graph.inputs) used_.insert(v.name);
    for (const NodeProto& n : model_.graph.nodes) {
      used_.insert(n.outputs.begin(), n.outputs.end());
      used_.insert(n.name);
    }
  }
  std::string fresh(const std::string& base) {
    std::string name = base;
    for (int k = 1; used_.count(name); ++k) name = base + "_" + std::to_string(k);
    used_.insert(name);
    return name;
  }

  Status add_inputs() {
    bool first = true;
    for (const ValueInfo& v : model_.graph.inputs) {
      if (consts_.count(v.name)) continue;  // old exporters list initializers as inputs too: they stay constants
      PRIMSEL_CHECK(v.is_tensor && v.elem_type == static_cast<std::int32_t>(DataType::float32), ErrorCode::unsupported,
                    "graph input '" + v.name + "' is not a float32 tensor (element type " + std::to_string(v.elem_type) + ")");
      std::optional<Shape> given;
      for (const auto& [name, shape] : opt_.input_shapes)
        if (name == v.name || (name.empty() && first)) given = shape;
      first = false;
      PRIMSEL_CHECK(v.has_shape || given, ErrorCode::invalid_argument,
                    "graph input '" + v.name + "' has no shape in the file; give it in LoadOptions::input_shapes");
      PRIMSEL_CHECK(v.dims.size() <= static_cast<std::size_t>(Shape::max_rank), ErrorCode::unsupported,
                    "graph input '" + v.name + "' has rank " + std::to_string(v.dims.size()));
      // A dim_value the file fixes at 0 or below declares an empty (or meaningless) input: refused, naming the
      // dim, rather than read as dynamic — only a dim_param or an absent value leaves a dim to choose. The batch
      // (dim 0) is the exception: some exporters write 0 or -1 there for "any batch", so it stays dynamic.
      for (std::size_t d = 1; d < v.dims.size(); ++d)
        PRIMSEL_CHECK(!v.dims[d].has_value || v.dims[d].value > 0, ErrorCode::invalid_model,
                      "graph input '" + v.name + "' dimension " + std::to_string(d) + " is " +
                          std::to_string(v.dims[d].value) +
                          " in the model; a fixed dimension must be positive (a dynamic one has a dim_param)");
      PRIMSEL_CHECK(opt_.batch > 0, ErrorCode::invalid_argument,
                    "LoadOptions::batch must be positive, got " + std::to_string(opt_.batch));
      Shape shape = given.value_or(Shape{});
      if (!given) {
        for (std::size_t d = 0; d < v.dims.size(); ++d) {
          const Dim& dim = v.dims[d];
          if (dim.value > 0) {
            shape.push_back(dim.value);
          } else if (d == 0) {
            shape.push_back(opt_.batch);  // the dynamic batch
          } else {
            return Error(ErrorCode::invalid_argument, "graph input '" + v.name + "' dimension " + std::to_string(d) + " is symbolic ('" +
                                                          dim.param + "'); give the input's shape in LoadOptions::input_shapes");
          }
        }
      } else if (v.has_shape) {
        bool agrees = shape.rank() == static_cast<int>(v.dims.size());
        for (int d = 0; agrees && d < shape.rank(); ++d)
          agrees = v.dims[static_cast<std::size_t>(d)].value <= 0 || v.dims[static_cast<std::size_t>(d)].value == shape[d];
        PRIMSEL_CHECK(agrees, ErrorCode::shape_mismatch,
                      "graph input '" + v.name + "' is " + describe(v.dims) + " in the model, the given shape is " + to_string(shape) +
                          " (only symbolic dims can be chosen; re-export with dynamic axes to change the others)");
      }
      const std::string why = input_shape_problem(shape);
      PRIMSEL_CHECK(why.empty(), ErrorCode::invalid_argument,
                    "graph input '" + v.name + "' has the unusable shape " + to_string(shape) + ": " + why);
      PRIMSEL_CHECK(!values_.count(v.name), ErrorCode::invalid_model, "graph input '" + v.name + "' is listed twice");
      values_[v.name] = g_.add_input(v.name, shape);
    }
    PRIMSEL_CHECK(!g_.inputs().empty(), ErrorCode::invalid_model, "the graph has no inputs besides its initializers");
    return {};
  }
  static std::string describe(const std::vector<Dim>& dims) {
    std::string s;
    for (const Dim& d : dims) s += (s.empty() ? "" : "x") + (d.value > 0 ? std::to_string(d.value) : d.param.empty() ? "?" : d.param);
    return s.empty() ? "scalar" : s;
  }

  // ---- one node ----

  struct Ctx {
    const NodeProto& n;
    ErrorContext where;
  };
  Error fail(const Ctx& c, ErrorCode code, const std::string& msg) const {
    return Error(code, msg + " (opset " + std::to_string(opset_) + ")", c.where);
  }

  /// Input i as a Graph value: a computed value, a graph input, or a constant made into a graph constant on first use.
  Expected<ValueId> value(const Ctx& c, std::size_t i) {
    if (i >= c.n.inputs.size() || c.n.inputs[i].empty()) return fail(c, ErrorCode::invalid_model, "required input " + std::to_string(i) + " is missing");
    return value_named(c, c.n.inputs[i]);
  }
  Expected<ValueId> value_named(const Ctx& c, const std::string& name) {
    if (auto it = values_.find(name); it != values_.end()) return it->second;
    if (auto it = consts_.find(name); it != consts_.end()) {
      const TensorData& t = it->second;
      if (!detail::is_float(t.type))
        return fail(c, ErrorCode::unsupported, "input '" + name + "' is an integer tensor used as data; only float data is computed on");
      bool fits = true;
      const Shape shape = Shape::from_dims(t.dims.begin(), t.dims.end(), &fits);
      if (!fits) return fail(c, ErrorCode::unsupported, "constant '" + name + "' has rank " + std::to_string(t.dims.size()));
      PRIMSEL_ASSIGN_OR_RETURN(Tensor data, Tensor::create(shape));
      std::copy(t.floats.begin(), t.floats.end(), data.data<float>());
      const ValueId id = g_.add_constant(name, std::move(data));
      values_[name] = id;
      return id;
    }
    if (auto it = unsupported_.find(name); it != unsupported_.end()) return fail(c, ErrorCode::unsupported, "input '" + name + "' is " + it->second);
    return fail(c, ErrorCode::invalid_model, "input '" + name +
                                                 "' is not produced by any earlier node, initializer or graph input (ONNX requires "
                                                 "nodes in topological order)");
  }
  /// Input i if it is known at load time (initializer, Constant or folded), else null. An absent input is null.
  const TensorData* constant(const Ctx& c, std::size_t i) const {
    if (i >= c.n.inputs.size() || c.n.inputs[i].empty()) return nullptr;
    auto it = consts_.find(c.n.inputs[i]);
    return it == consts_.end() ? nullptr : &it->second;
  }
  bool present(const Ctx& c, std::size_t i) const { return i < c.n.inputs.size() && !c.n.inputs[i].empty(); }

  Expected<std::vector<std::int64_t>> const_ints(const Ctx& c, std::size_t i, const char* what) const {
    const TensorData* t = constant(c, i);
    if (!t) return fail(c, ErrorCode::unsupported, std::string(what) + " (input " + std::to_string(i) + ") must be a constant");
    if (detail::is_float(t->type)) return fail(c, ErrorCode::invalid_model, std::string(what) + " must be an integer tensor");
    return t->ints;
  }
  Expected<float> const_scalar(const Ctx& c, std::size_t i, const char* what) const {
    const TensorData* t = constant(c, i);
    if (!t) return fail(c, ErrorCode::unsupported, std::string(what) + " (input " + std::to_string(i) + ") must be a constant");
    if (t->elements() != 1) return fail(c, ErrorCode::invalid_model, std::string(what) + " must hold one value");
    return detail::is_float(t->type) ? t->floats[0] : static_cast<float>(t->ints[0]);
  }

  // Attributes, type-checked: a present attribute of the wrong kind is a malformed model, not a default.
  Expected<std::int64_t> attr_int(const Ctx& c, const char* name, std::int64_t fallback) const {
    const Attribute* a = c.n.attribute(name);
    if (!a) return fallback;
    if (!(a->type == Attribute::int_ || (a->type == Attribute::undefined && a->has_i)))
      return fail(c, ErrorCode::invalid_model, std::string("attribute '") + name + "' is not an int");
    return a->i;
  }
  Expected<float> attr_float(const Ctx& c, const char* name, float fallback) const {
    const Attribute* a = c.n.attribute(name);
    if (!a) return fallback;
    if (!(a->type == Attribute::float_ || (a->type == Attribute::undefined && a->has_f)))
      return fail(c, ErrorCode::invalid_model, std::string("attribute '") + name + "' is not a float");
    return a->f;
  }
  Expected<std::vector<std::int64_t>> attr_ints(const Ctx& c, const char* name, std::vector<std::int64_t> fallback) const {
    const Attribute* a = c.n.attribute(name);
    if (!a) return fallback;
    if (!(a->type == Attribute::ints_ || (a->type == Attribute::undefined && !a->has_i && !a->has_f && !a->has_s)))
      return fail(c, ErrorCode::invalid_model, std::string("attribute '") + name + "' is not a list of ints");
    return a->ints;
  }
  Expected<std::string> attr_string(const Ctx& c, const char* name, std::string fallback) const {
    const Attribute* a = c.n.attribute(name);
    if (!a) return fallback;
    if (!(a->type == Attribute::string || (a->type == Attribute::undefined && a->has_s)))
      return fail(c, ErrorCode::invalid_model, std::string("attribute '") + name + "' is not a string");
    return a->s;
  }
  /// An int-list attribute of a 2-D window op: exactly `count` values.
  Expected<std::vector<std::int64_t>> attr_window(const Ctx& c, const char* name, std::size_t count, std::int64_t fill) const {
    PRIMSEL_ASSIGN_OR_RETURN(auto v, attr_ints(c, name, std::vector<std::int64_t>(count, fill)));
    if (v.size() != count)
      return fail(c, ErrorCode::unsupported, std::string("attribute '") + name + "' has " + std::to_string(v.size()) + " values; primsel runs 2-D windows (" +
                                                 std::to_string(count) + " values)");
    return v;
  }

  /// The shape of input i (computed values have theirs inferred as the walk goes; constants carry dims).
  Expected<Shape> shape_of(const Ctx& c, std::size_t i) {
    if (const TensorData* t = constant(c, i)) {
      bool fits = true;
      Shape s = Shape::from_dims(t->dims.begin(), t->dims.end(), &fits);
      if (!fits) return fail(c, ErrorCode::unsupported, "input '" + c.n.inputs[i] + "' has rank " + std::to_string(t->dims.size()));
      return s;
    }
    PRIMSEL_ASSIGN_OR_RETURN(const ValueId v, value(c, i));
    return g_.value(v).shape;
  }

  /// Adds a Graph node writing the ONNX value `out` and infers its shape now.
  Status emit(const Ctx& c, OpKind op, std::vector<ValueId> inputs, OpParams params, const std::string& out) {
    PRIMSEL_CHECK(!values_.count(out) && !consts_.count(out), ErrorCode::invalid_model, "value '" + out + "' is written by more than one node", c.where);
    const ValueId id = g_.add_value(out);
    std::string name = c.where.node;
    for (int k = 1; !node_names_.insert(name).second; ++k) name = c.where.node + "#" + std::to_string(k);
    g_.add_node_with_outputs(op, name, std::move(inputs), {id}, std::move(params));
    values_[out] = id;
    auto shape = ::primsel::detail::infer_node(g_, g_.nodes().back());
    if (!shape) return std::move(shape).error();
    if (const std::string why = value_shape_problem(*shape); !why.empty())
      return Error(ErrorCode::invalid_model, "output shape " + to_string(*shape) + " is unusable: " + why,
                   g_.context_of(g_.nodes().back()));
    g_.value(id).shape = *shape;
    return {};
  }
  /// The first output's name; extra outputs (Dropout's mask, MaxPool's indices, BN's training statistics) are
  /// recorded so a node that reads one gets a clear error.
  const std::string& main_output(const Ctx& c, const char* extra_outputs) {
    for (std::size_t o = 1; o < c.n.outputs.size(); ++o)
      if (!c.n.outputs[o].empty())
        unsupported_[c.n.outputs[o]] = std::string("output ") + std::to_string(o) + " of " + c.n.op_type + " '" + c.where.node + "' (" + extra_outputs +
                                       "), which primsel does not compute";
    return c.n.outputs[0];
  }
  Status set_const(const Ctx& c, TensorData t) {
    const std::string& out = c.n.outputs[0];
    PRIMSEL_CHECK(!values_.count(out) && !consts_.count(out), ErrorCode::invalid_model, "value '" + out + "' is written by more than one node", c.where);
    t.name = out;
    consts_[out] = std::move(t);
    return {};
  }

  Status convert(const NodeProto& n) {
    const std::string display = !n.name.empty() ? n.name : !n.outputs.empty() && !n.outputs[0].empty() ? n.outputs[0] : "node at byte " + std::to_string(n.offset);
    const Ctx c{n, ErrorContext{n.op_type, display, {}}};
    if (!n.domain.empty() && n.domain != "ai.onnx")
      return fail(c, ErrorCode::unsupported, "ops of domain '" + n.domain + "' are not supported");
    if (n.outputs.empty() || n.outputs[0].empty()) return fail(c, ErrorCode::invalid_model, "node has no output");
    for (const Attribute& a : n.attributes)
      if (a.has_graph) return fail(c, ErrorCode::unsupported, "ops with subgraphs (attribute '" + a.name + "') are not supported");
    if (auto folded = fold(c)) return *folded;
    const std::string& op = n.op_type;
    if (op == "Conv") return conv(c);
    if (op == "MaxPool" || op == "AveragePool") return pool(c);
    if (op == "GlobalAveragePool") return unary(c, OpKind::GlobalAveragePool);
    if (op == "GlobalMaxPool") return global_max_pool(c);
    if (op == "Gemm") return gemm(c);
    if (op == "MatMul") return binary(c, OpKind::MatMul);
    if (op == "Relu") return unary(c, OpKind::Relu);
    if (op == "Sigmoid") return unary(c, OpKind::Sigmoid);
    if (op == "Identity") return unary(c, OpKind::Identity);
    if (op == "Clip") return clip(c);
    if (op == "Add") return binary(c, OpKind::Add);
    if (op == "Mul") return binary(c, OpKind::Mul);
    if (op == "Sub" || op == "Div") return sub_div(c);
    if (op == "Concat") return concat(c);
    if (op == "BatchNormalization") return batch_norm(c);
    if (op == "Dropout") return dropout(c);
    if (op == "Flatten") return flatten(c);
    if (op == "Reshape" || op == "Squeeze" || op == "Unsqueeze") return reshape(c);
    if (op == "Softmax") return softmax(c);
    if (op == "Pad") return pad(c);
    if (op == "ReduceMean") return reduce_mean(c);
    return fail(c, ErrorCode::unsupported, "op '" + op + "' is not supported (docs/onnx.md lists the ops primsel reads)");
  }

  // ---- load-time evaluation ----

  /// Evaluates nodes whose result is known at load time; nullopt when the node computes on activations.
  std::optional<Status> fold(const Ctx& c) {
    const std::string& op = c.n.op_type;
    if (op == "Constant") return constant_node(c);
    if (op == "Shape") return shape_node(c);
    const bool all_const = std::all_of(c.n.inputs.begin(), c.n.inputs.end(), [&](const std::string& s) { return s.empty() || consts_.count(s); });
    if (!all_const || c.n.inputs.empty() || c.n.inputs[0].empty()) return std::nullopt;
    if (op == "Gather") return gather(c);
    if (op == "Unsqueeze" || op == "Squeeze" || op == "Reshape" || op == "Flatten" || op == "Identity") return fold_reshape(c);
    if (op == "Concat") return fold_concat(c);
    if (op == "Cast") return fold_cast(c);
    if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div") return fold_arithmetic(c);
    if (op == "Slice") return fold_slice(c);
    return std::nullopt;  // e.g. a Conv on constants: computed at run time like any other
  }

  static TensorData int_tensor(std::vector<std::int64_t> v, std::vector<std::int64_t> dims) {
    TensorData t;
    t.type = DataType::int64;
    t.ints = std::move(v);
    t.dims = std::move(dims);
    return t;
  }

  Status constant_node(const Ctx& c) {
    if (c.n.attributes.size() != 1) return fail(c, ErrorCode::invalid_model, "Constant needs exactly one value attribute");
    const Attribute& a = c.n.attributes[0];
    if (a.name == "value" && a.t) return set_const(c, *a.t);
    if (a.name == "value_float" && a.has_f) {
      TensorData t;
      t.floats = {a.f};
      return set_const(c, std::move(t));
    }
    if (a.name == "value_floats") {
      TensorData t;
      t.floats = a.floats;
      t.dims = {static_cast<std::int64_t>(a.floats.size())};
      return set_const(c, std::move(t));
    }
    if (a.name == "value_int" && a.has_i) return set_const(c, int_tensor({a.i}, {}));
    if (a.name == "value_ints") return set_const(c, int_tensor(a.ints, {static_cast<std::int64_t>(a.ints.size())}));
    return fail(c, ErrorCode::unsupported, "Constant with attribute '" + a.name + "' is not supported");
  }

  Status shape_node(const Ctx& c) {
    PRIMSEL_ASSIGN_OR_RETURN(const Shape s, shape_of(c, 0));
    const std::int64_t rank = s.rank();
    PRIMSEL_ASSIGN_OR_RETURN(std::int64_t start, attr_int(c, "start", 0));
    PRIMSEL_ASSIGN_OR_RETURN(std::int64_t end, attr_int(c, "end", rank));
    start = std::clamp<std::int64_t>(start < 0 ? start + rank : start, 0, rank);
    end = std::clamp<std::int64_t>(end < 0 ? end + rank : end, 0, rank);
    std::vector<std::int64_t> dims;
    for (std::int64_t d = start; d < end; ++d) dims.push_back(s[static_cast<int>(d)]);
    const auto count = static_cast<std::int64_t>(dims.size());
    return set_const(c, int_tensor(std::move(dims), {count}));
  }

  Status gather(const Ctx& c) {
    const TensorData& data = *constant(c, 0);
    if (!present(c, 1)) return fail(c, ErrorCode::invalid_model, "Gather needs indices");
    PRIMSEL_ASSIGN_OR_RETURN(const auto indices, const_ints(c, 1, "indices"));
    PRIMSEL_ASSIGN_OR_RETURN(const std::int64_t axis, attr_int(c, "axis", 0));
    if (data.dims.size() != 1 || (axis != 0 && axis != -1))
      return fail(c, ErrorCode::unsupported, "Gather is evaluated at load time on 1-D constants only");
    const std::int64_t len = data.dims[0];
    TensorData out;
    out.type = data.type;
    out.dims = constant(c, 1)->dims;
    for (std::int64_t i : indices) {
      const std::int64_t k = i < 0 ? i + len : i;
      if (k < 0 || k >= len) return fail(c, ErrorCode::invalid_model, "index " + std::to_string(i) + " is outside 0.." + std::to_string(len - 1));
      if (detail::is_float(data.type))
        out.floats.push_back(data.floats[static_cast<std::size_t>(k)]);
      else
        out.ints.push_back(data.ints[static_cast<std::size_t>(k)]);
    }
    return set_const(c, std::move(out));
  }

  /// Squeeze/Unsqueeze/Reshape/Flatten/Identity of a constant only change its dims.
  Status fold_reshape(const Ctx& c) {
    TensorData t = *constant(c, 0);
    PRIMSEL_ASSIGN_OR_RETURN(const Shape in, shape_of(c, 0));
    PRIMSEL_ASSIGN_OR_RETURN(const Shape out, reshaped(c, in));
    t.dims.assign(out.begin(), out.end());
    return set_const(c, std::move(t));
  }

  Status fold_concat(const Ctx& c) {
    TensorData out;
    out.type = constant(c, 0)->type;
    for (std::size_t i = 0; i < c.n.inputs.size(); ++i) {
      const TensorData* t = constant(c, i);
      if (!t) continue;
      if (t->dims.size() != 1 || detail::is_float(t->type) != detail::is_float(out.type))
        return fail(c, ErrorCode::unsupported, "Concat is evaluated at load time on 1-D constants of one type only");
      out.ints.insert(out.ints.end(), t->ints.begin(), t->ints.end());
      out.floats.insert(out.floats.end(), t->floats.begin(), t->floats.end());
    }
    out.dims = {static_cast<std::int64_t>(detail::is_float(out.type) ? out.floats.size() : out.ints.size())};
    return set_const(c, std::move(out));
  }

  Status fold_cast(const Ctx& c) {
    TensorData t = *constant(c, 0);
    PRIMSEL_ASSIGN_OR_RETURN(const std::int64_t to, attr_int(c, "to", 0));
    const auto type = static_cast<DataType>(to);
    if (detail::element_size(type) == 0) return fail(c, ErrorCode::unsupported, "Cast to data type " + std::to_string(to));
    if (detail::is_float(type) && !detail::is_float(t.type)) {
      for (std::int64_t v : t.ints) t.floats.push_back(static_cast<float>(v));
      t.ints.clear();
    } else if (!detail::is_float(type) && detail::is_float(t.type)) {
      for (float v : t.floats) {
        if (!std::isfinite(v) || std::fabs(v) > 9e18f) return fail(c, ErrorCode::invalid_model, "Cast of a non-finite or huge float to an integer");
        t.ints.push_back(static_cast<std::int64_t>(v));
      }
      t.floats.clear();
    }
    t.type = detail::is_float(type) ? DataType::float32 : DataType::int64;
    return set_const(c, std::move(t));
  }

  /// Integer arithmetic on shape values (e.g. a flattened size computed as H*W), numpy broadcasting of a scalar.
  Status fold_arithmetic(const Ctx& c) {
    const TensorData* a = constant(c, 0);
    const TensorData* b = constant(c, 1);
    if (!a || !b || detail::is_float(a->type) || detail::is_float(b->type)) return fail(c, ErrorCode::unsupported, "evaluated at load time on integer constants only");
    const std::size_t na = a->ints.size(), nb = b->ints.size();
    if (na != nb && na != 1 && nb != 1) return fail(c, ErrorCode::unsupported, "load-time arithmetic broadcasts scalars only");
    TensorData out = int_tensor({}, na >= nb ? a->dims : b->dims);
    const char op = c.n.op_type[0];
    for (std::size_t i = 0; i < std::max(na, nb); ++i) {
      const std::int64_t x = a->ints[na == 1 ? 0 : i], y = b->ints[nb == 1 ? 0 : i];
      if (op == 'D' && y == 0) return fail(c, ErrorCode::invalid_model, "integer division by zero");
      // Shape values are small; the guard only keeps a hostile file from reaching signed overflow.
      if (std::max(std::abs(x), std::abs(y)) > (std::int64_t{1} << 31)) return fail(c, ErrorCode::unsupported, "load-time arithmetic on values beyond 2^31");
      out.ints.push_back(op == 'A' ? x + y : op == 'S' ? x - y : op == 'M' ? x * y : x / y);
    }
    return set_const(c, std::move(out));
  }

  Status fold_slice(const Ctx& c) {
    const TensorData& data = *constant(c, 0);
    if (data.dims.size() != 1) return fail(c, ErrorCode::unsupported, "Slice is evaluated at load time on 1-D constants only");
    std::vector<std::int64_t> starts, ends, axes{0}, steps{1};
    if (opset_ < 10) {
      PRIMSEL_ASSIGN_OR_RETURN(starts, attr_ints(c, "starts", {}));
      PRIMSEL_ASSIGN_OR_RETURN(ends, attr_ints(c, "ends", {}));
      PRIMSEL_ASSIGN_OR_RETURN(axes, attr_ints(c, "axes", {0}));
    } else {
      PRIMSEL_ASSIGN_OR_RETURN(starts, const_ints(c, 1, "starts"));
      PRIMSEL_ASSIGN_OR_RETURN(ends, const_ints(c, 2, "ends"));
      if (present(c, 3)) {
        PRIMSEL_ASSIGN_OR_RETURN(axes, const_ints(c, 3, "axes"));
      }
      if (present(c, 4)) {
        PRIMSEL_ASSIGN_OR_RETURN(steps, const_ints(c, 4, "steps"));
      }
    }
    if (starts.size() != 1 || ends.size() != 1 || axes.size() != 1 || steps.size() != 1 || (axes[0] != 0 && axes[0] != -1) || steps[0] == 0)
      return fail(c, ErrorCode::unsupported, "Slice is evaluated at load time on one axis of a 1-D constant only");
    const std::int64_t len = data.dims[0], step = steps[0];
    auto clamp_index = [&](std::int64_t i, bool is_end) {
      if (i < 0) i += len;
      return step > 0 ? std::clamp<std::int64_t>(i, 0, len) : std::clamp<std::int64_t>(i, -1, is_end ? len - 1 : len - 1);
    };
    TensorData out;
    out.type = data.type;
    for (std::int64_t i = clamp_index(starts[0], false), e = clamp_index(ends[0], true); step > 0 ? i < e : i > e; i += step) {
      if (detail::is_float(data.type))
        out.floats.push_back(data.floats[static_cast<std::size_t>(i)]);
      else
        out.ints.push_back(data.ints[static_cast<std::size_t>(i)]);
    }
    out.dims = {static_cast<std::int64_t>(std::max(out.ints.size(), out.floats.size()))};
    return set_const(c, std::move(out));
  }

  // ---- ops on activations ----

  Status unary(const Ctx& c, OpKind kind) {
    PRIMSEL_ASSIGN_OR_RETURN(const ValueId x, value(c, 0));
    return emit(c, kind, {x}, {}, main_output(c, kind == OpKind::Dropout ? "the mask" : "an extra output"));
  }
  Status binary(const Ctx& c, OpKind kind) {
    PRIMSEL_ASSIGN_OR_RETURN(const ValueId a, value(c, 0));
    PRIMSEL_ASSIGN_OR_RETURN(const ValueId b, value(c, 1));
    return emit(c, kind, {a, b}, {}, c.n.outputs[0]);
  }

  /// ONNX's auto_pad: SAME_* pads so that out = ceil(in / stride), the odd pixel at the end (UPPER) or begin (LOWER).
  Expected<Pads2d> window_pads(const Ctx& c, const Shape& in, const std::array<std::int64_t, 2>& kernel, const std::array<std::int64_t, 2>& stride,
                               const std::array<std::int64_t, 2>& dilation) const {
    PRIMSEL_ASSIGN_OR_RETURN(const std::string mode, attr_string(c, "auto_pad", "NOTSET"));
    if (mode == "NOTSET") {
      PRIMSEL_ASSIGN_OR_RETURN(const auto p, attr_window(c, "pads", 4, 0));
      return Pads2d{p[0], p[1], p[2], p[3]};
    }
    if (mode == "VALID") return Pads2d{};
    if (mode != "SAME_UPPER" && mode != "SAME_LOWER") return fail(c, ErrorCode::invalid_model, "auto_pad '" + mode + "' is not an ONNX value");
    std::array<std::int64_t, 2> begin{}, end{};
    for (int a = 0; a < 2; ++a) {
      const std::int64_t size = in[2 + a];
      if (stride[static_cast<std::size_t>(a)] <= 0) return fail(c, ErrorCode::invalid_model, "strides must be positive");
      const std::int64_t out = (size + stride[static_cast<std::size_t>(a)] - 1) / stride[static_cast<std::size_t>(a)];
      const std::int64_t span = dilation[static_cast<std::size_t>(a)] * (kernel[static_cast<std::size_t>(a)] - 1) + 1;
      const std::int64_t total = std::max<std::int64_t>((out - 1) * stride[static_cast<std::size_t>(a)] + span - size, 0);
      const std::int64_t small = total / 2;
      begin[static_cast<std::size_t>(a)] = mode == "SAME_UPPER" ? small : total - small;
      end[static_cast<std::size_t>(a)] = total - begin[static_cast<std::size_t>(a)];
    }
    return Pads2d{begin[0], begin[1], end[0], end[1]};
  }
  static std::array<std::int64_t, 2> pair(const std::vector<std::int64_t>& v) { return {v[0], v[1]}; }

  Status conv(const Ctx& c) {
    PRIMSEL_ASSIGN_OR_RETURN(const ValueId x, value(c, 0));
    if (!constant(c, 1)) return fail(c, ErrorCode::unsupported, "the weights (input 1) must be a constant");
    PRIMSEL_ASSIGN_OR_RETURN(const ValueId w, value(c, 1));
    const Shape& in = g_.value(x).shape;
    const Shape& ws = g_.value(w).shape;
    if (in.rank() != 4 || ws.rank() != 4)
      return fail(c, ErrorCode::unsupported, "only 2-D convolutions are supported (input " + to_string(in) + ", weights " + to_string(ws) + ")");
    ConvParams p;
    PRIMSEL_ASSIGN_OR_RETURN(const auto kernel, attr_window(c, "kernel_shape", 2, 0));
    p.kernel = {ws[2], ws[3]};
    if (c.n.attribute("kernel_shape") && pair(kernel) != p.kernel)
      return fail(c, ErrorCode::shape_mismatch, "kernel_shape disagrees with the weights " + to_string(ws));
    PRIMSEL_ASSIGN_OR_RETURN(const auto strides, attr_window(c, "strides", 2, 1));
    PRIMSEL_ASSIGN_OR_RETURN(const auto dilations, attr_window(c, "dilations", 2, 1));
    PRIMSEL_ASSIGN_OR_RETURN(p.groups, attr_int(c, "group", 1));
    p.stride = pair(strides);
    p.dilation = pair(dilations);
    PRIMSEL_ASSIGN_OR_RETURN(p.pads, window_pads(c, in, p.kernel, p.stride, p.dilation));
    std::vector<ValueId> inputs{x, w};
    if (present(c, 2)) {
      if (!constant(c, 2)) return fail(c, ErrorCode::unsupported, "the bias (input 2) must be a constant");
      PRIMSEL_ASSIGN_OR_RETURN(const ValueId b, value(c, 2));
      inputs.push_back(b);
    }
    return emit(c, OpKind::Conv, std::move(inputs), p, c.n.outputs[0]);
  }

  Status pool(const Ctx& c) {
    PRIMSEL_ASSIGN_OR_RETURN(const ValueId x, value(c, 0));
    const Shape& in = g_.value(x).shape;
    if (in.rank() != 4) return fail(c, ErrorCode::unsupported, "only 2-D pooling is supported (input " + to_string(in) + ")");
    if (!c.n.attribute("kernel_shape")) return fail(c, ErrorCode::invalid_model, "kernel_shape is required");
    PoolParams p;
    PRIMSEL_ASSIGN_OR_RETURN(const auto kernel, attr_window(c, "kernel_shape", 2, 0));
    PRIMSEL_ASSIGN_OR_RETURN(const auto strides, attr_window(c, "strides", 2, 1));
    PRIMSEL_ASSIGN_OR_RETURN(const auto dilations, attr_window(c, "dilations", 2, 1));
    if (dilations != std::vector<std::int64_t>{1, 1}) return fail(c, ErrorCode::unsupported, "dilated pooling is not supported");
    PRIMSEL_ASSIGN_OR_RETURN(const std::int64_t ceil, attr_int(c, "ceil_mode", 0));
    PRIMSEL_ASSIGN_OR_RETURN(const std::int64_t include_pad, attr_int(c, "count_include_pad", 0));
    p.kernel = pair(kernel);
    p.stride = pair(strides);
    p.ceil_mode = ceil != 0;
    p.count_include_pad = include_pad != 0;
    PRIMSEL_ASSIGN_OR_RETURN(p.pads, window_pads(c, in, p.kernel, p.stride, {1, 1}));
    const bool is_max = c.n.op_type == "MaxPool";
    return emit(c, is_max ? OpKind::MaxPool : OpKind::AveragePool, {x}, p, main_output(c, "indices"));
  }

  Status global_max_pool(const Ctx& c) {
    PRIMSEL_ASSIGN_OR_RETURN(const ValueId x, value(c, 0));
    const Shape& in = g_.value(x).shape;
    if (in.rank() != 4) return fail(c, ErrorCode::unsupported, "only 4-D inputs are supported (input " + to_string(in) + ")");
    PoolParams p;
    p.kernel = {in[2], in[3]};
    return emit(c, OpKind::MaxPool, {x}, p, c.n.outputs[0]);
  }

  Status gemm(const Ctx& c) {
    GemmParams p;
    PRIMSEL_ASSIGN_OR_RETURN(p.alpha, attr_float(c, "alpha", 1.0f));
    PRIMSEL_ASSIGN_OR_RETURN(p.beta, attr_float(c, "beta", 1.0f));
    PRIMSEL_ASSIGN_OR_RETURN(const std::int64_t ta, attr_int(c, "transA", 0));
    PRIMSEL_ASSIGN_OR_RETURN(const std::int64_t tb, attr_int(c, "transB", 0));
    p.trans_a = ta != 0;
    p.trans_b = tb != 0;
    PRIMSEL_ASSIGN_OR_RETURN(const ValueId a, value(c, 0));
    PRIMSEL_ASSIGN_OR_RETURN(const ValueId b, value(c, 1));
    std::vector<ValueId> inputs{a, b};
    if (present(c, 2)) {
      PRIMSEL_ASSIGN_OR_RETURN(const ValueId bias, value(c, 2));
      inputs.push_back(bias);
    }
    return emit(c, OpKind::Gemm, std::move(inputs), p, c.n.outputs[0]);
  }

  Status clip(const Ctx& c) {
    ClipParams p;
    if (opset_ < 11) {
      PRIMSEL_ASSIGN_OR_RETURN(p.min, attr_float(c, "min", -std::numeric_limits<float>::infinity()));
      PRIMSEL_ASSIGN_OR_RETURN(p.max, attr_float(c, "max", std::numeric_limits<float>::infinity()));
    } else {
      if (present(c, 1)) {
        PRIMSEL_ASSIGN_OR_RETURN(p.min, const_scalar(c, 1, "min"));
      }
      if (present(c, 2)) {
        PRIMSEL_ASSIGN_OR_RETURN(p.max, const_scalar(c, 2, "max"));
      }
    }
    PRIMSEL_ASSIGN_OR_RETURN(const ValueId x, value(c, 0));
    return emit(c, OpKind::Clip, {x}, p, c.n.outputs[0]);
  }

  /// Sub and Div by a constant become Add and Mul (by its negation / reciprocal); on two activations they are refused.
  Status sub_div(const Ctx& c) {
    const TensorData* b = constant(c, 1);
    if (!b || !detail::is_float(b->type)) return fail(c, ErrorCode::unsupported, c.n.op_type + " is supported with a constant float second input only");
    TensorData t = *b;
    const bool is_sub = c.n.op_type == "Sub";
    for (float& v : t.floats) v = is_sub ? -v : 1.0f / v;
    t.name = fresh(c.n.inputs[1] + (is_sub ? "_negated" : "_reciprocal"));
    const std::string name = t.name;
    consts_[name] = std::move(t);
    PRIMSEL_ASSIGN_OR_RETURN(const ValueId a, value(c, 0));
    PRIMSEL_ASSIGN_OR_RETURN(const ValueId bv, value_named(c, name));
    return emit(c, is_sub ? OpKind::Add : OpKind::Mul, {a, bv}, {}, c.n.outputs[0]);
  }

  Status concat(const Ctx& c) {
    if (!c.n.attribute("axis")) return fail(c, ErrorCode::invalid_model, "Concat needs an axis attribute");
    PRIMSEL_ASSIGN_OR_RETURN(const std::int64_t axis, attr_int(c, "axis", 1));
    std::vector<ValueId> inputs;
    for (std::size_t i = 0; i < c.n.inputs.size(); ++i) {
      PRIMSEL_ASSIGN_OR_RETURN(const ValueId v, value(c, i));
      inputs.push_back(v);
    }
    return emit(c, OpKind::Concat, std::move(inputs), AxisParams{axis}, c.n.outputs[0]);
  }

  Status batch_norm(const Ctx& c) {
    PRIMSEL_ASSIGN_OR_RETURN(const std::int64_t spatial, attr_int(c, "spatial", 1));
    PRIMSEL_ASSIGN_OR_RETURN(const std::int64_t training, attr_int(c, "training_mode", 0));
    if (opset_ < 9 && spatial != 1) return fail(c, ErrorCode::unsupported, "BatchNormalization with spatial = 0 is not supported");
    if (training != 0) return fail(c, ErrorCode::unsupported, "BatchNormalization in training mode is not supported");
    BatchNormParams p;
    PRIMSEL_ASSIGN_OR_RETURN(p.epsilon, attr_float(c, "epsilon", 1e-5f));
    std::vector<ValueId> inputs;
    for (std::size_t i = 0; i < 5; ++i) {
      if (i > 0 && !constant(c, i)) return fail(c, ErrorCode::unsupported, "scale, bias, mean and variance must be constants");
      PRIMSEL_ASSIGN_OR_RETURN(const ValueId v, value(c, i));
      inputs.push_back(v);
    }
    return emit(c, OpKind::BatchNormalization, std::move(inputs), p, main_output(c, "training statistics"));
  }

  Status dropout(const Ctx& c) {
    if (opset_ >= 12 && present(c, 2)) {
      const TensorData* t = constant(c, 2);
      if (!t || t->elements() != 1) return fail(c, ErrorCode::unsupported, "training_mode must be a constant");
      if (detail::is_float(t->type) ? t->floats[0] != 0.0f : t->ints[0] != 0)
        return fail(c, ErrorCode::unsupported, "Dropout in training mode is not supported");
    }
    return unary(c, OpKind::Dropout);
  }

  /// The output shape of Flatten/Reshape/Squeeze/Unsqueeze/Identity on input shape `in` (also used on constants).
  Expected<Shape> reshaped(const Ctx& c, const Shape& in) {
    const std::string& op = c.n.op_type;
    const int rank = in.rank();
    if (op == "Identity") return in;
    if (op == "Flatten") {
      PRIMSEL_ASSIGN_OR_RETURN(std::int64_t axis, attr_int(c, "axis", 1));
      if (axis < 0) axis += rank;
      if (axis < 0 || axis > rank) return fail(c, ErrorCode::invalid_model, "axis " + std::to_string(axis) + " is outside the input's rank " + std::to_string(rank));
      std::int64_t outer = 1, inner = 1;
      for (int d = 0; d < rank; ++d) (d < axis ? outer : inner) *= in[d];
      return Shape{outer, inner};
    }
    if (op == "Reshape") {
      PRIMSEL_ASSIGN_OR_RETURN(const auto target, const_ints(c, 1, "shape"));
      PRIMSEL_ASSIGN_OR_RETURN(const std::int64_t allowzero, attr_int(c, "allowzero", 0));
      if (allowzero != 0 && std::count(target.begin(), target.end(), 0))
        return fail(c, ErrorCode::unsupported, "Reshape with allowzero = 1 to a shape containing 0 (an empty tensor)");
      bool fits = true;
      Shape want = Shape::from_dims(target.begin(), target.end(), &fits);
      if (!fits) return fail(c, ErrorCode::unsupported, "a target shape of rank " + std::to_string(target.size()));
      Shape out;
      std::int64_t known = 1;
      int infer = -1;
      for (int d = 0; d < want.rank(); ++d) {
        std::int64_t v = want[d];
        if (v == 0) {
          if (d >= rank) return fail(c, ErrorCode::invalid_model, "shape entry 0 at axis " + std::to_string(d) + " has no input dim to copy");
          v = in[d];
        }
        if (v == -1) {
          if (infer >= 0) return fail(c, ErrorCode::invalid_model, "more than one -1 in the target shape");
          infer = d;
        } else if (v < 0) {
          return fail(c, ErrorCode::invalid_model, "negative target dim " + std::to_string(v));
        } else if (v != 0 && known > (std::int64_t{1} << 40) / v) {
          return fail(c, ErrorCode::invalid_model, "target shape is too large");
        } else {
          known *= v;
        }
        out.push_back(v);
      }
      const std::int64_t total = in.numel();
      if (infer >= 0) {
        if (known == 0 || total % known != 0) return fail(c, ErrorCode::shape_mismatch, "cannot reshape " + to_string(in) + " into " + to_string(want));
        out[infer] = total / known;
      }
      if (out.numel() != total) return fail(c, ErrorCode::shape_mismatch, "cannot reshape " + to_string(in) + " into " + to_string(want));
      return out;
    }
    // Squeeze / Unsqueeze: axes from the attribute before opset 13, from input 1 since.
    std::vector<std::int64_t> axes;
    if (opset_ < 13) {
      PRIMSEL_ASSIGN_OR_RETURN(axes, attr_ints(c, "axes", {}));
    } else if (present(c, 1)) {
      PRIMSEL_ASSIGN_OR_RETURN(axes, const_ints(c, 1, "axes"));
    }
    const bool squeeze = op == "Squeeze";
    const int out_rank = squeeze ? rank : rank + static_cast<int>(axes.size());
    if (!squeeze && axes.empty()) return fail(c, ErrorCode::invalid_model, "Unsqueeze needs axes");
    if (out_rank > Shape::max_rank) return fail(c, ErrorCode::unsupported, "the result would have rank " + std::to_string(out_rank));
    std::vector<bool> marked(static_cast<std::size_t>(out_rank), false);
    for (std::int64_t a : axes) {
      const std::int64_t k = a < 0 ? a + out_rank : a;
      if (k < 0 || k >= out_rank || marked[static_cast<std::size_t>(k)])
        return fail(c, ErrorCode::invalid_model, "axis " + std::to_string(a) + " is out of range or repeated");
      marked[static_cast<std::size_t>(k)] = true;
    }
    Shape out;
    if (squeeze) {
      for (int d = 0; d < rank; ++d) {
        const bool drop = axes.empty() ? in[d] == 1 : marked[static_cast<std::size_t>(d)];
        if (drop && in[d] != 1) return fail(c, ErrorCode::shape_mismatch, "cannot squeeze axis " + std::to_string(d) + " of " + to_string(in));
        if (!drop) out.push_back(in[d]);
      }
    } else {
      for (int d = 0, from = 0; d < out_rank; ++d) out.push_back(marked[static_cast<std::size_t>(d)] ? 1 : in[from++]);
    }
    return out;
  }

  Status flatten(const Ctx& c) {
    PRIMSEL_ASSIGN_OR_RETURN(const ValueId x, value(c, 0));
    PRIMSEL_ASSIGN_OR_RETURN(const std::int64_t axis, attr_int(c, "axis", 1));
    return emit(c, OpKind::Flatten, {x}, AxisParams{axis}, c.n.outputs[0]);
  }

  /// Reshape, Squeeze and Unsqueeze on activations all become a Reshape to the shape computed here.
  Status reshape(const Ctx& c) {
    PRIMSEL_ASSIGN_OR_RETURN(const ValueId x, value(c, 0));
    PRIMSEL_ASSIGN_OR_RETURN(const Shape out, reshaped(c, g_.value(x).shape));
    return emit(c, OpKind::Reshape, {x}, ReshapeParams{out}, c.n.outputs[0]);
  }

  Status softmax(const Ctx& c) {
    PRIMSEL_ASSIGN_OR_RETURN(const ValueId x, value(c, 0));
    const Shape in = g_.value(x).shape;
    PRIMSEL_ASSIGN_OR_RETURN(std::int64_t axis, attr_int(c, "axis", opset_ < 13 ? 1 : -1));
    if (axis < 0) axis += in.rank();
    if (axis < 0 || axis >= in.rank()) return fail(c, ErrorCode::invalid_model, "axis is outside the input's rank " + std::to_string(in.rank()));
    std::int64_t trailing = 1;
    for (int d = static_cast<int>(axis) + 1; d < in.rank(); ++d) trailing *= in[d];
    if (opset_ >= 13 || trailing == 1) return emit(c, OpKind::Softmax, {x}, AxisParams{axis}, c.n.outputs[0]);
    // Before opset 13, Softmax normalises over all dims from `axis` on: flatten there, softmax, shape back.
    const std::string flat = fresh(c.n.outputs[0] + "_flat"), soft = fresh(c.n.outputs[0] + "_softmax");
    PRIMSEL_RETURN_IF_ERROR(emit(c, OpKind::Flatten, {x}, AxisParams{axis}, flat));
    PRIMSEL_RETURN_IF_ERROR(emit(c, OpKind::Softmax, {values_[flat]}, AxisParams{1}, soft));
    return emit(c, OpKind::Reshape, {values_[soft]}, ReshapeParams{in}, c.n.outputs[0]);
  }

  Status pad(const Ctx& c) {
    PRIMSEL_ASSIGN_OR_RETURN(const ValueId x, value(c, 0));
    const Shape in = g_.value(x).shape;
    if (in.rank() != 4) return fail(c, ErrorCode::unsupported, "Pad is supported on 4-D inputs (got " + to_string(in) + ")");
    PadParams p;
    PRIMSEL_ASSIGN_OR_RETURN(const std::string mode, attr_string(c, "mode", "constant"));
    if (mode == "constant")
      p.mode = PadMode::constant;
    else if (mode == "reflect")
      p.mode = PadMode::reflect;
    else if (mode == "edge")
      p.mode = PadMode::edge;
    else
      return fail(c, ErrorCode::unsupported, "Pad mode '" + mode + "' is not supported");
    std::vector<std::int64_t> pads, axes{0, 1, 2, 3};
    if (opset_ < 11) {
      PRIMSEL_ASSIGN_OR_RETURN(pads, attr_ints(c, "pads", {}));
      PRIMSEL_ASSIGN_OR_RETURN(p.value, attr_float(c, "value", 0.0f));
    } else {
      PRIMSEL_ASSIGN_OR_RETURN(pads, const_ints(c, 1, "pads"));
      if (present(c, 2)) {
        PRIMSEL_ASSIGN_OR_RETURN(p.value, const_scalar(c, 2, "constant_value"));
      }
      if (present(c, 3)) {
        PRIMSEL_ASSIGN_OR_RETURN(axes, const_ints(c, 3, "axes"));
      }
    }
    if (pads.size() != 2 * axes.size())
      return fail(c, ErrorCode::invalid_model, "pads has " + std::to_string(pads.size()) + " values for " + std::to_string(axes.size()) + " axes");
    std::vector<bool> seen(4, false);
    for (std::size_t i = 0; i < axes.size(); ++i) {
      const std::int64_t a = axes[i] < 0 ? axes[i] + 4 : axes[i];
      if (a < 0 || a >= 4 || seen[static_cast<std::size_t>(a)]) return fail(c, ErrorCode::invalid_model, "axis " + std::to_string(axes[i]) + " is out of range or repeated");
      seen[static_cast<std::size_t>(a)] = true;
      p.begin[static_cast<std::size_t>(a)] = pads[i];
      p.end[static_cast<std::size_t>(a)] = pads[i + axes.size()];
    }
    return emit(c, OpKind::Pad, {x}, p, c.n.outputs[0]);
  }

  /// ReduceMean over the two spatial axes is a GlobalAveragePool (plus a Reshape without keepdims).
  Status reduce_mean(const Ctx& c) {
    PRIMSEL_ASSIGN_OR_RETURN(const ValueId x, value(c, 0));
    const Shape in = g_.value(x).shape;
    std::vector<std::int64_t> axes;
    if (opset_ < 18) {
      PRIMSEL_ASSIGN_OR_RETURN(axes, attr_ints(c, "axes", {}));
    } else if (present(c, 1)) {
      PRIMSEL_ASSIGN_OR_RETURN(axes, const_ints(c, 1, "axes"));
    }
    PRIMSEL_ASSIGN_OR_RETURN(const std::int64_t keepdims, attr_int(c, "keepdims", 1));
    for (std::int64_t& a : axes)
      if (a < 0) a += in.rank();
    std::sort(axes.begin(), axes.end());
    if (in.rank() != 4 || axes != std::vector<std::int64_t>{2, 3})
      return fail(c, ErrorCode::unsupported, "ReduceMean is supported over the spatial axes [2, 3] of a 4-D input only");
    if (keepdims != 0) return emit(c, OpKind::GlobalAveragePool, {x}, {}, c.n.outputs[0]);
    const std::string pooled = fresh(c.n.outputs[0] + "_pooled");
    PRIMSEL_RETURN_IF_ERROR(emit(c, OpKind::GlobalAveragePool, {x}, {}, pooled));
    return emit(c, OpKind::Reshape, {values_[pooled]}, ReshapeParams{Shape{in[0], in[1]}}, c.n.outputs[0]);
  }

  const ModelProto& model_;
  const LoadOptions& opt_;
  Graph g_;
  std::int64_t opset_ = 0;
  std::unordered_map<std::string, ValueId> values_;      ///< ONNX name -> Graph value
  std::unordered_map<std::string, TensorData> consts_;   ///< ONNX name -> value known at load time
  std::unordered_map<std::string, std::string> unsupported_;  ///< outputs primsel does not compute -> why
  std::set<std::string> used_, node_names_;
};

}  // namespace detail

/// Builds a finalized Graph from a decoded model.
inline Expected<Graph> import_model(const ModelProto& m, const LoadOptions& opt = {}) { return detail::Importer(m, opt).run(); }

}  // namespace primsel::io::onnx
