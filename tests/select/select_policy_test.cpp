// The cascade: cheapest model the premodel is confident in, within the latency budget.
#include <catch2/catch.hpp>

#include <array>

#include "primsel/select/select_policy.hpp"

using primsel::select::choose_model;
using primsel::select::SelectPolicy;

namespace {
constexpr std::array<double, 3> ms{0.01, 0.1, 1.0};  // tiny, medium, large
std::size_t pick(std::array<float, 3> p, SelectPolicy policy, double premodel_ms = 0.005) {
  return choose_model(p, ms, premodel_ms, policy);
}
}  // namespace

TEST_CASE("accuracy first: the cheapest model every neighbour says is right", "[select][policy]") {
  const auto first = SelectPolicy::accuracy_first();
  CHECK(pick({1, 1, 1}, first) == 0);
  CHECK(pick({0.9f, 1, 1}, first) == 1);
  CHECK(pick({0.9f, 0.95f, 1}, first) == 2);
  // Nobody sure: the most likely to be right; ties go to the costlier model.
  CHECK(pick({0.2f, 0.6f, 0.4f}, first) == 1);
  CHECK(pick({0.5f, 0.5f, 0.5f}, first) == 2);
  CHECK(pick({0.7f, 0.2f, 0.7f}, first) == 2);
}

TEST_CASE("a lower confidence takes cheap models more often", "[select][policy]") {
  CHECK(pick({0.9f, 1, 1}, SelectPolicy::accuracy_first(0.85)) == 0);
  CHECK(pick({0.8f, 0.9f, 1}, SelectPolicy::accuracy_first(0.85)) == 1);
  CHECK(pick({0.0f, 0.0f, 0.0f}, SelectPolicy::accuracy_first(0.0)) == 0);
}

TEST_CASE("a latency budget excludes models that do not fit, premodel included", "[select][policy]") {
  // Budget 0.2 ms leaves tiny and medium; large (1 ms) never runs even when only it is sure.
  CHECK(pick({0.2f, 0.5f, 1}, SelectPolicy::latency_budget(0.2)) == 1);
  CHECK(pick({0.6f, 0.5f, 1}, SelectPolicy::latency_budget(0.2)) == 0);
  CHECK(pick({1, 1, 1}, SelectPolicy::latency_budget(0.2)) == 0);
  // The premodel's own cost counts: 0.1 + 0.15 > 0.2 leaves tiny only.
  CHECK(pick({0.2f, 1, 1}, SelectPolicy::latency_budget(0.2), 0.15) == 0);
  // A budget nothing fits: the cheapest model.
  CHECK(pick({0, 0, 1}, SelectPolicy::latency_budget(0.001)) == 0);
  // A generous budget behaves like accuracy first.
  CHECK(pick({0.9f, 0.95f, 1}, SelectPolicy::latency_budget(10)) == 2);
  CHECK(pick({0.9f, 1, 1}, SelectPolicy::latency_budget(10, 0.85)) == 0);
}

TEST_CASE("degenerate inputs", "[select][policy]") {
  CHECK(choose_model({}, {}, 0, SelectPolicy{}) == 0);
  const std::array<float, 1> one{0.1f};
  const std::array<double, 1> one_ms{5};
  CHECK(choose_model(one, one_ms, 0, SelectPolicy::latency_budget(1)) == 0);
}
