// The JSON report of ../shared/report.schema.json. Written by hand: a dozen fields do not justify a JSON library
// dependency (none is in the allowed set), and the writer below escapes strings and keeps numbers finite.
#pragma once

#include <cmath>
#include <cstdio>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "primsel/core/shape.hpp"

namespace primsel::bench {

inline std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

/// Shortest round-tripping form; non-finite values (which the schema cannot hold) become 0 with no exception.
inline std::string json_number(double v) {
  if (!std::isfinite(v)) return "0";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

inline std::string json_shape(const Shape& s) {
  std::string out = "[";
  for (int i = 0; i < s.rank(); ++i) out += (i ? "," : "") + std::to_string(s[i]);
  return out + "]";
}

inline std::string json_numbers(const std::vector<double>& v) {
  std::string out = "[";
  for (std::size_t i = 0; i < v.size(); ++i) out += (i ? "," : "") + json_number(v[i]);
  return out + "]";
}

struct JsonCandidate {
  std::string primitive;
  double ms = 0;
  bool predicted = false;  ///< ms is the latency predictor's estimate (guided measuring), not a measurement
};
struct JsonLayer {
  std::string name, op;
  Shape input_shape, output_shape;
  std::string primitive, format_in, format_out;
  double ms = 0;
  std::vector<JsonCandidate> candidates;
};
struct JsonReport {
  std::string primsel_version, model, cpu;
  std::vector<std::string> isa;
  int threads = 1;
  std::string searcher;
  std::string searcher_config;  ///< a JSON object, e.g. {"episodes":300,...}
  double measure_ms = 0, search_ms = 0;
  bool from_cache = false;
  int pairs = 0, pairs_measured = 0;  ///< (layer, candidate) pairs, and how many were timed (the rest predicted)
  std::string measure_rule = "all";
  std::vector<double> trace;
  double predicted_ms = 0, optimum_ms = 0;
  std::vector<JsonLayer> layers;
  double latency_median = 0, latency_min = 0;
  int runs = 0;
  double reference_ms = 0;
  std::string best_single_primitive;
  double best_single_ms = 0;
  long long weights_bytes = 0, peak_activation_bytes = 0, workspace_bytes = 0;
  /// --throughput's object (the schema welcomes extra fields), already JSON; empty: left out.
  std::string throughput;
  /// The precision object (mode, int8 layers, output error, budgets, the f32-only comparison), already JSON.
  std::string precision;
};

inline std::string to_json(const JsonReport& r) {
  std::ostringstream o;
  o << "{\n  \"primsel_version\": " << json_string(r.primsel_version) << ",\n  \"model\": " << json_string(r.model)
    << ",\n  \"device\": {\"cpu\": " << json_string(r.cpu) << ", \"isa\": [";
  for (std::size_t i = 0; i < r.isa.size(); ++i) o << (i ? ", " : "") << json_string(r.isa[i]);
  o << "], \"threads\": " << r.threads << "},\n";
  o << "  \"searcher\": {\"name\": " << json_string(r.searcher) << ", \"config\": "
    << (r.searcher_config.empty() ? "{}" : r.searcher_config) << "},\n";
  o << "  \"search\": {\"measure_ms\": " << json_number(r.measure_ms) << ", \"search_ms\": " << json_number(r.search_ms)
    << ", \"from_cache\": " << (r.from_cache ? "true" : "false") << ", \"predicted_ms\": " << json_number(r.predicted_ms)
    << ", \"optimum_ms\": " << json_number(r.optimum_ms) << ", \"pairs\": " << r.pairs
    << ", \"pairs_measured\": " << r.pairs_measured << ", \"measure_rule\": " << json_string(r.measure_rule)
    << ", \"trace\": " << json_numbers(r.trace) << "},\n";
  o << "  \"layers\": [";
  for (std::size_t i = 0; i < r.layers.size(); ++i) {
    const JsonLayer& l = r.layers[i];
    o << (i ? ",\n" : "\n") << "    {\"name\": " << json_string(l.name) << ", \"op\": " << json_string(l.op)
      << ", \"input_shape\": " << json_shape(l.input_shape) << ", \"output_shape\": " << json_shape(l.output_shape)
      << ", \"primitive\": " << json_string(l.primitive) << ", \"format_in\": " << json_string(l.format_in)
      << ", \"format_out\": " << json_string(l.format_out) << ", \"ms\": " << json_number(l.ms) << ", \"candidates\": [";
    for (std::size_t c = 0; c < l.candidates.size(); ++c)
      o << (c ? ", " : "") << "{\"primitive\": " << json_string(l.candidates[c].primitive)
        << ", \"ms\": " << json_number(l.candidates[c].ms)
        << (l.candidates[c].predicted ? ", \"predicted\": true}" : "}");
    o << "]}";
  }
  o << "\n  ],\n";
  o << "  \"latency_ms\": {\"median\": " << json_number(r.latency_median) << ", \"min\": " << json_number(r.latency_min)
    << ", \"runs\": " << r.runs << "},\n";
  o << "  \"baselines\": {\"reference_ms\": " << json_number(r.reference_ms) << ", \"best_single\": {\"primitive\": "
    << json_string(r.best_single_primitive) << ", \"ms\": " << json_number(r.best_single_ms) << "}},\n";
  o << "  \"memory\": {\"weights_bytes\": " << r.weights_bytes << ", \"peak_activation_bytes\": "
    << r.peak_activation_bytes << ", \"workspace_bytes\": " << r.workspace_bytes << "}";
  if (!r.throughput.empty()) o << ",\n  \"throughput\": " << r.throughput;
  if (!r.precision.empty()) o << ",\n  \"precision\": " << r.precision;
  o << "\n}\n";
  return o.str();
}

}  // namespace primsel::bench
