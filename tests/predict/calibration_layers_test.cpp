#include "primsel/predict/calibration_layers.hpp"

#include <catch2/catch.hpp>

#include <set>
#include <string>
#include <vector>

using namespace primsel;
using namespace primsel::predict;

namespace {

CandidateLayer layer(std::int64_t c, std::int64_t hw, std::int64_t k, std::vector<std::string> prims) {
  const std::string s = "mb1ic" + std::to_string(c) + "ih" + std::to_string(hw) + "oc" + std::to_string(c) + "kh" +
                        std::to_string(k) + "ph" + std::to_string(k / 2);
  return {parse_conv_desc(s).value(), std::move(prims)};
}

}  // namespace

TEST_CASE("choose_calibration_layers covers every primitive before spreading over sizes") {
  const std::vector<std::string> gemm{"im2col_gemm", "direct_nchwc"};
  std::vector<CandidateLayer> ls;
  for (std::int64_t c : {8, 16, 32, 64, 128, 256})
    for (std::int64_t hw : {7, 14, 28, 56}) ls.push_back(layer(c, hw, 1, gemm));
  // Winograd and FFT candidates on two 3x3 layers only, a rare primitive on one: a pick by size alone misses them.
  ls.push_back(layer(64, 28, 3, {"im2col_gemm", "direct_nchwc", "winograd_f23", "winograd_f43"}));
  ls.push_back(layer(96, 14, 3, {"im2col_gemm", "direct_nchwc", "winograd_f23", "winograd_f43", "fft_conv"}));
  ls.push_back(layer(3, 56, 7, {"im2col_gemm", "direct_small_ic"}));
  ls.push_back(layer(3, 56, 7, {"im2col_gemm", "direct_small_ic"}));  // a repeat (ResNet blocks): never twice
  ls.push_back(layer(512, 7, 1, {"conv1x1_gemm"}));                   // no choice: never picked

  const std::vector<std::size_t> pick = choose_calibration_layers(ls, 6);
  REQUIRE(pick.size() == 6);
  std::set<std::string> covered;
  std::set<std::size_t> distinct(pick.begin(), pick.end());
  for (std::size_t i : pick) {
    covered.insert(ls[i].primitives.begin(), ls[i].primitives.end());
    CHECK(ls[i].primitives.size() >= 2);
  }
  CHECK(distinct.size() == pick.size());
  CHECK(covered == std::set<std::string>{"im2col_gemm", "direct_nchwc", "winograd_f23", "winograd_f43", "fft_conv",
                                         "direct_small_ic"});
  CHECK(!(distinct.count(ls.size() - 3) && distinct.count(ls.size() - 2)));
  // After coverage, the 1x1 layers picked are spread: not all of one size.
  std::set<std::int64_t> macs;
  for (std::size_t i : pick) macs.insert(ls[i].desc.macs());
  CHECK(macs.size() == pick.size());

  // Deterministic, at most n, and at most the distinct layers with a choice.
  CHECK(choose_calibration_layers(ls, 6) == pick);
  CHECK(choose_calibration_layers(ls, 0).empty());
  CHECK(choose_calibration_layers(ls, 100).size() == ls.size() - 2);
  CHECK(choose_calibration_layers({}, 10).empty());
}
