// KnnPremodel: estimates on a synthetic separable set, the file round trip, and every kind of broken file.
#include <catch2/catch.hpp>

#include <array>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "primsel/core/random.hpp"
#include "primsel/select/knn_premodel.hpp"

using namespace primsel;
using primsel::select::KnnPremodel;

namespace {

// Two clusters in 3-D (the third feature is constant: it must not matter): model 0 ("cheap") is right only in
// cluster A around (0, 0), model 1 ("costly") everywhere.
struct Synthetic {
  std::vector<float> features;
  std::vector<std::uint8_t> correct;
};
Synthetic synthetic(int per_cluster = 40) {
  Synthetic s;
  Rng rng(11);
  for (int c = 0; c < 2; ++c)
    for (int i = 0; i < per_cluster; ++i) {
      const float centre = c == 0 ? 0.0f : 10.0f;
      s.features.push_back(centre + static_cast<float>(rng.uniform(-1, 1)));
      s.features.push_back(centre + static_cast<float>(rng.uniform(-1, 1)));
      s.features.push_back(3.0f);
      s.correct.push_back(c == 0);
      s.correct.push_back(1);
    }
  return s;
}

KnnPremodel trained(int k = 5) {
  const Synthetic s = synthetic();
  auto pm = KnnPremodel::train(s.features, 3, s.correct, {"cheap", "costly"}, "synthetic-1", {.k = k});
  REQUIRE(pm.ok());
  return std::move(*pm);
}

std::array<float, 2> estimate(const KnnPremodel& pm, std::array<float, 3> x) {
  std::array<float, 2> p{};
  pm.estimate(x, p);
  return p;
}

std::filesystem::path temp_file(const std::string& name) {
  return std::filesystem::temp_directory_path() / ("primsel_select_" + name);
}

std::string error_of(const std::string& text, const std::string& source = "pm.txt") {
  auto r = KnnPremodel::parse(text, source);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code() == ErrorCode::invalid_model);
  return r.error().what();
}

// Replaces the first occurrence of `from` in `s`.
std::string replaced(std::string s, const std::string& from, const std::string& to) {
  const auto at = s.find(from);
  REQUIRE(at != std::string::npos);
  return s.replace(at, from.size(), to);
}

// The checksum line recomputed, so a test can corrupt the content without tripping the checksum first.
std::string resealed(std::string body_with_sum) {
  const auto at = body_with_sum.rfind("checksum ");
  const std::string body = body_with_sum.substr(0, at);
  return body + "checksum " + hex64(fnv1a(body)) + "\n";
}

}  // namespace

TEST_CASE("kNN separates the clusters of a synthetic set", "[select][knn]") {
  const KnnPremodel pm = trained();
  CHECK(pm.samples() == 80);
  CHECK(pm.models() == 2);
  CHECK(pm.k() == 5);
  CHECK(estimate(pm, {0.1f, -0.2f, 3}) == std::array<float, 2>{1, 1});
  CHECK(estimate(pm, {9.5f, 10.2f, 3}) == std::array<float, 2>{0, 1});
  // The constant feature is ignored (scale 0), whatever the query says.
  CHECK(estimate(pm, {9.5f, 10.2f, -100}) == std::array<float, 2>{0, 1});
  // Midway, by construction closer to A: mostly A's neighbours.
  CHECK(estimate(pm, {4.0f, 4.0f, 3})[0] >= 0.6f);
}

TEST_CASE("k is clamped to the samples; the estimate is the neighbours' vote", "[select][knn]") {
  const std::vector<float> f{0, 1, 2, 3};
  const std::vector<std::uint8_t> c{1, 1, 0, 0};
  auto pm = KnnPremodel::train(f, 1, c, {"m"}, "t", {.k = 64});
  REQUIRE(pm.ok());
  std::array<float, 1> p{};
  const std::array<float, 1> x{0};
  pm->estimate(x, p);
  CHECK(p[0] == 0.5f);  // all four samples vote
  auto pm3 = KnnPremodel::train(f, 1, c, {"m"}, "t", {.k = 3});
  pm3->estimate(x, p);
  CHECK(p[0] == Approx(2.0 / 3));
}

TEST_CASE("training refuses inconsistent data with a reason", "[select][knn]") {
  const std::vector<float> f{0, 1, 2, 3};
  const std::vector<std::uint8_t> c{1, 1, 0};
  auto bad_count = KnnPremodel::train(f, 1, c, {"m"}, "t");
  REQUIRE_FALSE(bad_count.ok());
  CHECK(std::string(bad_count.error().what()).find("4 samples x 1 models need 4 correctness values, got 3") != std::string::npos);
  CHECK_FALSE(KnnPremodel::train(f, 3, c, {"m"}, "t").ok());
  CHECK_FALSE(KnnPremodel::train(f, 1, std::vector<std::uint8_t>(4), {"m"}, "t", {.k = 0}).ok());
  const std::vector<float> nan{0, std::nanf("")};
  CHECK_FALSE(KnnPremodel::train(nan, 1, std::vector<std::uint8_t>(2), {"m"}, "t").ok());
}

TEST_CASE("save and load round trip exactly", "[select][knn]") {
  const KnnPremodel pm = trained(7);
  const auto path = temp_file("roundtrip.premodel").string();
  REQUIRE(pm.save(path).ok());
  auto back = KnnPremodel::load(path);
  REQUIRE(back.ok());
  CHECK(back->serialize() == pm.serialize());
  CHECK(back->model_names() == pm.model_names());
  CHECK(back->feature_set() == "synthetic-1");
  CHECK(back->k() == 7);
  Rng rng(3);
  for (int i = 0; i < 50; ++i) {
    const std::array<float, 3> x{static_cast<float>(rng.uniform(-2, 12)), static_cast<float>(rng.uniform(-2, 12)), 3};
    CHECK(estimate(*back, x) == estimate(pm, x));
  }
  std::filesystem::remove(path);
}

TEST_CASE("reorder follows the selector's model order", "[select][knn]") {
  KnnPremodel pm = trained();
  REQUIRE(pm.reorder({"costly", "cheap"}).ok());
  CHECK(estimate(pm, {9.5f, 10.2f, 3}) == std::array<float, 2>{1, 0});
  const Status wrong = pm.reorder({"costly", "other"});
  REQUIRE_FALSE(wrong.ok());
  CHECK(std::string(wrong.error().what()).find("the premodel is for models (costly, cheap), the selector has (costly, other)") !=
        std::string::npos);
}

TEST_CASE("broken premodel files: each error names the file and what is wrong", "[select][knn]") {
  const std::string good = trained().serialize();
  REQUIRE(KnnPremodel::parse(good, "pm.txt").ok());
  using Catch::Matchers::Contains;

  CHECK_THAT(error_of(""), Contains("premodel 'pm.txt' is empty"));
  CHECK_THAT(error_of("hello\n"), Contains("premodel 'pm.txt', line 1: not a primsel premodel file"));
  CHECK_THAT(error_of(replaced(good, "primsel-premodel 1", "primsel-premodel 2")),
             Contains("premodel 'pm.txt', line 1: version 2 is not supported (this primsel reads version 1)"));
  CHECK_THAT(error_of(replaced(good, "primsel-premodel 1", "primsel-premodel x")), Contains("version ? is not supported"));

  // Truncated: in the header, between samples, inside a sample, before the checksum.
  CHECK_THAT(error_of(good.substr(0, good.find("k 5"))), Contains("is truncated: it ends before the 'k' line"));
  const auto sample3 = good.find("\ns ", good.find("\ns ", good.find("\ns ") + 1) + 1) + 1;
  CHECK_THAT(error_of(good.substr(0, sample3)), Contains("is truncated: it ends after 2 of 80 samples"));
  CHECK_THAT(error_of(good.substr(0, good.find(' ', sample3 + 2))), Contains("line 10: sample has 1 of 3 values"));
  CHECK_THAT(error_of(good.substr(0, good.rfind("checksum"))), Contains("is truncated: the checksum line is missing"));

  // Corrupt content: caught by its parser when malformed, by the checksum when well formed.
  CHECK_THAT(error_of(replaced(good, "k 5", "k 0")), Contains("line 4: k must be 1..64"));
  CHECK_THAT(error_of(replaced(good, "k 5", "kay 5")), Contains("line 4: expected a 'k' line, found 'kay'"));
  CHECK_THAT(error_of(resealed(replaced(good, " 11\n", " 1x\n"))), Contains("line 8: a sample needs 2 correctness bits"));
  CHECK_THAT(error_of(resealed(replaced(good, "mean ", "mean nan "))), Contains("line 5: mean: 'nan' is not a finite number"));
  CHECK_THAT(error_of(replaced(good, "k 5", "k 6")), Contains("checksum mismatch: the file was edited or is corrupt"));
  CHECK_THAT(error_of(good + "extra\n"), Contains("unexpected text after the checksum line"));
}

TEST_CASE("load: a missing file is an I/O error naming it", "[select][knn]") {
  auto r = KnnPremodel::load("/nonexistent/dir/x.premodel");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code() == ErrorCode::io_error);
  CHECK(std::string(r.error().what()).find("/nonexistent/dir/x.premodel") != std::string::npos);
}
