// Training data for the latency predictor: every Network::measure() already times each convolution candidate on the
// real shapes, so a measured network (fresh or loaded from its tuning cache) is a set of (layer, primitive, ms)
// samples. collect_samples() turns its report into Samples; a small text file keeps them between runs.
//
//   auto net = Network<Greedy>::create(zoo::build("resnet18").value()).value();
//   net.measure({.threads = 1}).value();
//   std::vector<predict::Sample> s = predict::collect_samples(net, 1, "resnet18");
#pragma once

#include <charconv>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "primsel/graph/conv_desc.hpp"
#include "primsel/predict/latency_predictor.hpp"
#include "primsel/runtime/network.hpp"
#include "primsel/runtime/tuning_cache.hpp"

namespace primsel::predict {

/// One Sample per measured (not predicted) candidate of every Conv node of a measured network (after measure() or
/// bind(); empty before).
/// `threads` is the thread count it was measured with (BindOptions::threads); `source` labels the samples,
/// e.g. with the model name, for leave-one-model-out experiments.
template <Searcher S, class P>
std::vector<Sample> collect_samples(const Network<S, P>& net, int threads, std::string source = {}) {
  std::vector<Sample> out;
  const Graph& g = net.graph();
  const std::vector<LayerBinding>& layers = net.report().layers;
  for (std::size_t i = 0; i < layers.size() && i < g.nodes().size(); ++i) {
    const Node& n = g.nodes()[i];
    if (n.op != OpKind::Conv) continue;
    const ConvDesc d = conv_desc(g, n);
    const LayerBinding& l = layers[i];
    for (std::size_t c = 0; c < l.candidates.size() && c < l.ms.size(); ++c)
      if (l.ms[c] > 0 && !(c < l.predicted.size() && l.predicted[c]))  // estimates are not training data
        out.push_back({d, l.candidates[c], threads, l.ms[c], source});
  }
  return out;
}

/// Text form of samples, one per line after a version line:
///   primsel-samples 1
///   sample <source> <primitive> <threads> <ms> <problem string>
/// (names escaped as in the tuning cache: a space is `\s`, an empty name `\0`).
inline std::string write_samples(std::span<const Sample> samples) {
  std::string s = "primsel-samples 1\n";
  char ms[32];
  for (const Sample& x : samples) {
    std::snprintf(ms, sizeof ms, "%.9g", x.ms);
    s += "sample " + primsel::detail::escape(x.source) + " " + primsel::detail::escape(x.primitive) + " " +
         std::to_string(x.threads) + " " + ms + " " + to_string(x.desc) + "\n";
  }
  return s;
}

/// Parses write_samples()'s text; an error names the line and what is wrong with it.
inline Expected<std::vector<Sample>> parse_samples(std::string_view text) {
  std::istringstream in{std::string(text)};
  std::string line;
  if (!std::getline(in, line) || line != "primsel-samples 1")
    return Error(ErrorCode::invalid_argument, "samples: first line is not 'primsel-samples 1'");
  std::vector<Sample> out;
  for (int no = 2; std::getline(in, line); ++no) {
    if (line.empty()) continue;
    auto bad = [&](const std::string& why) {
      return Error(ErrorCode::invalid_argument, "samples line " + std::to_string(no) + ": " + why);
    };
    std::istringstream ls(line);
    std::string tag, source, primitive, problem;
    Sample x;
    if (!(ls >> tag >> source >> primitive >> x.threads >> x.ms >> problem) || tag != "sample")
      return bad("expected 'sample <source> <primitive> <threads> <ms> <problem>'");
    if (x.threads < 1 || !(x.ms > 0)) return bad("threads and ms must be positive");
    auto d = parse_conv_desc(problem);
    if (!d) return bad(d.error().message());
    x.desc = *d;
    x.source = primsel::detail::unescape(source);
    x.primitive = primsel::detail::unescape(primitive);
    out.push_back(std::move(x));
  }
  return out;
}

inline Status save_samples(const std::string& path, std::span<const Sample> samples) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << write_samples(samples);
  f.close();
  if (!f) return Error(ErrorCode::io_error, "cannot write samples to '" + path + "'");
  return {};
}

inline Expected<std::vector<Sample>> load_samples(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Error(ErrorCode::io_error, "cannot read samples from '" + path + "'");
  std::ostringstream s;
  s << f.rdbuf();
  return parse_samples(s.str());
}

}  // namespace primsel::predict
