// Every input the fuzzer once broke the reader with (tests/fuzz/onnx_regressions/) must now load or give an error —
// checked here in the normal build too, so the regressions are covered where clang's libFuzzer is not installed.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "primsel/io/onnx.hpp"

TEST_CASE("saved fuzzer findings load or fail cleanly") {
  const std::filesystem::path dir = std::filesystem::path(PRIMSEL_SOURCE_DIR) / "tests/fuzz/onnx_regressions";
  int replayed = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().filename() == "README") continue;
    INFO(entry.path());
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto g = primsel::io::onnx::parse_model(bytes);
    if (!g.ok()) CHECK(std::string(g.error().what()).size() > 0);
    ++replayed;
  }
  CHECK(replayed >= 1);
}
