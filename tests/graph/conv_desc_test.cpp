#include <catch2/catch.hpp>

#include "primsel/graph/conv_desc.hpp"
#include "primsel/graph/shape_inference.hpp"

using namespace primsel;

TEST_CASE("problem string leaves out defaults and partners") {
  ConvDesc d{.ic = 64, .ih = 56, .iw = 56, .oc = 64, .oh = 56, .ow = 56, .kh = 3, .kw = 3, .pads = {1, 1, 1, 1}};
  CHECK(to_string(d) == "mb1ic64ih56oc64oh56kh3ph1");
  d.has_bias = false;
  d.activation = Activation::relu();
  CHECK(to_string(d) == "mb1ic64ih56oc64oh56kh3ph1_nb_relu");
}

TEST_CASE("problem string round-trips for awkward shapes") {
  const ConvDesc cases[] = {
      {.n = 2, .groups = 3, .ic = 3, .ih = 9, .iw = 7, .oc = 6, .oh = 4, .ow = 3, .kh = 3, .kw = 3, .sh = 2, .sw = 2,
       .pads = {1, 0, 0, 0}},
      {.ic = 13, .ih = 18, .iw = 17, .oc = 24, .oh = 14, .ow = 13, .kh = 5, .kw = 5, .dh = 2, .dw = 2,
       .pads = {2, 2, 2, 2}, .activation = Activation{-1.5f, 2.0f}},
      {.ic = 32, .ih = 112, .iw = 112, .oc = 32, .oh = 112, .ow = 112, .kh = 1, .kw = 1},
      {.groups = 32, .ic = 32, .ih = 112, .iw = 112, .oc = 32, .oh = 56, .ow = 56, .kh = 3, .kw = 3, .sh = 2, .sw = 2,
       .pads = {0, 0, 1, 1}, .activation = Activation::relu6()},
  };
  for (const ConvDesc& d : cases) {
    INFO(to_string(d));
    auto parsed = parse_conv_desc(to_string(d));
    REQUIRE(parsed.ok());
    CHECK(*parsed == d);
  }
}

TEST_CASE("abbreviated problem strings fill in the output size") {
  auto d = parse_conv_desc("ic3ih224oc64kh7sh2ph3");
  REQUIRE(d.ok());
  CHECK(d->oh == 112);
  CHECK(d->ow == 112);
  CHECK(d->iw == 224);
}

TEST_CASE("malformed problem strings say what is wrong") {
  const std::pair<const char*, const char*> cases[] = {
      {"ic3ih8oc4", "needs at least ic, ih, oc and kh"},
      {"ic3ih8oc4kh3xx2", "unknown field 'xx'"},
      {"ic3ih8oc4kh", "field 'kh' needs a number"},
      {"ic3ih8oc4kh3ic5", "appears twice"},
      {"ic0ih8oc4kh3", "must be positive"},
      {"ic3ih8oc4kh3oh9", "disagrees"},
      {"ic3ih2oc4kh5", "disagrees"},
      {"g2ic3ih8oc4kh3", "divisible by groups"},
      {"ic3ih8oc4kh3_swish", "unknown suffix '_swish'"},
      {"ic3ih8oc4kh3ph1pt1", "either ph or pt"},
  };
  for (auto [text, why] : cases) {
    INFO(text);
    auto d = parse_conv_desc(text);
    REQUIRE_FALSE(d.ok());
    CHECK_THAT(d.error().what(), Catch::Contains(why) && Catch::Contains(text));
  }
}

TEST_CASE("conv_desc reads a finalized Conv node") {
  Graph g("t");
  const ValueId x = g.add_input("x", {1, 8, 9, 7});
  const ValueId w = g.add_constant("w", Tensor({8, 1, 3, 3}));
  const ValueId b = g.add_constant("b", Tensor({8}));
  g.mark_output(g.add_node(OpKind::Conv, "dw", {x, w, b},
                           ConvParams{.kernel = {3, 3}, .stride = {2, 2}, .pads = {1, 1, 1, 1}, .groups = 8}));
  REQUIRE(finalize(g).ok());
  const ConvDesc d = conv_desc(g, g.nodes()[0]);
  CHECK(d.is_depthwise());
  CHECK(to_string(d) == "mb1g8ic8ih9iw7oc8oh5ow4kh3sh2ph1");
  CHECK(d.macs() == 8 * 5 * 4 * 9);
}
