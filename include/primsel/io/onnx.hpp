// Loading ONNX models: `load_model("net.onnx")` reads a file into a finalized Graph, ready for Network::create or
// the reference executor. The reader is written here — a bounds-checked protobuf decoder (io/protobuf.hpp), the
// ONNX messages (io/onnx_messages.hpp) and the op mapping (io/onnx_import.hpp) — rather than linking the protobuf
// runtime, so primsel stays header-only and usable in firmware builds. Every error names what and where: the byte
// offset of corrupt data, or the op type, node name and opset of what is not supported. docs/onnx.md has the details.
//
//   auto g = primsel::io::onnx::load_model("resnet18.onnx", {.input_shapes = {{"", {1, 3, 224, 224}}}});
//   if (!g) { std::puts(g.error().what()); return 1; }
//   auto net = primsel::Network<primsel::Greedy>::create(std::move(*g));
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

#include "primsel/io/onnx_import.hpp"
#include "primsel/io/onnx_messages.hpp"

namespace primsel::io::onnx {

/// Decodes and imports a serialized ModelProto.
inline Expected<Graph> parse_model(std::string_view bytes, const LoadOptions& opt = {}) {
  PRIMSEL_ASSIGN_OR_RETURN(const ModelProto m, parse_model_proto(bytes));
  return import_model(m, opt);
}

/// Reads an .onnx file; errors are prefixed with its path.
inline Expected<Graph> load_model(const std::string& path, const LoadOptions& opt = {}) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  PRIMSEL_CHECK(f != nullptr, ErrorCode::io_error, "cannot open '" + path + "'");
  std::string bytes;
  char buffer[1 << 16];
  for (std::size_t got; (got = std::fread(buffer, 1, sizeof buffer, f)) > 0;) bytes.append(buffer, got);
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  PRIMSEL_CHECK(!failed, ErrorCode::io_error, "cannot read '" + path + "'");
  PRIMSEL_CHECK(!bytes.empty(), ErrorCode::invalid_model, "'" + path + "' is empty");
  auto g = parse_model(bytes, opt);
  if (!g) return Error(g.error().code(), path + ": " + g.error().message(), g.error().context());
  return g;
}

}  // namespace primsel::io::onnx
