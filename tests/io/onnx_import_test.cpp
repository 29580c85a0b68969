// The ONNX reader on models built byte by byte: what each op and opset variant becomes in the Graph, and a specific
// error — naming what and where — for every kind of broken or unsupported file. (Numerical checks against expected
// outputs are in onnx_fixtures_test.cpp.)
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "onnx_model_bytes.hpp"
#include "primsel/io/onnx.hpp"

using namespace primsel;
using namespace onnx_bytes;
namespace onnx = primsel::io::onnx;

namespace {

const std::vector<float> weights(std::size_t n) {
  std::vector<float> w(n);
  for (std::size_t i = 0; i < n; ++i) w[i] = 0.01f * static_cast<float>(i % 17) - 0.08f;
  return w;
}

/// x[N,3,8,8] -> Conv 3x3 (4 filters, pad 1) -> Relu -> y
std::string conv_relu_model(std::int64_t opset = 13) {
  return model(graph({node("Conv", {"x", "w", "b"}, {"c"}, {attr_ints("kernel_shape", {3, 3}), attr_ints("pads", {1, 1, 1, 1})}, "conv"),
                      node("Relu", {"c"}, {"y"}, {}, "relu")},
                     {float_tensor("w", {4, 3, 3, 3}, weights(108)), float_tensor("b", {4}, {0.1f, 0.2f, 0.3f, 0.4f})},
                     {value_info("x", {-1, 3, 8, 8})}, {value_info("y", {-1, 4, 8, 8})}),
               opset);
}

std::string error_of(const std::string& bytes, const onnx::LoadOptions& opt = {}) {
  auto g = onnx::parse_model(bytes, opt);
  if (g.ok()) return "<loaded>";
  return g.error().what();
}

const Node& only(const Graph& g, OpKind op) {
  for (const Node& n : g.nodes())
    if (n.op == op) return n;
  FAIL("no " << to_string(op) << " node");
  return g.nodes().front();
}

}  // namespace

TEST_CASE("a conv + relu model loads into a finalized graph with the file's names and shapes") {
  auto g = onnx::parse_model(conv_relu_model());
  INFO((g.ok() ? "" : g.error().what()));
  REQUIRE(g.ok());
  CHECK(g->finalized());
  REQUIRE(g->nodes().size() == 2);
  CHECK(g->nodes()[0].op == OpKind::Conv);
  CHECK(g->nodes()[0].name == "conv");
  CHECK(g->nodes()[0].get<ConvParams>().pads == Pads2d{1, 1, 1, 1});
  CHECK(g->nodes()[1].op == OpKind::Relu);
  REQUIRE(g->inputs().size() == 1);
  CHECK(g->value(g->inputs()[0]).shape == Shape{1, 3, 8, 8});  // the dynamic batch defaults to 1
  CHECK(g->value(g->outputs()[0]).name == "y");
  CHECK(g->value(g->outputs()[0]).shape == Shape{1, 4, 8, 8});
}

TEST_CASE("the dynamic batch is fixed by the options; fixed dims must agree with a given shape") {
  auto b3 = onnx::parse_model(conv_relu_model(), {.batch = 3});
  REQUIRE(b3.ok());
  CHECK(b3->value(b3->outputs()[0]).shape == Shape{3, 4, 8, 8});
  auto named = onnx::parse_model(conv_relu_model(), {.input_shapes = {{"x", {2, 3, 8, 8}}}});
  REQUIRE(named.ok());
  CHECK(named->value(named->outputs()[0]).shape == Shape{2, 4, 8, 8});
  auto first = onnx::parse_model(conv_relu_model(), {.input_shapes = {{"", {5, 3, 8, 8}}}});
  REQUIRE(first.ok());
  CHECK(first->value(first->inputs()[0]).shape == Shape{5, 3, 8, 8});
  const std::string wrong = error_of(conv_relu_model(), {.input_shapes = {{"x", {1, 3, 16, 16}}}});
  CHECK_THAT(wrong, Catch::Contains("shape mismatch") && Catch::Contains("'x' is Nx3x8x8 in the model") && Catch::Contains("1x3x16x16"));
}

TEST_CASE("a symbolic non-batch dimension needs the input's shape") {
  const std::string m = model(graph({node("Relu", {"x"}, {"y"})}, {}, {value_info("x", {1, 3, -1, 8}, "height")}, {value_info("y", {})}));
  CHECK_THAT(error_of(m), Catch::Contains("dimension 2 is symbolic ('height')"));
  CHECK(onnx::parse_model(m, {.input_shapes = {{"x", {1, 3, 5, 8}}}}).ok());
}

TEST_CASE("auto_pad SAME_UPPER, SAME_LOWER and VALID become explicit pads") {
  auto pads_for = [](const std::string& mode, std::vector<std::int64_t> kernel, std::int64_t stride) {
    const std::int64_t oc = 2;
    const std::string m = model(graph({node("Conv", {"x", "w"}, {"y"}, {attr_string("auto_pad", mode), attr_ints("strides", {stride, stride})})},
                                      {float_tensor("w", {oc, 1, kernel[0], kernel[1]}, weights(static_cast<std::size_t>(oc * kernel[0] * kernel[1])))},
                                      {value_info("x", {1, 1, 8, 7})}, {value_info("y", {})}));
    auto g = onnx::parse_model(m);
    INFO((g.ok() ? "" : g.error().what()));
    REQUIRE(g.ok());
    return std::pair{g->nodes()[0].get<ConvParams>().pads, g->value(g->outputs()[0]).shape};
  };
  // 8x7 input, 2x2 kernel, stride 1: one pixel of padding per axis, at the end (UPPER) or the start (LOWER).
  CHECK(pads_for("SAME_UPPER", {2, 2}, 1) == std::pair{Pads2d{0, 0, 1, 1}, Shape{1, 2, 8, 7}});
  CHECK(pads_for("SAME_LOWER", {2, 2}, 1) == std::pair{Pads2d{1, 1, 0, 0}, Shape{1, 2, 8, 7}});
  // 3x3 stride 2: out = ceil(in / 2) = 4x4; total pad 1 (rows) and 2 (cols).
  CHECK(pads_for("SAME_UPPER", {3, 3}, 2) == std::pair{Pads2d{0, 1, 1, 1}, Shape{1, 2, 4, 4}});
  CHECK(pads_for("VALID", {3, 3}, 1) == std::pair{Pads2d{}, Shape{1, 2, 6, 5}});
  CHECK_THAT(error_of(model(graph({node("Conv", {"x", "w"}, {"y"}, {attr_string("auto_pad", "SAME")})}, {float_tensor("w", {1, 1, 1, 1}, {1})},
                                   {value_info("x", {1, 1, 4, 4})}, {value_info("y", {})}))),
             Catch::Contains("auto_pad 'SAME' is not an ONNX value"));
}

TEST_CASE("Clip reads min/max from attributes before opset 11 and from constant inputs since") {
  const auto clip_model = [](std::int64_t opset, bool as_inputs) {
    std::vector<std::string> inits;
    std::string clip;
    if (as_inputs) {
      inits = {float_tensor("lo", {}, {0.0f}), float_tensor("hi", {}, {6.0f})};
      clip = node("Clip", {"x", "lo", "hi"}, {"y"});
    } else {
      clip = node("Clip", {"x"}, {"y"}, {attr_float("min", 0.0f), attr_float("max", 6.0f)});
    }
    return model(graph({clip}, inits, {value_info("x", {1, 4})}, {value_info("y", {})}), opset);
  };
  for (auto [opset, inputs] : {std::pair{6 + 1, false}, std::pair{11, true}, std::pair{13, true}}) {
    auto g = onnx::parse_model(clip_model(opset, inputs));
    REQUIRE(g.ok());
    CHECK(only(*g, OpKind::Clip).get<ClipParams>() == ClipParams{0.0f, 6.0f});
  }
  // Only the max given: min stays unbounded.
  auto g = onnx::parse_model(model(graph({node("Clip", {"x", "", "hi"}, {"y"})}, {float_tensor("hi", {}, {6.0f})}, {value_info("x", {1, 4})}, {value_info("y", {})}), 13));
  REQUIRE(g.ok());
  CHECK(only(*g, OpKind::Clip).get<ClipParams>().max == 6.0f);
  CHECK(std::isinf(only(*g, OpKind::Clip).get<ClipParams>().min));
  // A bound computed at run time cannot be a fused clamp.
  CHECK_THAT(error_of(model(graph({node("Clip", {"x", "x"}, {"y"}, {}, "clip")}, {}, {value_info("x", {1, 4})}, {value_info("y", {})}), 13)),
             Catch::Contains("Clip 'clip'") && Catch::Contains("min (input 1) must be a constant"));
}

TEST_CASE("shape arithmetic on constants is evaluated at load time: x.view(x.size(0), -1)") {
  // Shape -> Gather(0) -> Unsqueeze -> Concat([-1]) -> Reshape, the pattern of PyTorch's old exports.
  for (std::int64_t opset : {11, 13}) {
    INFO("opset " << opset);
    std::vector<std::string> inits{int_tensor("zero", {}, {0}), int_tensor("minus_one", {1}, {-1})};
    std::string unsqueeze = node("Unsqueeze", {"n"}, {"n1"}, {attr_ints("axes", {0})});
    if (opset >= 13) {
      inits.push_back(int_tensor("axes", {1}, {0}));
      unsqueeze = node("Unsqueeze", {"n", "axes"}, {"n1"});
    }
    const std::string m = model(graph({node("Shape", {"x"}, {"s"}), node("Gather", {"s", "zero"}, {"n"}, {attr_int("axis", 0)}), unsqueeze,
                                       node("Concat", {"n1", "minus_one"}, {"target"}, {attr_int("axis", 0)}), node("Reshape", {"x", "target"}, {"y"})},
                                      inits, {value_info("x", {-1, 2, 3, 4})}, {value_info("y", {})}),
                                opset);
    auto g = onnx::parse_model(m, {.batch = 2});
    INFO((g.ok() ? "" : g.error().what()));
    REQUIRE(g.ok());
    REQUIRE(g->nodes().size() == 1);  // only the Reshape computes on the activation
    CHECK(g->nodes()[0].op == OpKind::Reshape);
    CHECK(g->value(g->outputs()[0]).shape == Shape{2, 24});
  }
}

TEST_CASE("Squeeze/Unsqueeze become Reshapes; axes from the attribute before opset 13, from the input since") {
  auto squeezed = [](std::int64_t opset) {
    std::vector<std::string> inits;
    std::string sq = node("Squeeze", {"p"}, {"y"}, {attr_ints("axes", {2, 3})});
    if (opset >= 13) {
      inits.push_back(int_tensor("axes", {2}, {-1, 2}));
      sq = node("Squeeze", {"p", "axes"}, {"y"});
    }
    return onnx::parse_model(model(graph({node("GlobalAveragePool", {"x"}, {"p"}), sq}, inits, {value_info("x", {1, 8, 5, 5})}, {value_info("y", {})}), opset));
  };
  for (std::int64_t opset : {11, 13}) {
    auto g = squeezed(opset);
    REQUIRE(g.ok());
    CHECK(only(*g, OpKind::Reshape).get<ReshapeParams>().shape == Shape{1, 8});
  }
  CHECK_THAT(error_of(model(graph({node("Squeeze", {"x"}, {"y"}, {attr_ints("axes", {1})}, "sq")}, {}, {value_info("x", {1, 8})}, {value_info("y", {})}), 11)),
             Catch::Contains("cannot squeeze axis 1 of 1x8"));
}

TEST_CASE("Softmax before opset 13 normalises over everything from its axis on") {
  const std::string m11 = model(graph({node("Softmax", {"x"}, {"y"}, {attr_int("axis", 1)})}, {}, {value_info("x", {1, 3, 2, 2})}, {value_info("y", {})}), 11);
  auto g = onnx::parse_model(m11);
  REQUIRE(g.ok());
  REQUIRE(g->nodes().size() == 3);  // Flatten -> Softmax(axis 1) -> Reshape back
  CHECK(g->nodes()[0].op == OpKind::Flatten);
  CHECK(g->nodes()[1].op == OpKind::Softmax);
  CHECK(g->value(g->outputs()[0]).shape == Shape{1, 3, 2, 2});
  const std::string m13 = model(graph({node("Softmax", {"x"}, {"y"})}, {}, {value_info("x", {1, 3, 2, 2})}, {value_info("y", {})}), 13);
  auto h = onnx::parse_model(m13);
  REQUIRE(h.ok());
  REQUIRE(h->nodes().size() == 1);
  CHECK(h->nodes()[0].get<AxisParams>().axis == 3);  // default -1
}

TEST_CASE("Pad: attributes before opset 11, inputs since, axes since opset 18") {
  auto pads_of = [](const std::string& m) {
    auto g = onnx::parse_model(m);
    INFO((g.ok() ? "" : g.error().what()));
    REQUIRE(g.ok());
    return g->nodes()[0].get<PadParams>();
  };
  const auto in = value_info("x", {1, 2, 4, 4});
  const PadParams v2 = pads_of(model(graph({node("Pad", {"x"}, {"y"}, {attr_ints("pads", {0, 0, 1, 2, 0, 0, 3, 4}), attr_float("value", 1.5f)})}, {}, {in}, {value_info("y", {})}), 7));
  CHECK(v2.begin == std::array<std::int64_t, 4>{0, 0, 1, 2});
  CHECK(v2.end == std::array<std::int64_t, 4>{0, 0, 3, 4});
  CHECK(v2.value == 1.5f);
  const PadParams v11 = pads_of(model(graph({node("Pad", {"x", "pads", "cv"}, {"y"}, {attr_string("mode", "reflect")})},
                                            {int_tensor("pads", {8}, {0, 0, 1, 1, 0, 0, 1, 1}), float_tensor("cv", {}, {0.0f})}, {in}, {value_info("y", {})}),
                                      11));
  CHECK(v11.mode == PadMode::reflect);
  CHECK(v11.end == std::array<std::int64_t, 4>{0, 0, 1, 1});
  const PadParams v18 = pads_of(model(graph({node("Pad", {"x", "pads", "", "axes"}, {"y"}, {attr_string("mode", "edge")})},
                                            {int_tensor("pads", {4}, {1, 2, 3, 0}), int_tensor("axes", {2}, {2, -1})}, {in}, {value_info("y", {})}),
                                      18));
  CHECK(v18.mode == PadMode::edge);
  CHECK(v18.begin == std::array<std::int64_t, 4>{0, 0, 1, 2});
  CHECK(v18.end == std::array<std::int64_t, 4>{0, 0, 3, 0});
  CHECK_THAT(error_of(model(graph({node("Pad", {"x", "pads"}, {"y"}, {attr_string("mode", "wrap")}, "pad")}, {int_tensor("pads", {8}, {0, 0, 0, 0, 0, 0, 0, 0})},
                                  {in}, {value_info("y", {})}),
                            18)),
             Catch::Contains("Pad mode 'wrap' is not supported"));
}

TEST_CASE("ReduceMean over H and W becomes a GlobalAveragePool") {
  for (std::int64_t keep : {0, 1}) {
    const std::string m13 = model(graph({node("ReduceMean", {"x"}, {"y"}, {attr_ints("axes", {2, 3}), attr_int("keepdims", keep)})}, {}, {value_info("x", {1, 6, 5, 5})}, {value_info("y", {})}), 13);
    const std::string m18 = model(graph({node("ReduceMean", {"x", "axes"}, {"y"}, {attr_int("keepdims", keep)})}, {int_tensor("axes", {2}, {-2, -1})},
                                        {value_info("x", {1, 6, 5, 5})}, {value_info("y", {})}),
                                  18);
    for (const std::string& m : {m13, m18}) {
      auto g = onnx::parse_model(m);
      REQUIRE(g.ok());
      CHECK(g->nodes()[0].op == OpKind::GlobalAveragePool);
      CHECK(g->value(g->outputs()[0]).shape == (keep ? Shape{1, 6, 1, 1} : Shape{1, 6}));
    }
  }
  CHECK_THAT(error_of(model(graph({node("ReduceMean", {"x"}, {"y"}, {attr_ints("axes", {1})}, "rm")}, {}, {value_info("x", {1, 6, 5, 5})}, {value_info("y", {})}), 13)),
             Catch::Contains("ReduceMean 'rm'") && Catch::Contains("spatial axes"));
}

TEST_CASE("Sub and Div by a constant become Add and Mul; Constant nodes feed weights") {
  const std::string m = model(graph({node("Constant", {}, {"mean"}, {attr_tensor("value", float_tensor("", {1, 2, 1, 1}, {0.5f, 0.25f}))}),
                                     node("Sub", {"x", "mean"}, {"centred"}), node("Div", {"centred", "std"}, {"y"})},
                                    {float_tensor("std", {1, 2, 1, 1}, {2.0f, 4.0f})}, {value_info("x", {1, 2, 3, 3})}, {value_info("y", {})}));
  auto g = onnx::parse_model(m);
  INFO((g.ok() ? "" : g.error().what()));
  REQUIRE(g.ok());
  REQUIRE(g->nodes().size() == 2);
  CHECK(g->nodes()[0].op == OpKind::Add);
  CHECK(g->nodes()[1].op == OpKind::Mul);
  const Tensor& neg = *g->value(g->nodes()[0].inputs[1]).constant;
  CHECK(neg.floats()[0] == -0.5f);
  const Tensor& inv = *g->value(g->nodes()[1].inputs[1]).constant;
  CHECK(inv.floats()[1] == 0.25f);
  CHECK_THAT(error_of(model(graph({node("Sub", {"x", "x"}, {"y"}, {}, "sub")}, {}, {value_info("x", {1, 2})}, {value_info("y", {})}))),
             Catch::Contains("Sub 'sub'") && Catch::Contains("constant float second input"));
}

TEST_CASE("initializers listed as graph inputs (IR 3 exports) stay constants") {
  const std::string m = model(graph({node("Conv", {"x", "w"}, {"y"})}, {float_tensor("w", {2, 1, 1, 1}, {1.0f, 2.0f})},
                                    {value_info("x", {1, 1, 3, 3}), value_info("w", {2, 1, 1, 1})}, {value_info("y", {})}),
                              7);
  auto g = onnx::parse_model(m);
  REQUIRE(g.ok());
  REQUIRE(g->inputs().size() == 1);
  CHECK(g->value(g->inputs()[0]).name == "x");
}

TEST_CASE("unsupported ops, domains and opsets are refused with op type, node name and opset") {
  const auto one_node = [](const std::string& n, std::int64_t opset = 13) {
    return model(graph({n}, {}, {value_info("x", {1, 4, 4, 4})}, {value_info("y", {})}), opset);
  };
  CHECK_THAT(error_of(one_node(node("LeakyRelu", {"x"}, {"y"}, {attr_float("alpha", 0.1f)}, "act1"))),
             Catch::Contains("unsupported: LeakyRelu 'act1'") && Catch::Contains("op 'LeakyRelu' is not supported") && Catch::Contains("(opset 13)"));
  CHECK_THAT(error_of(one_node(node("Relu", {"x"}, {"y"}, {}, "r", "com.microsoft"))), Catch::Contains("Relu 'r'") && Catch::Contains("domain 'com.microsoft'"));
  CHECK_THAT(error_of(one_node(node("Relu", {"x"}, {"y"}), 6)), Catch::Contains("opset 6 is outside the opsets primsel reads (7 to 18)"));
  CHECK_THAT(error_of(one_node(node("Relu", {"x"}, {"y"}), 19)), Catch::Contains("opset 19 is outside"));
  CHECK_THAT(error_of(model(graph({node("Relu", {"x"}, {"y"})}, {}, {value_info("x", {1, 4})}, {value_info("y", {})}), 13, "ai.onnx.ml")),
             Catch::Contains("imports no opset of the default ONNX domain"));
  CHECK_THAT(error_of(one_node(node("MaxPool", {"x"}, {"y"}, {attr_ints("kernel_shape", {2, 2}), attr_ints("dilations", {2, 2})}, "mp"))),
             Catch::Contains("MaxPool 'mp'") && Catch::Contains("dilated pooling"));
  CHECK_THAT(error_of(one_node(node("Conv", {"x", "x"}, {"y"}, {}, "c"))), Catch::Contains("Conv 'c'") && Catch::Contains("weights (input 1) must be a constant"));
  CHECK_THAT(error_of(model(graph({node("BatchNormalization", {"x", "s", "s", "s", "s"}, {"y"}, {attr_int("training_mode", 1)}, "bn")}, {float_tensor("s", {4}, {1, 1, 1, 1})},
                                  {value_info("x", {1, 4, 4, 4})}, {value_info("y", {})}),
                            15)),
             Catch::Contains("BatchNormalization 'bn'") && Catch::Contains("training mode"));
  CHECK_THAT(error_of(model(graph({node("Conv", {"x", "w"}, {"y"}, {}, "conv1d")}, {float_tensor("w", {2, 4, 3}, weights(24))}, {value_info("x", {1, 4, 9})},
                                  {value_info("y", {})}))),
             Catch::Contains("only 2-D convolutions"));
  CHECK_THAT(error_of(model(graph({node("Relu", {"x"}, {"y"})}, {}, {value_info("x", {1, 4}, "N", 7)}, {value_info("y", {})}))),
             Catch::Contains("graph input 'x' is not a float32 tensor (element type 7)"));
}

TEST_CASE("extra outputs primsel does not compute are refused where they are read") {
  const std::string m = model(graph({node("MaxPool", {"x"}, {"p", "idx"}, {attr_ints("kernel_shape", {2, 2})}, "pool"), node("Add", {"p", "idx"}, {"y"}, {}, "add")}, {},
                                    {value_info("x", {1, 2, 4, 4})}, {value_info("y", {})}));
  CHECK_THAT(error_of(m), Catch::Contains("Add 'add'") && Catch::Contains("output 1 of MaxPool 'pool' (indices)"));
  // The mask of a Dropout nobody reads is fine.
  const std::string d = model(graph({node("Dropout", {"x", "ratio"}, {"y", "mask"})}, {float_tensor("ratio", {}, {0.5f})}, {value_info("x", {1, 2})}, {value_info("y", {})}), 12);
  CHECK(onnx::parse_model(d).ok());
}

TEST_CASE("references that do not resolve name the value and the node") {
  // A weight that is neither an initializer nor produced.
  CHECK_THAT(error_of(model(graph({node("Conv", {"x", "missing_w"}, {"y"}, {}, "conv")}, {}, {value_info("x", {1, 1, 4, 4})}, {value_info("y", {})}))),
             Catch::Contains("Conv 'conv'") && Catch::Contains("weights (input 1) must be a constant"));
  CHECK_THAT(error_of(model(graph({node("Add", {"x", "ghost"}, {"y"}, {}, "add")}, {}, {value_info("x", {1, 4})}, {value_info("y", {})}))),
             Catch::Contains("Add 'add'") && Catch::Contains("input 'ghost' is not produced by any earlier node"));
  // Out of topological order.
  CHECK_THAT(error_of(model(graph({node("Relu", {"a"}, {"y"}, {}, "second"), node("Relu", {"x"}, {"a"}, {}, "first")}, {}, {value_info("x", {1, 4})},
                                  {value_info("y", {})}))),
             Catch::Contains("Relu 'second'") && Catch::Contains("topological order"));
  CHECK_THAT(error_of(model(graph({node("Relu", {"x"}, {"y"})}, {}, {value_info("x", {1, 4})}, {value_info("z", {})}))),
             Catch::Contains("graph output 'z' is not produced"));
  CHECK_THAT(error_of(model(graph({node("Relu", {"x"}, {"y"}, {}, "r1"), node("Relu", {"x"}, {"y"}, {}, "r2")}, {}, {value_info("x", {1, 4})}, {value_info("y", {})}))),
             Catch::Contains("Relu 'r2'") && Catch::Contains("value 'y' is written by more than one node"));
  CHECK_THAT(error_of(model(graph({node("Relu", {"x"}, {"y"})}, {float_tensor("w", {1}, {1}), float_tensor("w", {1}, {2})}, {value_info("x", {1, 4})},
                                  {value_info("y", {})}))),
             Catch::Contains("initializer 'w' is defined twice"));
}

TEST_CASE("attributes of the wrong type and shape errors name the node") {
  const std::string bad_attr = model(graph({node("Conv", {"x", "w"}, {"y"}, {attr_float("strides", 2.0f)}, "conv")}, {float_tensor("w", {1, 1, 1, 1}, {1})},
                                           {value_info("x", {1, 1, 4, 4})}, {value_info("y", {})}));
  CHECK_THAT(error_of(bad_attr), Catch::Contains("Conv 'conv'") && Catch::Contains("attribute 'strides' is not a list of ints"));
  const std::string mismatch = model(graph({node("Conv", {"x", "w"}, {"y"}, {}, "conv")}, {float_tensor("w", {1, 2, 1, 1}, {1, 1})},
                                           {value_info("x", {1, 3, 4, 4})}, {value_info("y", {})}));
  CHECK_THAT(error_of(mismatch), Catch::Contains("Conv 'conv'") && Catch::Contains("shape mismatch"));
  const std::string bad_reshape = model(graph({node("Reshape", {"x", "s"}, {"y"}, {}, "r")}, {int_tensor("s", {2}, {5, -1})}, {value_info("x", {1, 12})}, {value_info("y", {})}));
  CHECK_THAT(error_of(bad_reshape), Catch::Contains("Reshape 'r'") && Catch::Contains("cannot reshape 1x12 into 5x-1"));
}

TEST_CASE("corrupt bytes: truncation, varint overflow, lengths past the end, bad tensors") {
  const std::string good = conv_relu_model();
  REQUIRE(onnx::parse_model(good).ok());
  // Every proper prefix fails with an error (none may crash or load).
  for (std::size_t cut = 0; cut < good.size(); ++cut) {
    auto g = onnx::parse_model(std::string_view(good).substr(0, cut));
    INFO("cut at " << cut);
    CHECK_FALSE(g.ok());
  }
  CHECK_THAT(error_of(std::string(11, '\xff')), Catch::Contains("corrupt protobuf at byte 0") && Catch::Contains("varint"));
  CHECK_THAT(error_of(std::string("\x3a\xe8\x07", 3) + "abc"), Catch::Contains("corrupt protobuf at byte 1: field 7 claims 1000 bytes, 3 remain"));
  CHECK_THAT(error_of(""), Catch::Contains("the model has no graph"));
  // A weight whose raw data is shorter than its dims.
  Writer short_w;
  short_w.bytes(1, packed({4, 3, 3, 3})).varint(2, 1).bytes(8, "w").bytes(9, std::string(10, '\0'));
  CHECK_THAT(error_of(model(graph({node("Conv", {"x", "w"}, {"y"})}, {short_w.str()}, {value_info("x", {1, 3, 8, 8})}, {value_info("y", {})}))),
             Catch::Contains("tensor 'w' has 10 bytes of raw_data, its dims need 432"));
  // A node field that should be a string but is a varint.
  Writer bad_node;
  bad_node.varint(4, 7);
  CHECK_THAT(error_of(model(graph({bad_node.str()}, {}, {value_info("x", {1})}, {value_info("y", {})}))), Catch::Contains("is not length-delimited"));
}

TEST_CASE("load_model reads files and prefixes errors with the path") {
  CHECK_THAT(std::string(onnx::load_model("/nonexistent/model.onnx").error().what()), Catch::Contains("I/O error: cannot open '/nonexistent/model.onnx'"));
  const std::string path = "onnx_import_test_truncated.onnx";
  {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    REQUIRE(f);
    const std::string good = conv_relu_model();
    std::fwrite(good.data(), 1, good.size() / 2, f);
    std::fclose(f);
  }
  auto g = onnx::load_model(path);
  REQUIRE_FALSE(g.ok());
  CHECK_THAT(std::string(g.error().what()), Catch::StartsWith("invalid model: " + path + ": corrupt protobuf at byte"));
  std::remove(path.c_str());
}
