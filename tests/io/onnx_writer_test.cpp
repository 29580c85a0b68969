// The ONNX writer, checked without the reader: its bytes are decoded here with the wire reader and compared with
// the graph, and (when python3 has the onnx package) ONNX's own checker with shape inference validates every file.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "primsel/graph/builder.hpp"
#include "primsel/graph/passes.hpp"
#include "primsel/io/onnx_writer.hpp"
#include "primsel/version.hpp"
#include "primsel/zoo/zoo.hpp"
#include "test_config.hpp"

using namespace primsel;
using namespace primsel::io;

namespace {

constexpr float inf = std::numeric_limits<float>::infinity();

// ---- a decoder for the parts of ModelProto the writer emits ----

struct Attr {
  std::int64_t type = 0;
  float f = 0;
  std::int64_t i = 0;
  std::string s;
  std::vector<std::int64_t> ints;
};
struct NodeProto {
  std::string op_type, name;
  std::vector<std::string> inputs, outputs;
  std::map<std::string, Attr> attrs;
};
struct TensorProto {
  std::string name;
  std::vector<std::int64_t> dims;
  std::int64_t data_type = 0;
  std::string_view raw;  // into the model bytes
};
struct ValueInfo {
  std::string name;
  std::int64_t elem_type = 0;
  std::vector<std::int64_t> dims;
};
struct GraphProto {
  std::string name;
  std::vector<NodeProto> nodes;
  std::vector<TensorProto> initializers;
  std::vector<ValueInfo> inputs, outputs, value_info;

  const NodeProto& node(std::string_view op_type, int nth = 0) const {
    for (const NodeProto& n : nodes)
      if (n.op_type == op_type && nth-- == 0) return n;
    FAIL("no " << op_type << " node");
    return nodes[0];
  }
  const TensorProto& initializer(const std::string& name) const {
    for (const TensorProto& t : initializers)
      if (t.name == name) return t;
    FAIL("no initializer '" << name << "'");
    return initializers[0];
  }
};
struct ModelProto {
  std::int64_t ir_version = 0;
  std::string producer, producer_version;
  GraphProto graph;
  std::vector<std::pair<std::string, std::int64_t>> opsets;
};

template <class F>
void for_fields(std::string_view bytes, F&& fn) {
  proto::Reader r(bytes);
  while (!r.done()) {
    auto f = r.next();
    INFO((f.ok() ? "" : f.error().what()));
    REQUIRE(f.ok());
    fn(*f);
  }
}

std::vector<std::int64_t> int64s(const proto::Field& f) {
  std::vector<std::int64_t> out;
  REQUIRE(proto::append_int64s(f, out).ok());
  return out;
}

Attr decode_attribute(std::string_view b, std::string& name) {
  Attr a;
  for_fields(b, [&](const proto::Field& f) {
    switch (f.number) {
      case 1:
        name = f.bytes;
        break;
      case 2:
        a.f = f.as_float();
        break;
      case 3:
        a.i = f.as_int64();
        break;
      case 4:
        a.s = f.bytes;
        break;
      case 8: {
        auto v = int64s(f);
        a.ints.insert(a.ints.end(), v.begin(), v.end());
        break;
      }
      case 20:
        a.type = f.as_int64();
        break;
      default:
        FAIL("unexpected AttributeProto field " << f.number);
    }
  });
  return a;
}

NodeProto decode_node(std::string_view b) {
  NodeProto n;
  for_fields(b, [&](const proto::Field& f) {
    switch (f.number) {
      case 1:
        n.inputs.emplace_back(f.bytes);
        break;
      case 2:
        n.outputs.emplace_back(f.bytes);
        break;
      case 3:
        n.name = f.bytes;
        break;
      case 4:
        n.op_type = f.bytes;
        break;
      case 5: {
        std::string name;
        Attr a = decode_attribute(f.bytes, name);
        CHECK(n.attrs.count(name) == 0);
        n.attrs[name] = a;
        break;
      }
      default:
        FAIL("unexpected NodeProto field " << f.number);
    }
  });
  return n;
}

TensorProto decode_tensor(std::string_view b) {
  TensorProto t;
  for_fields(b, [&](const proto::Field& f) {
    switch (f.number) {
      case 1: {
        auto v = int64s(f);
        t.dims.insert(t.dims.end(), v.begin(), v.end());
        break;
      }
      case 2:
        t.data_type = f.as_int64();
        break;
      case 8:
        t.name = f.bytes;
        break;
      case 9:
        t.raw = f.bytes;
        break;
      default:
        FAIL("unexpected TensorProto field " << f.number);
    }
  });
  return t;
}

ValueInfo decode_value_info(std::string_view b) {
  ValueInfo v;
  bool has_shape = false;
  for_fields(b, [&](const proto::Field& f) {
    if (f.number == 1) v.name = f.bytes;
    if (f.number != 2) return;
    for_fields(f.bytes, [&](const proto::Field& type) {         // TypeProto
      REQUIRE(type.number == 1);                                // tensor_type
      for_fields(type.bytes, [&](const proto::Field& tensor) {  // TypeProto.Tensor
        if (tensor.number == 1) v.elem_type = tensor.as_int64();
        if (tensor.number != 2) return;
        has_shape = true;
        for_fields(tensor.bytes, [&](const proto::Field& dim) {  // TensorShapeProto.dim
          for_fields(dim.bytes, [&](const proto::Field& d) {
            REQUIRE(d.number == 1);  // dim_value: every primsel shape is static
            v.dims.push_back(d.as_int64());
          });
        });
      });
    });
  });
  CHECK(has_shape);
  return v;
}

ModelProto decode_model(std::string_view bytes) {
  ModelProto m;
  for_fields(bytes, [&](const proto::Field& f) {
    switch (f.number) {
      case 1:
        m.ir_version = f.as_int64();
        break;
      case 2:
        m.producer = f.bytes;
        break;
      case 3:
        m.producer_version = f.bytes;
        break;
      case 7:
        for_fields(f.bytes, [&](const proto::Field& g) {
          switch (g.number) {
            case 1:
              m.graph.nodes.push_back(decode_node(g.bytes));
              break;
            case 2:
              m.graph.name = g.bytes;
              break;
            case 5:
              m.graph.initializers.push_back(decode_tensor(g.bytes));
              break;
            case 11:
              m.graph.inputs.push_back(decode_value_info(g.bytes));
              break;
            case 12:
              m.graph.outputs.push_back(decode_value_info(g.bytes));
              break;
            case 13:
              m.graph.value_info.push_back(decode_value_info(g.bytes));
              break;
            default:
              FAIL("unexpected GraphProto field " << g.number);
          }
        });
        break;
      case 8: {
        std::pair<std::string, std::int64_t> id;
        for_fields(f.bytes, [&](const proto::Field& o) {
          if (o.number == 1) id.first = o.bytes;
          if (o.number == 2) id.second = o.as_int64();
        });
        m.opsets.push_back(id);
        break;
      }
      default:
        FAIL("unexpected ModelProto field " << f.number);
    }
  });
  return m;
}

std::vector<float> floats_of(std::string_view raw) {
  REQUIRE(raw.size() % 4 == 0);
  std::vector<float> out(raw.size() / 4);
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = proto::load_le<float>(raw.data() + 4 * i);
  return out;
}
std::vector<std::int64_t> int64s_of(std::string_view raw) {
  REQUIRE(raw.size() % 8 == 0);
  std::vector<std::int64_t> out(raw.size() / 8);
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = proto::load_le<std::int64_t>(raw.data() + 8 * i);
  return out;
}
std::vector<std::int64_t> dims_of(const Shape& s) { return {s.begin(), s.end()}; }

std::vector<std::string> op_types(const GraphProto& g) {
  std::vector<std::string> out;
  for (const NodeProto& n : g.nodes) out.push_back(n.op_type);
  return out;
}

ModelProto write_and_decode(const Graph& g, std::string& bytes, const onnx::WriteOptions& opt = {}) {
  auto written = onnx::write_model(g, opt);
  INFO((written.ok() ? "" : written.error().what()));
  REQUIRE(written.ok());
  bytes = std::move(*written);
  return decode_model(bytes);
}

/// The invariants every written model keeps: unique SSA names, every node input defined before use, initializers
/// that match their dims, and graph inputs/outputs as the graph declares them.
void check_invariants(const Graph& g, const ModelProto& m) {
  const GraphProto& gp = m.graph;
  std::unordered_map<std::string, ValueId> by_name;  // not Graph::find_value: renames leave it stale
  for (ValueId v = 0; g.valid(v); ++v) by_name.emplace(g.value(v).name, v);
  CHECK(gp.name == g.name());
  std::set<std::string> defined;
  auto define = [&](const std::string& name) {
    INFO("value '" << name << "'");
    CHECK(!name.empty());
    CHECK(defined.insert(name).second);
  };
  REQUIRE(gp.inputs.size() == g.inputs().size());
  for (std::size_t i = 0; i < g.inputs().size(); ++i) {
    const Value& v = g.value(g.inputs()[i]);
    CHECK(gp.inputs[i].name == v.name);
    CHECK(gp.inputs[i].elem_type == 1);
    CHECK(gp.inputs[i].dims == dims_of(v.shape));
    define(v.name);
  }
  for (const TensorProto& t : gp.initializers) {
    define(t.name);
    std::int64_t n = 1;
    for (std::int64_t d : t.dims) n *= d;
    const std::size_t element = t.data_type == 1 ? 4 : t.data_type == 7 ? 8 : 0;
    CHECK(element != 0);
    CHECK(t.raw.size() == static_cast<std::size_t>(n) * element);
    if (auto v = by_name.find(t.name); v != by_name.end() && g.value(v->second).is_constant()) {
      CHECK(t.dims == dims_of(g.value(v->second).shape));
      CHECK(t.data_type == 1);
    }
  }
  for (const NodeProto& n : gp.nodes) {
    INFO(n.op_type << " '" << n.name << "'");
    CHECK(!n.inputs.empty());
    CHECK((n.inputs.empty() || !n.inputs.back().empty()));  // trailing omitted inputs are dropped
    for (const std::string& in : n.inputs)
      if (!in.empty()) CHECK(defined.count(in) == 1);
    for (const std::string& out : n.outputs) define(out);
  }
  REQUIRE(gp.outputs.size() == g.outputs().size());
  for (std::size_t i = 0; i < g.outputs().size(); ++i) {
    const Value& v = g.value(g.outputs()[i]);
    CHECK(gp.outputs[i].name == v.name);
    CHECK(gp.outputs[i].dims == dims_of(v.shape));
    CHECK(defined.count(v.name) == 1);
  }
  for (const ValueInfo& vi : gp.value_info) {
    CHECK(defined.count(vi.name) == 1);
    if (auto v = by_name.find(vi.name); v != by_name.end()) CHECK(vi.dims == dims_of(g.value(v->second).shape));
  }
}

// ---- ONNX's own checker, through python3 when it is there ----

bool python_onnx_available() {
  static const bool ok = std::system("/usr/bin/python3 -c 'import onnx' >/dev/null 2>&1") == 0;
  return ok;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  REQUIRE(in);
  std::string bytes(static_cast<std::size_t>(in.tellg()), '\0');
  in.seekg(0);
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(in);
  return bytes;
}

std::string temp_path(const std::string& stem) {
  return (std::filesystem::temp_directory_path() /
          ("primsel_writer_" + std::to_string(::getpid()) + "_" + stem + ".onnx"))
      .string();
}

/// Runs onnx.checker.check_model(full_check=True) (which includes ONNX's strict shape inference) on the file.
void check_with_onnx(const std::string& path) {
  if (!python_onnx_available()) {
    WARN("python3 with the onnx package is missing: ONNX's checker is skipped for " << path);
    return;
  }
  const std::string cmd =
      "/usr/bin/python3 -c \"import onnx,sys; m=onnx.load(sys.argv[1]); onnx.checker.check_model(m, full_check=True)\" "
      "'" +
      path + "'";
  INFO(cmd);
  CHECK(std::system(cmd.c_str()) == 0);
}

/// VGG-16 alone would take this test past its ~20 s budget: building its 138M random weights takes 7-10 s and ONNX
/// 1.12's python checker ~25 s more on its 553 MB (it parses and copies the model five times). It runs in the hidden
/// test "[.slow]" (`build/tests/test_io "[slow]"`; ctest leaves hidden tests out); every other zoo model runs by default.
constexpr std::string_view slow_zoo_model = "vgg16";

/// Saves `g`, decodes the file, checks the invariants and the weights' bytes, and runs ONNX's checker; returns the
/// decoded model (without raw_data).
ModelProto save_and_check(const Graph& g, const std::string& stem, const onnx::WriteOptions& opt = {}) {
  const std::string path = temp_path(stem);
  const Status s = onnx::save_model(g, path, opt);
  INFO((s.ok() ? "" : s.error().what()));
  REQUIRE(s.ok());
  const std::string bytes = read_file(path);
  ModelProto m = decode_model(bytes);
  check_invariants(g, m);
  std::unordered_map<std::string, ValueId> constants;
  for (ValueId v = 0; g.valid(v); ++v)
    if (g.value(v).is_constant()) constants.emplace(g.value(v).name, v);
  for (TensorProto& t : m.graph.initializers) {
    if (auto c = constants.find(t.name);
        c != constants.end() && t.raw.size() == g.value(c->second).constant->size_bytes()) {
      const std::span<const float> want = g.value(c->second).constant->floats();
      std::size_t differ = 0;
      for (std::size_t i = 0; i < want.size(); ++i) differ += proto::load_le<float>(t.raw.data() + 4 * i) != want[i];
      INFO("initializer '" << t.name << "'");
      CHECK(differ == 0);
    }
    t.raw = {};  // `bytes` dies here
  }
  check_with_onnx(path);
  std::remove(path.c_str());
  return m;
}

// ---- hand-built graphs ----

Tensor iota(const Shape& s, float scale = 0.01f) {
  std::vector<float> v(static_cast<std::size_t>(s.numel()));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = scale * static_cast<float>(static_cast<int>(i % 17) - 8);
  return Tensor::from(s, v);
}

/// Every OpKind at least once, with non-default attributes and fused activations on a Conv and on the Gemm.
Graph every_op_graph() {
  Graph g("every_op");
  const ValueId x = g.add_input("x", {1, 3, 8, 8});
  const ValueId c1 =
      g.add_node(OpKind::Conv, "conv1",
                 {x, g.add_constant("conv1.weight", iota({4, 3, 3, 3})), g.add_constant("conv1.bias", iota({4}))},
                 ConvParams{.kernel = {3, 3}, .pads = {1, 1, 1, 1}, .activation = Activation::relu()});
  const ValueId bn = g.add_node(OpKind::BatchNormalization, "bn",
                                {c1, g.add_constant("bn.scale", Tensor::from({4}, std::vector<float>{1, 2, 3, 4})),
                                 g.add_constant("bn.bias", iota({4})), g.add_constant("bn.mean", iota({4})),
                                 g.add_constant("bn.var", Tensor::from({4}, std::vector<float>{1, 1, 2, 2}))},
                                BatchNormParams{1e-3f});
  const ValueId r = g.add_node(OpKind::Relu, "relu", {bn});
  const ValueId mp =
      g.add_node(OpKind::MaxPool, "maxpool", {r},  // [1,4,5,5]
                 PoolParams{.kernel = {3, 3}, .stride = {2, 2}, .pads = {1, 1, 1, 1}, .ceil_mode = true});
  const ValueId ap =
      g.add_node(OpKind::AveragePool, "avgpool", {mp},  // [1,4,5,5]
                 PoolParams{.kernel = {2, 2}, .stride = {1, 1}, .pads = {0, 0, 1, 1}, .count_include_pad = true});
  const ValueId pr = g.add_node(OpKind::Pad, "pad_reflect", {ap},  // [1,4,6,8]
                                PadParams{.begin = {0, 0, 1, 1}, .end = {0, 0, 0, 2}, .mode = PadMode::reflect});
  const ValueId pc =
      g.add_node(OpKind::Pad, "pad_const", {pr},  // [1,4,7,8]
                 PadParams{.begin = {0, 0, 0, 0}, .end = {0, 0, 1, 0}, .mode = PadMode::constant, .value = 0.5f});
  const ValueId gap = g.add_node(OpKind::GlobalAveragePool, "gap", {pc});
  const ValueId sg = g.add_node(OpKind::Sigmoid, "sigmoid", {gap});
  const ValueId mul = g.add_node(OpKind::Mul, "mul", {pc, sg});
  const ValueId add = g.add_node(OpKind::Add, "add", {mul, pc});
  const ValueId cat = g.add_node(OpKind::Concat, "concat", {add, mul}, AxisParams{-3});  // [1,8,7,8]
  const ValueId clip = g.add_node(OpKind::Clip, "clip", {cat}, ClipParams{.max = 6.0f});
  const ValueId dw =
      g.add_node(OpKind::Conv, "dwconv", {clip, g.add_constant("dwconv.weight", iota({8, 1, 3, 3}))},  // [1,8,3,3]
                 ConvParams{.kernel = {3, 3},
                            .stride = {2, 2},
                            .dilation = {2, 2},
                            .pads = {2, 1, 0, 1},
                            .groups = 8,
                            .activation = Activation::relu6()});
  const ValueId id = g.add_node(OpKind::Identity, "identity", {dw});
  const ValueId drop = g.add_node(OpKind::Dropout, "dropout",
                                  {id, g.add_constant("dropout.ratio", Tensor::from({}, std::vector<float>{0.5f}))});
  const ValueId rs = g.add_node(OpKind::Reshape, "reshape", {drop}, ReshapeParams{Shape{1, 8, -1}});  // [1,8,9]
  const ValueId fl = g.add_node(OpKind::Flatten, "flatten", {rs}, AxisParams{1});                     // [1,72]
  const ValueId gemm = g.add_node(
      OpKind::Gemm, "fc", {fl, g.add_constant("fc.weight", iota({10, 72})), g.add_constant("fc.bias", iota({10}))},
      GemmParams{.alpha = 0.5f, .beta = 2.0f, .trans_b = true, .activation = {-1.0f, inf}});
  const ValueId mm = g.add_node(OpKind::MatMul, "matmul", {gemm, g.add_constant("matmul.weight", iota({10, 5}))});
  const ValueId sm = g.add_node(OpKind::Softmax, "softmax", {mm}, AxisParams{1});
  g.mark_output(sm);
  g.mark_output(cat);
  REQUIRE(finalize(g).ok());
  return g;
}

}  // namespace

TEST_CASE("a small graph is written as the ModelProto ONNX expects") {
  GraphBuilder b("tiny", 1);
  ValueId x = b.input("input", {1, 3, 32, 32});
  x = b.conv(x, {.out_channels = 16, .kernel = 3, .stride = 2, .pad = 1, .bias = false}, "conv1");
  x = b.relu(b.batch_norm(x, "bn1", 1e-3f), "relu1");
  x = b.max_pool(x, {.kernel = 2}, "pool1");
  x = b.softmax(b.linear(b.flatten(b.global_avg_pool(x, "gap"), "flat"), 10, "fc"), "prob");
  b.output(x);
  auto g = std::move(b).build();
  REQUIRE(g.ok());

  std::string bytes;
  const ModelProto m = write_and_decode(*g, bytes);
  check_invariants(*g, m);
  CHECK(m.ir_version == 7);
  CHECK(m.producer == "primsel");
  CHECK(m.producer_version == version_string);
  REQUIRE(m.opsets.size() == 1);
  CHECK(m.opsets[0] == std::pair<std::string, std::int64_t>{"", 13});

  const GraphProto& gp = m.graph;
  CHECK(op_types(gp) == std::vector<std::string>{"Conv", "BatchNormalization", "Relu", "MaxPool", "GlobalAveragePool",
                                                 "Flatten", "Gemm", "Softmax"});
  const NodeProto& conv = gp.node("Conv");
  CHECK(conv.name == "conv1");
  CHECK(conv.inputs == std::vector<std::string>{"input", "conv1.weight"});
  CHECK(conv.outputs == std::vector<std::string>{"conv1"});
  CHECK(conv.attrs.at("kernel_shape").ints == std::vector<std::int64_t>{3, 3});
  CHECK(conv.attrs.at("kernel_shape").type == 7);
  CHECK(conv.attrs.at("strides").ints == std::vector<std::int64_t>{2, 2});
  CHECK(conv.attrs.at("dilations").ints == std::vector<std::int64_t>{1, 1});
  CHECK(conv.attrs.at("pads").ints == std::vector<std::int64_t>{1, 1, 1, 1});
  CHECK(conv.attrs.at("group").i == 1);
  CHECK(conv.attrs.at("group").type == 2);
  CHECK(gp.node("BatchNormalization").inputs ==
        std::vector<std::string>{"conv1", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var"});
  CHECK(gp.node("BatchNormalization").attrs.at("epsilon").f == 1e-3f);
  CHECK(gp.node("BatchNormalization").attrs.at("epsilon").type == 1);
  const NodeProto& pool = gp.node("MaxPool");
  CHECK(pool.attrs.at("kernel_shape").ints == std::vector<std::int64_t>{2, 2});
  CHECK(pool.attrs.at("strides").ints == std::vector<std::int64_t>{2, 2});
  CHECK(pool.attrs.at("pads").ints == std::vector<std::int64_t>{0, 0, 0, 0});
  CHECK(pool.attrs.at("ceil_mode").i == 0);
  CHECK(pool.attrs.count("count_include_pad") == 0);
  const NodeProto& gemm = gp.node("Gemm");
  CHECK(gemm.inputs == std::vector<std::string>{"flat", "fc.weight", "fc.bias"});
  CHECK(gemm.attrs.at("alpha").f == 1.0f);
  CHECK(gemm.attrs.at("beta").f == 1.0f);
  CHECK(gemm.attrs.at("transA").i == 0);
  CHECK(gemm.attrs.at("transB").i == 1);
  CHECK(gp.node("Flatten").attrs.at("axis").i == 1);
  CHECK(gp.node("Softmax").attrs.at("axis").i == -1);
  CHECK(gp.node("GlobalAveragePool").attrs.empty());

  // Initializers: the constants, in first-use order, with their exact bytes.
  std::vector<std::string> names;
  for (const TensorProto& t : gp.initializers) names.push_back(t.name);
  CHECK(names == std::vector<std::string>{"conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean",
                                          "bn1.running_var", "fc.weight", "fc.bias"});
  const TensorProto& w = gp.initializer("conv1.weight");
  CHECK(w.dims == std::vector<std::int64_t>{16, 3, 3, 3});
  CHECK(w.data_type == 1);
  CHECK(w.raw.size() == 16 * 27 * 4);
  const Tensor& weight = *g->value(*g->find_value("conv1.weight")).constant;
  CHECK(floats_of(w.raw) == std::vector<float>(weight.floats().begin(), weight.floats().end()));

  REQUIRE(gp.inputs.size() == 1);
  CHECK(gp.inputs[0].name == "input");
  CHECK(gp.inputs[0].dims == std::vector<std::int64_t>{1, 3, 32, 32});
  REQUIRE(gp.outputs.size() == 1);
  CHECK(gp.outputs[0].name == "prob");
  CHECK(gp.outputs[0].dims == std::vector<std::int64_t>{1, 10});
  CHECK(gp.value_info.size() == 7);  // every node output but the graph output

  // save_model writes the same bytes.
  const std::string path = temp_path("tiny");
  REQUIRE(onnx::save_model(*g, path).ok());
  CHECK(read_file(path) == bytes);
  check_with_onnx(path);
  std::remove(path.c_str());
}

TEST_CASE("every op kind is written, with its attributes and attribute-like inputs") {
  const Graph g = every_op_graph();
  const ModelProto m = save_and_check(g, "every_op");
  std::string bytes;
  const ModelProto full = write_and_decode(g, bytes);  // with raw_data, for the initializer values
  const GraphProto& gp = full.graph;

  const std::vector<std::string> ops = op_types(gp);
  const std::set<std::string> written(ops.begin(), ops.end());
  for (OpKind k : all_op_kinds) {
    INFO(to_string(k));
    CHECK(written.count(std::string(to_string(k))) == 1);
  }
  CHECK(op_types(gp) == std::vector<std::string>{"Conv",    "Relu",     "BatchNormalization",
                                                 "Relu",    "MaxPool",  "AveragePool",
                                                 "Pad",     "Pad",      "GlobalAveragePool",
                                                 "Sigmoid", "Mul",      "Add",
                                                 "Concat",  "Clip",     "Conv",
                                                 "Clip",    "Identity", "Dropout",
                                                 "Reshape", "Flatten",  "Gemm",
                                                 "Clip",    "MatMul",   "Softmax"});

  // Fused Relu: the Conv writes a new intermediate, the Relu the original name.
  const NodeProto& conv = gp.node("Conv");
  CHECK(conv.outputs == std::vector<std::string>{"conv1.pre_act"});
  CHECK(gp.nodes[1].inputs == std::vector<std::string>{"conv1.pre_act"});
  CHECK(gp.nodes[1].outputs == std::vector<std::string>{"conv1"});
  CHECK(gp.nodes[1].name == "conv1.relu");
  // Fused Relu6 on the depthwise conv: a Clip with both bounds as scalar initializers.
  const NodeProto& dw = gp.node("Conv", 1);
  CHECK(dw.attrs.at("group").i == 8);
  CHECK(dw.attrs.at("strides").ints == std::vector<std::int64_t>{2, 2});
  CHECK(dw.attrs.at("dilations").ints == std::vector<std::int64_t>{2, 2});
  CHECK(dw.attrs.at("pads").ints == std::vector<std::int64_t>{2, 1, 0, 1});
  CHECK(dw.inputs == std::vector<std::string>{"clip", "dwconv.weight"});
  const NodeProto& relu6 = gp.node("Clip", 1);
  CHECK(relu6.inputs == std::vector<std::string>{"dwconv.pre_act", "dwconv.clip.min", "dwconv.clip.max"});
  CHECK(relu6.outputs == std::vector<std::string>{"dwconv"});
  CHECK(floats_of(gp.initializer("dwconv.clip.min").raw) == std::vector<float>{0.0f});
  CHECK(floats_of(gp.initializer("dwconv.clip.max").raw) == std::vector<float>{6.0f});
  CHECK(gp.initializer("dwconv.clip.max").dims.empty());  // a scalar
  // Clip(-inf, 6): the infinite min is an omitted input.
  const NodeProto& clip = gp.node("Clip");
  CHECK(clip.name == "clip");
  CHECK(clip.inputs == std::vector<std::string>{"concat", "", "clip.max"});
  // Gemm with a fused Clip(-1, inf): the trailing omitted max is dropped.
  const NodeProto& gemm = gp.node("Gemm");
  CHECK(gemm.attrs.at("alpha").f == 0.5f);
  CHECK(gemm.attrs.at("beta").f == 2.0f);
  CHECK(gemm.outputs == std::vector<std::string>{"fc.pre_act"});
  const NodeProto& gemm_clip = gp.node("Clip", 2);
  CHECK(gemm_clip.inputs == std::vector<std::string>{"fc.pre_act", "fc.clip.min"});
  CHECK(gemm_clip.outputs == std::vector<std::string>{"fc"});
  CHECK(floats_of(gp.initializer("fc.clip.min").raw) == std::vector<float>{-1.0f});

  const NodeProto& mp = gp.node("MaxPool");
  CHECK(mp.attrs.at("ceil_mode").i == 1);
  CHECK(mp.attrs.at("pads").ints == std::vector<std::int64_t>{1, 1, 1, 1});
  const NodeProto& ap = gp.node("AveragePool");
  CHECK(ap.attrs.at("count_include_pad").i == 1);
  CHECK(ap.attrs.at("ceil_mode").i == 0);
  CHECK(ap.attrs.at("pads").ints == std::vector<std::int64_t>{0, 0, 1, 1});
  CHECK(gp.node("Concat").attrs.at("axis").i == -3);

  const NodeProto& pad = gp.node("Pad");
  CHECK(pad.attrs.at("mode").s == "reflect");
  CHECK(pad.attrs.at("mode").type == 3);
  CHECK(pad.inputs == std::vector<std::string>{"avgpool", "pad_reflect.pads"});
  CHECK(gp.initializer("pad_reflect.pads").data_type == 7);
  CHECK(gp.initializer("pad_reflect.pads").dims == std::vector<std::int64_t>{8});
  CHECK(int64s_of(gp.initializer("pad_reflect.pads").raw) == std::vector<std::int64_t>{0, 0, 1, 1, 0, 0, 0, 2});
  const NodeProto& pad_const = gp.node("Pad", 1);
  CHECK(pad_const.attrs.at("mode").s == "constant");
  CHECK(pad_const.inputs == std::vector<std::string>{"pad_reflect", "pad_const.pads", "pad_const.value"});
  CHECK(floats_of(gp.initializer("pad_const.value").raw) == std::vector<float>{0.5f});

  const NodeProto& reshape = gp.node("Reshape");
  CHECK(reshape.inputs == std::vector<std::string>{"dropout", "reshape.shape"});
  CHECK(int64s_of(gp.initializer("reshape.shape").raw) == std::vector<std::int64_t>{1, 8, -1});
  CHECK(gp.initializer("reshape.shape").dims == std::vector<std::int64_t>{3});
  CHECK(gp.node("Dropout").inputs == std::vector<std::string>{"identity"});  // the ratio changes nothing at inference
  for (const TensorProto& t : gp.initializers) CHECK(t.name != "dropout.ratio");
  CHECK(gp.node("Softmax").attrs.at("axis").i == 1);

  // Two outputs, in the graph's order; the intermediates (fused pre-activations included) carry their shapes.
  REQUIRE(gp.outputs.size() == 2);
  CHECK(gp.outputs[1].name == "concat");
  CHECK(gp.outputs[1].dims == std::vector<std::int64_t>{1, 8, 7, 8});
  bool pre_act_shape = false;
  for (const ValueInfo& vi : gp.value_info)
    if (vi.name == "dwconv.pre_act") pre_act_shape = vi.dims == std::vector<std::int64_t>{1, 8, 3, 3};
  CHECK(pre_act_shape);
  CHECK(m.graph.nodes.size() == gp.nodes.size());
}

TEST_CASE("generated names never collide with the graph's own") {
  Graph g("collide");
  const ValueId x = g.add_input("x", {1, 2, 4, 4});
  g.add_input("c.pre_act", {1});  // the name the fused Conv's intermediate would take
  const ValueId c = g.add_node(OpKind::Conv, "c", {x, g.add_constant("r.shape", iota({2, 2, 1, 1}))},
                               ConvParams{.activation = Activation::relu6()});
  const ValueId r = g.add_node(OpKind::Reshape, "r", {c}, ReshapeParams{Shape{1, -1}});
  const ValueId r2 = g.add_node(OpKind::Reshape, "r", {r}, ReshapeParams{Shape{2, -1}});  // same node name twice
  g.value(r2).name = "r2";
  g.add_constant("c.clip.min", iota({1}));  // unused: not written, but still reserved
  g.mark_output(r2);
  REQUIRE(finalize(g).ok());

  const ModelProto m = save_and_check(g, "collide");
  const GraphProto& gp = m.graph;
  CHECK(gp.node("Conv").outputs == std::vector<std::string>{"c.pre_act_1"});
  CHECK(gp.node("Clip").inputs == std::vector<std::string>{"c.pre_act_1", "c.clip.min_1", "c.clip.max"});
  CHECK(gp.node("Reshape").inputs == std::vector<std::string>{"c", "r.shape_1"});
  CHECK(gp.node("Reshape", 1).inputs == std::vector<std::string>{"r", "r_1.shape"});
  CHECK(gp.node("Reshape").name == "r");
  CHECK(gp.node("Reshape", 1).name == "r_1");  // ONNX node names are unique too
  std::set<std::string> initializers;
  for (const TensorProto& t : gp.initializers) initializers.insert(t.name);
  CHECK(initializers == std::set<std::string>{"r.shape", "c.clip.min_1", "c.clip.max", "r.shape_1", "r_1.shape"});
}

TEST_CASE("optimized graphs write their fused activations back as Relu and Clip nodes") {
  GraphBuilder b("fused", 3);
  ValueId x = b.input("x", {1, 3, 16, 16});
  x = b.relu(b.batch_norm(b.conv(x, {.out_channels = 8, .kernel = 3, .pad = 1}, "c1"), "bn1"), "relu1");
  x = b.relu6(b.conv(x, {.out_channels = 8, .kernel = 3, .groups = 8}, "c2"), "relu6");
  x = b.relu(b.linear(b.flatten(b.global_avg_pool(x)), 4, "fc"), "out");
  b.output(x);
  auto g = std::move(b).build();
  REQUIRE(g.ok());
  REQUIRE(optimize(*g).ok());

  const ModelProto m = save_and_check(*g, "fused");
  CHECK(op_types(m.graph) ==
        std::vector<std::string>{"Conv", "Relu", "Conv", "Clip", "GlobalAveragePool", "Flatten", "Gemm", "Relu"});
  CHECK(m.graph.outputs[0].name == "out");
  CHECK(m.graph.nodes.back().outputs == std::vector<std::string>{"out"});
  // Fusing kept the Conv's value (named after it); the Relu writes that name, the Conv an intermediate.
  CHECK(m.graph.nodes[0].outputs == std::vector<std::string>{"c1.pre_act"});
  CHECK(m.graph.nodes[1].inputs == std::vector<std::string>{"c1.pre_act"});
  CHECK(m.graph.nodes[1].outputs == std::vector<std::string>{"c1"});
  CHECK(m.graph.nodes[2].inputs.front() == "c1");
  CHECK(m.graph.nodes[3].inputs == std::vector<std::string>{"c2.pre_act", "c2.clip.min", "c2.clip.max"});
  // The folded weights are written; the BatchNorm's constants, now unread, are not.
  std::set<std::string> initializers;
  for (const TensorProto& t : m.graph.initializers) initializers.insert(t.name);
  CHECK(initializers.count("bn1.running_var") == 0);
  CHECK(m.graph.nodes[0].inputs.size() == 3);
}

namespace {
std::size_t constants_read(const Graph& g) {
  std::vector<bool> read(g.values().size(), false);
  std::size_t count = 0;
  for (const Node& n : g.nodes())
    for (ValueId v : n.inputs)
      if (v != no_value && g.value(v).is_constant() && !read[static_cast<std::size_t>(v)]) {
        read[static_cast<std::size_t>(v)] = true;
        ++count;
      }
  return count;
}

/// Initializers the writer adds: Reshape shapes, finite Clip bounds (of Clip nodes and fused clamps other than Relu).
std::size_t generated_initializers(const Graph& g) {
  std::size_t count = 0;
  auto bounds = [](float lo, float hi) { return std::size_t{std::isfinite(lo)} + std::isfinite(hi); };
  for (const Node& n : g.nodes()) {
    count += n.op == OpKind::Reshape;
    if (n.op == OpKind::Clip) count += bounds(n.get<ClipParams>().min, n.get<ClipParams>().max);
    const Activation* act = n.op == OpKind::Conv   ? &n.get<ConvParams>().activation
                            : n.op == OpKind::Gemm ? &n.get<GemmParams>().activation
                                                   : nullptr;
    if (act && !act->is_none() && !(*act == Activation::relu())) count += bounds(act->lo, act->hi);
  }
  return count;
}

std::size_t fused_activations(const Graph& g) {
  std::size_t count = 0;
  for (const Node& n : g.nodes()) {
    if (n.op == OpKind::Conv) count += !n.get<ConvParams>().activation.is_none();
    if (n.op == OpKind::Gemm) count += !n.get<GemmParams>().activation.is_none();
  }
  return count;
}
}  // namespace

TEST_CASE("every zoo model writes a valid ONNX model, weights and shapes intact") {
  for (const zoo::ZooEntry& e : zoo::models) {
    // Reduced: the models whose weights take seconds to generate under emulation are left out.
    const bool heavy = e.name == "resnet50" || e.name == "resnet18" || e.name == "googlenet";
    if (e.name == slow_zoo_model || (testing::reduced && heavy)) continue;
    const std::string name(e.name);
    INFO(name);
    auto g = e.make(42);
    REQUIRE(g.ok());
    const ModelProto m = save_and_check(*g, name);
    CHECK(m.graph.nodes.size() == g->nodes().size());
    CHECK(m.graph.initializers.size() == constants_read(*g) + generated_initializers(*g));
    CHECK(m.graph.value_info.size() == g->nodes().size() - g->outputs().size());
  }
}

TEST_CASE("VGG-16 (553 MB of weights) writes a valid ONNX model too", "[.slow]") {
  auto g = zoo::build(slow_zoo_model, {.calibrate = false});
  REQUIRE(g.ok());
  const ModelProto m = save_and_check(*g, std::string(slow_zoo_model));
  CHECK(m.graph.nodes.size() == g->nodes().size());
  CHECK(m.graph.initializers.size() == constants_read(*g) + generated_initializers(*g));
}

TEST_CASE("optimized zoo models (folded BatchNorm, fused Relu/Relu6) stay valid ONNX") {
  for (const char* name : {"mobilenet_v2", "squeezenet1_1"}) {
    INFO(name);
    auto g = zoo::build(name, {.calibrate = false});
    REQUIRE(g.ok());
    REQUIRE(optimize(*g).ok());
    const std::size_t fused = fused_activations(*g);
    CHECK(fused > 0);
    const ModelProto m = save_and_check(*g, std::string(name) + "_optimized");
    CHECK(m.graph.nodes.size() == g->nodes().size() + fused);
    CHECK(m.graph.initializers.size() == constants_read(*g) + generated_initializers(*g));
    for (const NodeProto& n : m.graph.nodes) CHECK(n.op_type != "BatchNormalization");
  }
}

TEST_CASE("other opsets: 13 to 21 are written with their IR version, others are refused") {
  const Graph g = every_op_graph();
  std::string bytes;
  const ModelProto m17 = write_and_decode(g, bytes, {.opset = 17, .producer = "exporter"});
  CHECK(m17.ir_version == 8);
  CHECK(m17.producer == "exporter");
  CHECK(m17.opsets[0].second == 17);
  save_and_check(g, "opset17", {.opset = 17});  // the newest opset onnx 1.12 knows
  CHECK(write_and_decode(g, bytes, {.opset = 21}).ir_version == 10);
  for (std::int64_t opset : {12, 22}) {
    auto r = onnx::write_model(g, {.opset = opset});
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code() == ErrorCode::unsupported);
    CHECK_THAT(r.error().what(), Catch::Contains("opset " + std::to_string(opset)) && Catch::Contains("13 to 21"));
  }
}

TEST_CASE("constants in a blocked layout are written in plain NCHW order") {
  Graph g("blocked");
  const ValueId x = g.add_input("x", {1, 3, 2, 2});
  const Tensor plain = iota({1, 3, 2, 2});
  auto blocked = to_layout(plain, Layout::nchw8c);
  REQUIRE(blocked.ok());
  g.mark_output(g.add_node(OpKind::Add, "add", {x, g.add_constant("bias", std::move(*blocked))}));
  REQUIRE(finalize(g).ok());
  std::string bytes;
  const ModelProto m = write_and_decode(g, bytes);
  CHECK(floats_of(m.graph.initializer("bias").raw) == std::vector<float>(plain.floats().begin(), plain.floats().end()));
  CHECK(m.graph.initializer("bias").dims == std::vector<std::int64_t>{1, 3, 2, 2});
}

TEST_CASE("graphs the writer cannot express are refused, naming the node or value") {
  SECTION("a graph that was never finalized") {
    Graph g("raw");
    const ValueId x = g.add_input("x", {1, 4});
    g.mark_output(g.add_node(OpKind::Relu, "r", {x}));
    auto r = onnx::write_model(g);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code() == ErrorCode::invalid_argument);
    CHECK_THAT(r.error().what(), Catch::Contains("graph 'raw' is not finalized"));
  }
  SECTION("a fused activation on an op that cannot carry it") {
    Graph g("act");
    const ValueId x = g.add_input("x", {1, 4});
    g.mark_output(g.add_node(OpKind::Relu, "r", {x}, ConvParams{.activation = Activation::relu6()}));
    REQUIRE(finalize(g).ok());  // Relu ignores its parameters, so shape inference lets it through
    auto r = onnx::write_model(g);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code() == ErrorCode::unsupported);
    CHECK_THAT(r.error().what(), Catch::Contains("Relu 'r'") && Catch::Contains("fused activation") &&
                                     Catch::Contains("only Conv and Gemm"));
  }
  SECTION("parameters ONNX's op has no attribute for") {
    Graph g("params");
    const ValueId x = g.add_input("x", {1, 4});
    g.mark_output(g.add_node(OpKind::Sigmoid, "s", {x}, AxisParams{0}));
    REQUIRE(finalize(g).ok());
    auto r = onnx::write_model(g);
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error().what(), Catch::Contains("Sigmoid 's'") &&
                                     Catch::Contains("carries AxisParams parameters; ONNX's Sigmoid takes none"));
  }
  SECTION("a fused activation that is not an interval") {
    Graph g("nan");
    const ValueId x = g.add_input("x", {2, 4});
    g.mark_output(g.add_node(OpKind::Gemm, "fc", {x, g.add_constant("w", iota({4, 3}))},
                             GemmParams{.activation = {std::numeric_limits<float>::quiet_NaN(), 1.0f}}));
    REQUIRE(finalize(g).ok());
    auto r = onnx::write_model(g);
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error().what(), Catch::Contains("Gemm 'fc'") && Catch::Contains("not an interval"));
  }
  SECTION("a constant that is not float32") {
    Graph g("int8");
    const ValueId x = g.add_input("x", {1, 4});
    g.mark_output(
        g.add_node(OpKind::Add, "add", {x, g.add_constant("q", Tensor({1, 4}, Format{Layout::nchw, DType::s8}))}));
    REQUIRE(finalize(g).ok());
    auto r = onnx::write_model(g);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code() == ErrorCode::unsupported);
    CHECK_THAT(r.error().what(), Catch::Contains("constant 'q' has dtype s8"));
  }
  SECTION("two values with one name") {
    Graph g("dup");
    const ValueId x = g.add_input("x", {1, 4});
    g.mark_output(g.add_node(OpKind::Relu, "x", {x}));  // the output is named after the node: "x" again
    REQUIRE(finalize(g).ok());
    auto r = onnx::write_model(g);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code() == ErrorCode::invalid_model);
    CHECK_THAT(r.error().what(), Catch::Contains("Relu 'x'") && Catch::Contains("two values are named 'x'"));
  }
  SECTION("a Dropout mask that is read (ONNX types it bool, primsel float)") {
    Graph g("mask");
    const ValueId x = g.add_input("x", {1, 4});
    const ValueId y = g.add_value("y"), mask = g.add_value("mask");
    g.add_node_with_outputs(OpKind::Dropout, "drop", {x}, {y, mask});
    g.mark_output(y);
    g.mark_output(mask);
    REQUIRE(finalize(g).ok());
    auto r = onnx::write_model(g);
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error().what(), Catch::Contains("Dropout 'drop'") && Catch::Contains("mask 'mask'"));
  }
  SECTION("an unwritable path") {
    auto g = zoo::lenet5(1);
    REQUIRE(g.ok());
    const Status s = onnx::save_model(*g, "/nonexistent-dir/x.onnx");
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code() == ErrorCode::io_error);
    CHECK_THAT(s.error().what(), Catch::Contains("'/nonexistent-dir/x.onnx'"));
  }
}
