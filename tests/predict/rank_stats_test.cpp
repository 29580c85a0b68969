#include "primsel/predict/rank_stats.hpp"

#include <catch2/catch.hpp>

#include <vector>

using primsel::predict::best_in_top_k;
using primsel::predict::kendall_tau;

TEST_CASE("kendall tau of identical, reversed and unrelated orders") {
  const std::vector<double> a{1, 2, 3, 4, 5};
  const std::vector<double> scaled{10, 20, 30, 40, 50};  // only the order counts
  const std::vector<double> reversed{5, 4, 3, 2, 1};
  CHECK(kendall_tau(a, a) == Approx(1.0));
  CHECK(kendall_tau(a, scaled) == Approx(1.0));
  CHECK(kendall_tau(a, reversed) == Approx(-1.0));
  // One swapped neighbour pair out of 10 pairs: (9 - 1) / 10.
  CHECK(kendall_tau(a, std::vector<double>{2, 1, 3, 4, 5}) == Approx(0.8));
}

TEST_CASE("kendall tau-b corrects for ties") {
  // x = 1 1 2 3, y = 1 2 3 4: pairs 6, one tied in x; concordant 5 -> 5 / sqrt(5 * 6).
  CHECK(kendall_tau(std::vector<double>{1, 1, 2, 3}, std::vector<double>{1, 2, 3, 4}) == Approx(5.0 / std::sqrt(30.0)));
  // Ties on both sides at the same pair: a perfect agreement stays 1.
  CHECK(kendall_tau(std::vector<double>{1, 1, 2}, std::vector<double>{5, 5, 9}) == Approx(1.0));
  // Nothing to rank: 0 rather than NaN.
  CHECK(kendall_tau(std::vector<double>{1, 1, 1}, std::vector<double>{1, 2, 3}) == 0.0);
  CHECK(kendall_tau(std::vector<double>{1}, std::vector<double>{1}) == 0.0);
  CHECK(kendall_tau(std::vector<double>{1, 2}, std::vector<double>{1}) == 0.0);
}

TEST_CASE("top-k hit: is the measured fastest among the predicted fastest k") {
  const std::vector<double> measured{3.0, 1.0, 2.0};  // candidate 1 is fastest
  CHECK(best_in_top_k(measured, std::vector<double>{9, 1, 5}, 1));
  CHECK_FALSE(best_in_top_k(measured, std::vector<double>{1, 5, 3}, 1));
  CHECK(best_in_top_k(measured, std::vector<double>{1, 3, 5}, 2));
  CHECK_FALSE(best_in_top_k(measured, std::vector<double>{1, 5, 3}, 2));
  CHECK(best_in_top_k(measured, std::vector<double>{1, 5, 3}, 3));
  CHECK(best_in_top_k(measured, std::vector<double>{1, 5, 3}, 10));
  CHECK_FALSE(best_in_top_k(std::vector<double>{}, std::vector<double>{}, 1));
}
