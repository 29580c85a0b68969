// libFuzzer target for the ONNX reader: any bytes must load into a Graph or give an Error — never a crash, a leak,
// undefined behaviour or an allocation the file cannot justify. Graphs that load and are small enough also run
// through the reference executor, so attribute values the reader accepted are exercised by the ops too.
// Built and run by tests/fuzz/run_fuzzer.cmake (the `fuzz.onnx_reader` test) when clang with libFuzzer is installed.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "primsel/graph/model_stats.hpp"
#include "primsel/io/onnx.hpp"
#include "primsel/runtime/reference_executor.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace primsel;
  auto g = io::onnx::parse_model(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!g.ok()) return 0;
  std::int64_t elements = 0;
  for (const Value& v : g->values()) elements += v.shape.numel();
  if (g->inputs().size() != 1 || elements > (std::int64_t{1} << 20) || stats(*g).macs > 20'000'000) return 0;
  const Tensor x(g->value(g->inputs()[0]).shape);
  (void)run_reference(*g, x);
  return 0;
}
