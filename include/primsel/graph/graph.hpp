// Graph: a DAG of named nodes over named values. Values are the edges: graph inputs, constants (weights) and
// node outputs. Every later stage (passes, search, executors) reads this one structure.
//
//   Graph g("tiny");
//   ValueId x = g.add_input("x", {1, 3, 8, 8});
//   ValueId w = g.add_constant("w", Tensor({4, 3, 3, 3}));
//   ValueId y = g.add_node(OpKind::Conv, "conv", {x, w}, ConvParams{.kernel = {3, 3}});
//   g.mark_output(y);
//   Status s = finalize(g);    // topological order + shape inference (shape_inference.hpp); errors name the node
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "primsel/core/error.hpp"
#include "primsel/core/format.hpp"
#include "primsel/core/shape.hpp"
#include "primsel/core/tensor.hpp"
#include "primsel/graph/op.hpp"

namespace primsel {

using ValueId = std::int32_t;
inline constexpr ValueId no_value = -1;

/// The most elements one graph input or activation may have: 2^31 (8 GiB of f32). The largest activation of the zoo
/// at batch 64 has under 2^28; a shape beyond this in a model is corrupt or hostile, and refusing it where the graph
/// is built, imported or finalized keeps it from ever reaching an allocation.
inline constexpr std::int64_t max_value_elements = std::int64_t{1} << 31;

/// Why `s` cannot be the shape of a graph input or activation — "dimension 1 is 0", "dimension 2 is negative
/// (-3)", "4096x... has more than 2^31 elements" — or empty when it can. Rank is the caller's business (scalars
/// are fine inside a graph).
inline std::string value_shape_problem(const Shape& s) {
  for (int i = 0; i < s.rank(); ++i) {
    if (s[i] < 0) return "dimension " + std::to_string(i) + " is negative (" + std::to_string(s[i]) + ")";
    if (s[i] == 0) return "dimension " + std::to_string(i) + " is 0";
  }
  if (s.checked_numel(max_value_elements) < 0)
    return to_string(s) + " has more than 2^31 elements (primsel's limit per tensor)";
  return {};
}

/// value_shape_problem() for a graph input, which must also have at least one dimension.
inline std::string input_shape_problem(const Shape& s) {
  return s.rank() == 0 ? std::string("it has no dimensions") : value_shape_problem(s);
}

/// An edge of the graph. `shape` is known for inputs and constants, and filled in by shape inference for the rest.
struct Value {
  std::string name;
  Shape shape;
  DType dtype = DType::f32;
  std::optional<Tensor> constant;  ///< set for weights and other initialisers
  int producer = -1;               ///< index of the node that writes it; -1 for inputs and constants
  bool is_constant() const noexcept { return constant.has_value(); }
};

struct Node {
  OpKind op = OpKind::Identity;
  std::string name;
  std::vector<ValueId> inputs;   ///< no_value marks an omitted optional input (e.g. Conv without bias)
  std::vector<ValueId> outputs;
  OpParams params;

  template <class P>
  const P& get() const {
    return std::get<P>(params);
  }
  template <class P>
  P& get() {
    return std::get<P>(params);
  }
  /// The input at `i`, or no_value if absent.
  ValueId input(std::size_t i) const noexcept { return i < inputs.size() ? inputs[i] : no_value; }
};

class Graph {
 public:
  explicit Graph(std::string name = "graph") : name_(std::move(name)) {}

  const std::string& name() const noexcept { return name_; }
  void set_name(std::string n) { name_ = std::move(n); }

  // ---- building ----
  /// A runtime input of the network (the image).
  ValueId add_input(std::string name, Shape shape, DType dtype = DType::f32) {
    const ValueId id = add_value(std::move(name), shape, dtype);
    inputs_.push_back(id);
    return id;
  }
  /// A constant tensor (weights, bias, BN statistics).
  ValueId add_constant(std::string name, Tensor data) {
    const ValueId id = add_value(std::move(name), data.shape(), data.dtype());
    values_[static_cast<std::size_t>(id)].constant = std::move(data);
    return id;
  }
  /// A value whose producer is added later (used by importers that see uses before definitions).
  ValueId add_value(std::string name, Shape shape = {}, DType dtype = DType::f32) {
    values_.push_back(Value{std::move(name), shape, dtype, std::nullopt, -1});
    const auto id = static_cast<ValueId>(values_.size() - 1);
    by_name_[values_.back().name] = id;
    return id;
  }
  /// Adds a node with one new output value named after the node; returns that value.
  ValueId add_node(OpKind op, std::string name, std::vector<ValueId> inputs, OpParams params = {}) {
    const ValueId out = add_value(name);
    add_node_with_outputs(op, std::move(name), std::move(inputs), {out}, std::move(params));
    return out;
  }
  /// Adds a node writing existing values (for importers).
  void add_node_with_outputs(OpKind op, std::string name, std::vector<ValueId> inputs, std::vector<ValueId> outputs,
                             OpParams params = {}) {
    const int index = static_cast<int>(nodes_.size());
    for (ValueId o : outputs)
      if (valid(o)) values_[static_cast<std::size_t>(o)].producer = index;
    nodes_.push_back(Node{op, std::move(name), std::move(inputs), std::move(outputs), std::move(params)});
    finalized_ = false;
  }
  void mark_output(ValueId v) { outputs_.push_back(v); }
  /// Exchanges the names of two values (passes use it to keep graph output names stable).
  void swap_names(ValueId a, ValueId b) {
    std::swap(value(a).name, value(b).name);
    by_name_[value(a).name] = a;
    by_name_[value(b).name] = b;
  }

  // ---- reading ----
  const std::vector<Node>& nodes() const noexcept { return nodes_; }
  std::vector<Node>& nodes() noexcept { return nodes_; }
  const std::vector<Value>& values() const noexcept { return values_; }
  const Value& value(ValueId id) const { return values_[static_cast<std::size_t>(id)]; }
  Value& value(ValueId id) { return values_[static_cast<std::size_t>(id)]; }
  const std::vector<ValueId>& inputs() const noexcept { return inputs_; }
  const std::vector<ValueId>& outputs() const noexcept { return outputs_; }
  std::vector<ValueId>& outputs() noexcept { return outputs_; }
  bool valid(ValueId id) const noexcept { return id >= 0 && static_cast<std::size_t>(id) < values_.size(); }
  std::optional<ValueId> find_value(const std::string& name) const {
    auto it = by_name_.find(name);
    return it == by_name_.end() ? std::nullopt : std::optional<ValueId>(it->second);
  }
  /// True once finalize() succeeded and nothing was added since: nodes are in topological order, shapes known.
  bool finalized() const noexcept { return finalized_; }
  void set_finalized(bool f) noexcept { finalized_ = f; }

  /// For each value, the nodes that read it.
  std::vector<std::vector<int>> consumers() const {
    std::vector<std::vector<int>> c(values_.size());
    for (std::size_t n = 0; n < nodes_.size(); ++n)
      for (ValueId v : nodes_[n].inputs)
        if (valid(v)) c[static_cast<std::size_t>(v)].push_back(static_cast<int>(n));
    return c;
  }

  /// Orders nodes so each comes after the producers of its inputs; rejects dangling inputs, values written twice,
  /// and cycles, naming the node.
  Status sort_topologically() {
    for (std::size_t n = 0; n < nodes_.size(); ++n) {
      const Node& node = nodes_[n];
      for (ValueId v : node.inputs)
        PRIMSEL_CHECK(v == no_value || valid(v), ErrorCode::invalid_model, "input refers to an unknown value",
                      ErrorContext{std::string(to_string(node.op)), node.name, {}});
      PRIMSEL_CHECK(!node.outputs.empty(), ErrorCode::invalid_model, "node has no output",
                    ErrorContext{std::string(to_string(node.op)), node.name, {}});
      for (ValueId v : node.outputs) {
        PRIMSEL_CHECK(valid(v), ErrorCode::invalid_model, "output refers to an unknown value",
                      ErrorContext{std::string(to_string(node.op)), node.name, {}});
        const Value& val = value(v);
        PRIMSEL_CHECK(val.producer == static_cast<int>(n), ErrorCode::invalid_model,
                      "value '" + val.name + "' is written by more than one node",
                      ErrorContext{std::string(to_string(node.op)), node.name, {}});
        PRIMSEL_CHECK(!val.is_constant() && !is_input(v), ErrorCode::invalid_model,
                      "node writes to graph input or constant '" + val.name + "'",
                      ErrorContext{std::string(to_string(node.op)), node.name, {}});
      }
    }
    // Kahn's algorithm, stable: among ready nodes keep the original order.
    std::vector<int> missing(nodes_.size(), 0);
    for (std::size_t n = 0; n < nodes_.size(); ++n)
      for (ValueId v : nodes_[n].inputs) {
        if (v == no_value) continue;
        const Value& val = value(v);
        if (val.producer >= 0) {
          ++missing[n];
        } else if (!val.is_constant() && !is_input(v)) {
          return Error(ErrorCode::invalid_model, "input '" + val.name + "' is not produced by any node, graph input or constant",
                       ErrorContext{std::string(to_string(nodes_[n].op)), nodes_[n].name, {}});
        }
      }
    const auto readers = consumers();
    std::vector<int> order;
    std::vector<bool> placed(nodes_.size(), false);
    order.reserve(nodes_.size());
    for (std::size_t scan = 0; order.size() < nodes_.size();) {
      bool progressed = false;
      for (std::size_t n = scan; n < nodes_.size(); ++n) {
        if (placed[n] || missing[n] != 0) continue;
        placed[n] = true;
        progressed = true;
        order.push_back(static_cast<int>(n));
        for (ValueId o : nodes_[n].outputs)
          for (int r : readers[static_cast<std::size_t>(o)])
            for (ValueId in : nodes_[static_cast<std::size_t>(r)].inputs)
              if (in == o) --missing[static_cast<std::size_t>(r)];
      }
      if (!progressed) {
        for (std::size_t n = 0; n < nodes_.size(); ++n)
          if (!placed[n])
            return Error(ErrorCode::invalid_model, "the graph has a cycle through this node",
                         ErrorContext{std::string(to_string(nodes_[n].op)), nodes_[n].name, {}});
      }
      while (scan < nodes_.size() && placed[scan]) ++scan;
    }
    std::vector<Node> sorted;
    sorted.reserve(nodes_.size());
    for (int n : order) sorted.push_back(std::move(nodes_[static_cast<std::size_t>(n)]));
    nodes_ = std::move(sorted);
    for (auto& v : values_) v.producer = -1;
    for (std::size_t n = 0; n < nodes_.size(); ++n)
      for (ValueId o : nodes_[n].outputs) values_[static_cast<std::size_t>(o)].producer = static_cast<int>(n);
    for (ValueId o : outputs_)
      PRIMSEL_CHECK(valid(o) && (value(o).producer >= 0 || is_input(o) || value(o).is_constant()),
                    ErrorCode::invalid_model,
                    "graph output '" + (valid(o) ? value(o).name : std::to_string(o)) + "' is never produced");
    return {};
  }

  bool is_input(ValueId v) const noexcept { return std::find(inputs_.begin(), inputs_.end(), v) != inputs_.end(); }

  /// "Conv 'layer1.0.conv1'" context for errors about node `n`, with the shapes of its inputs.
  ErrorContext context_of(const Node& n) const {
    std::string shapes;
    for (std::size_t i = 0; i < n.inputs.size(); ++i) {
      if (!valid(n.inputs[i])) continue;
      if (!shapes.empty()) shapes += ", ";
      shapes += value(n.inputs[i]).name + " " + to_string(value(n.inputs[i]).shape);
    }
    return {std::string(to_string(n.op)), n.name, shapes};
  }

 private:
  std::string name_;
  std::vector<Value> values_;
  std::vector<Node> nodes_;
  std::vector<ValueId> inputs_;
  std::vector<ValueId> outputs_;
  std::unordered_map<std::string, ValueId> by_name_;
  bool finalized_ = false;
};

}  // namespace primsel
