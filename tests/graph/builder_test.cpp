#include <catch2/catch.hpp>

#include <vector>

#include "primsel/graph/builder.hpp"
#include "primsel/graph/model_stats.hpp"

using namespace primsel;

TEST_CASE("the builder infers shapes as layers are added") {
  GraphBuilder b("tiny", 1);
  ValueId x = b.input("input", {1, 3, 32, 32});
  x = b.conv(x, {.out_channels = 16, .kernel = 3, .stride = 2, .pad = 1, .bias = false}, "conv1");
  CHECK(b.shape(x) == Shape{1, 16, 16, 16});
  x = b.relu(b.batch_norm(x, "bn1"));
  x = b.max_pool(x, {.kernel = 2});
  CHECK(b.shape(x) == Shape{1, 16, 8, 8});
  x = b.linear(b.flatten(b.global_avg_pool(x)), 10, "fc");
  b.output(x);
  auto g = std::move(b).build();
  REQUIRE(g.ok());
  CHECK(g->finalized());
  const ModelStats s = stats(*g);
  CHECK(s.params == 16 * 3 * 9 + 2 * 16 + 16 * 10 + 10);  // conv, bn gamma/beta, fc
  CHECK(s.macs == 16 * 16 * 16 * 27 + 160);
  CHECK(g->find_value("conv1.weight").has_value());
  CHECK(g->find_value("bn1.running_var").has_value());
}

TEST_CASE("explicit weights are used as given") {
  GraphBuilder b("explicit");
  ValueId x = b.input("x", {1, 1, 2, 2});
  const std::vector<float> w{2}, bias{1};
  x = b.conv(x, {.out_channels = 1}, "c", w, bias);
  b.output(x);
  auto g = std::move(b).build();
  REQUIRE(g.ok());
  CHECK(g->value(*g->find_value("c.weight")).constant->floats()[0] == 2.0f);
  CHECK(g->value(*g->find_value("c.bias")).constant->floats()[0] == 1.0f);
}

TEST_CASE("the first builder error names its layer and stops the build") {
  GraphBuilder b("bad");
  ValueId x = b.input("x", {1, 3, 8, 8});
  ValueId y = b.input("y", {1, 4, 8, 8});
  ValueId s = b.add(x, y, "sum");
  CHECK(s == no_value);
  REQUIRE(b.error().has_value());
  b.relu(s, "after");  // ignored: the first error stands
  auto g = std::move(b).build();
  REQUIRE_FALSE(g.ok());
  CHECK_THAT(g.error().what(), Catch::Contains("Add 'sum'") && Catch::Contains("do not broadcast"));
}

TEST_CASE("wrong explicit weight counts and groups are reported") {
  GraphBuilder b("w");
  ValueId x = b.input("x", {1, 3, 8, 8});
  const std::vector<float> w(5);
  b.conv(x, {.out_channels = 2, .kernel = 3}, "c", w, {});
  CHECK_THAT(b.error()->what(), Catch::Contains("'c.weight' of shape 2x3x3x3 got 5 values"));
  GraphBuilder g2("groups");
  ValueId z = g2.input("x", {1, 3, 8, 8});
  g2.conv(z, {.out_channels = 4, .kernel = 1, .groups = 2}, "grouped");
  REQUIRE(g2.error().has_value());
  CHECK_THAT(g2.error()->what(), Catch::Contains("Conv 'grouped'"));
}
