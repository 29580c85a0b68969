// The tuning cache: what bind() measured (the SelectionProblem) and what each searcher chose, in a small text file
// keyed by the device and the model, so that a second start-up skips measuring and searching. Anything that does
// not match exactly — another device, thread count, primsel version, model, primitive list; a truncated or edited
// file (checked by an FNV-1a checksum over its content) — is rejected with a reason, never half-used.
//
//   primsel-tuning-cache 4
//   device AMD EPYC|avx512bw|threads=1|primsel=0.1.0
//   model 9f3c...                                  (hash of the graph's structure and candidate names)
//   quant <value> <scale> <zero point> <qmax>      (a mixed-precision cache's calibration: one per activation;
//                                                   qmax 255 or 127, the levels; absent in version 2: 255)
//   mean <value> <channels> <mean> ...             (its channel means for the int8 bias correction; version 4)
//   node <name> <k> <candidate> <ms> ...           (one per node, topological order)
//   predicted <node> <candidate> ...               (costs that are a predictor's estimates, not measured; optional)
//   edge <from> <to> <ms> ...
//   binding <searcher> <seed> <choice> ...         (zero or more)
//   checksum <16 hex digits>
#pragma once

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "primsel/core/error.hpp"
#include "primsel/core/format.hpp"
#include "primsel/quant/quantize.hpp"
#include "primsel/search/problem.hpp"

namespace primsel {

/// FNV-1a, 64 bit: a checksum against truncation and casual edits (not against tampering).
inline std::uint64_t fnv1a(std::string_view s, std::uint64_t h = 14695981039346656037ull) noexcept {
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

inline std::string hex64(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

struct TuningRecord {
  std::string device;  ///< device signature: cpu, isa, threads, primsel version
  std::string model;   ///< model key
  SelectionProblem problem;
  /// Per node, 1 for each candidate whose cost was predicted rather than measured (guided measuring); empty or
  /// all zero: everything measured.
  std::vector<std::vector<char>> predicted;
  std::map<std::string, std::vector<int>> bindings;  ///< "searcher seed" -> binding
  /// A mixed-precision cache's calibration: the u8 parameters of every calibrated activation, by value name, so
  /// that a later start-up binds int8 layers without calibration samples. Empty for f32-only caches.
  std::vector<std::pair<std::string, QuantParams>> quant;
  /// Its channel means (Calibration::means, for the int8 layers' bias correction), by value name.
  std::vector<std::pair<std::string, std::vector<float>>> means;
};

/// The cache format written; versions 1 (no quant records), 2 (quant records without qmax) and 3 (no mean records)
/// are still read.
inline constexpr int tuning_cache_version = 4;

namespace detail {
/// Names may hold spaces: stored with spaces and backslashes escaped so every field is one token.
inline std::string escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == ' ') out += "\\s";
    else if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out.empty() ? "\\0" : out;
}
inline std::string unescape(std::string_view s) {
  if (s == "\\0") return {};
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      const char c = s[++i];
      out += c == 's' ? ' ' : c == 'n' ? '\n' : c;
    } else {
      out += s[i];
    }
  }
  return out;
}
}  // namespace detail

inline std::string serialize(const TuningRecord& r) {
  std::ostringstream o;
  o << std::setprecision(17);
  o << "primsel-tuning-cache " << tuning_cache_version << "\n";
  o << "device " << detail::escape(r.device) << "\n";
  o << "model " << r.model << "\n";
  for (const auto& [value, q] : r.quant) o << "quant " << detail::escape(value) << " " << q.scale << " " << q.zero_point << " " << q.qmax
                                    << "\n";
  for (const auto& [value, m] : r.means) {
    o << "mean " << detail::escape(value) << " " << m.size();
    for (float x : m) o << " " << x;
    o << "\n";
  }
  for (const SearchNode& n : r.problem.nodes) {
    o << "node " << detail::escape(n.name) << " " << n.cost.size();
    for (std::size_t c = 0; c < n.cost.size(); ++c)
      o << " " << detail::escape(c < n.candidates.size() ? n.candidates[c] : std::string()) << " " << n.cost[c];
    o << "\n";
  }
  for (std::size_t i = 0; i < r.predicted.size(); ++i) {
    if (std::find(r.predicted[i].begin(), r.predicted[i].end(), 1) == r.predicted[i].end()) continue;
    o << "predicted " << i;
    for (std::size_t c = 0; c < r.predicted[i].size(); ++c)
      if (r.predicted[i][c]) o << " " << c;
    o << "\n";
  }
  for (const SearchEdge& e : r.problem.edges) {
    o << "edge " << e.from << " " << e.to;
    for (double c : e.cost) o << " " << c;
    o << "\n";
  }
  for (const auto& [key, binding] : r.bindings) {
    o << "binding " << detail::escape(key);
    for (int c : binding) o << " " << c;
    o << "\n";
  }
  std::string text = o.str();
  return text + "checksum " + hex64(fnv1a(text)) + "\n";
}

/// Parses and checks a cache file's content. Errors say what is wrong and on which line.
inline Expected<TuningRecord> parse_tuning_cache(std::string_view text) {
  const auto fail = [](std::size_t line, const std::string& what) {
    return Error(ErrorCode::invalid_argument, "tuning cache line " + std::to_string(line) + ": " + what);
  };
  const auto sum_at = text.rfind("checksum ");
  if (sum_at == std::string_view::npos || (sum_at != 0 && text[sum_at - 1] != '\n'))
    return Error(ErrorCode::invalid_argument, "tuning cache is truncated (no checksum line)");
  std::string stored(text.substr(sum_at + 9));
  while (!stored.empty() && (stored.back() == '\n' || stored.back() == '\r')) stored.pop_back();
  if (stored != hex64(fnv1a(text.substr(0, sum_at))))
    return Error(ErrorCode::invalid_argument, "tuning cache checksum mismatch (edited or corrupt)");

  TuningRecord r;
  std::istringstream in{std::string(text.substr(0, sum_at))};
  std::string line;
  std::size_t number = 0;
  bool header = false;
  while (std::getline(in, line)) {
    ++number;
    std::istringstream f(line);
    std::string kind;
    f >> kind;
    if (number == 1) {
      int version = 0;
      f >> version;
      if (kind != "primsel-tuning-cache" || version < 1 || version > tuning_cache_version)
        return fail(number, "not a primsel tuning cache of version 1 to " + std::to_string(tuning_cache_version));
      header = true;
    } else if (kind == "device") {
      std::string d;
      f >> d;
      r.device = detail::unescape(d);
    } else if (kind == "model") {
      f >> r.model;
    } else if (kind == "quant") {
      std::string value;
      QuantParams q;
      // Whatever a calibration can produce: a positive finite scale, levels [0, 255] or [0, 127] (a record
      // written before the levels were stored is a whole-byte one), the zero point among them.
      const bool read = static_cast<bool>(f >> value >> q.scale >> q.zero_point);
      if (read && !(f >> q.qmax)) q.qmax = f.eof() ? 255 : -1;
      if (!read || !quant::valid_u8(q) || (q.qmax != 255 && q.qmax != 127))
        return fail(number,
                    "malformed quant record (want: quant <value> <scale > 0> <zero point 0..qmax> <qmax 255 or 127>)");
      r.quant.emplace_back(detail::unescape(value), q);
    } else if (kind == "mean") {
      std::string value;
      std::size_t k = 0;
      if (!(f >> value >> k) || k == 0 || k > (1u << 20)) return fail(number, "malformed mean record (want: mean <value> <channels> <mean>...)");
      std::vector<float> m(k);
      for (float& x : m)
        if (!(f >> x) || !std::isfinite(x)) return fail(number, "mean record of '" + detail::unescape(value) + "' has fewer than " + std::to_string(k) + " finite means");
      r.means.emplace_back(detail::unescape(value), std::move(m));
    } else if (kind == "node") {
      SearchNode n;
      std::string name;
      std::size_t k = 0;
      if (!(f >> name >> k) || k == 0 || k > 1024) return fail(number, "malformed node");
      n.name = detail::unescape(name);
      for (std::size_t c = 0; c < k; ++c) {
        std::string cand;
        double ms = 0;
        if (!(f >> cand >> ms)) return fail(number, "node '" + n.name + "' lists fewer candidates than it says");
        n.candidates.push_back(detail::unescape(cand));
        n.cost.push_back(ms);
      }
      r.problem.nodes.push_back(std::move(n));
    } else if (kind == "edge") {
      SearchEdge e;
      if (!(f >> e.from >> e.to)) return fail(number, "malformed edge");
      if (e.from < 0 || e.to <= e.from || static_cast<std::size_t>(e.to) >= r.problem.nodes.size())
        return fail(number, "edge refers to nodes that do not exist");
      const std::size_t count = r.problem.choices(static_cast<std::size_t>(e.from)) * r.problem.choices(static_cast<std::size_t>(e.to));
      e.cost.resize(count);
      for (double& c : e.cost)
        if (!(f >> c)) return fail(number, "edge has too few costs");
      r.problem.edges.push_back(std::move(e));
    } else if (kind == "predicted") {
      std::size_t node = 0;
      if (!(f >> node) || node >= r.problem.nodes.size()) return fail(number, "predicted costs of a node that does not exist");
      r.predicted.resize(r.problem.nodes.size());
      r.predicted[node].assign(r.problem.choices(node), 0);
      for (std::size_t c; f >> c;) {
        if (c >= r.problem.choices(node)) return fail(number, "predicted cost of a candidate that does not exist");
        r.predicted[node][c] = 1;
      }
      if (!f.eof()) return fail(number, "malformed predicted record");
    } else if (kind == "binding") {
      std::string key;
      f >> key;
      std::vector<int> b;
      for (int c; f >> c;) b.push_back(c);
      r.bindings[detail::unescape(key)] = std::move(b);
    } else {
      return fail(number, "unknown record '" + kind + "'");
    }
    std::string extra;
    if (kind != "binding" && kind != "predicted" && f >> extra) return fail(number, "unexpected '" + extra + "'");
  }
  if (!header) return Error(ErrorCode::invalid_argument, "tuning cache is empty");
  PRIMSEL_RETURN_IF_ERROR(r.problem.validate());
  for (const auto& [key, b] : r.bindings) {
    if (b.size() != r.problem.size()) return Error(ErrorCode::invalid_argument, "tuning cache binding '" + key + "' has the wrong length");
    for (std::size_t i = 0; i < b.size(); ++i)
      if (b[i] < 0 || static_cast<std::size_t>(b[i]) >= r.problem.choices(i))
        return Error(ErrorCode::invalid_argument, "tuning cache binding '" + key + "' names a candidate that does not exist");
  }
  return r;
}

inline Expected<TuningRecord> load_tuning_cache(const std::string& path) {
  // Read in chunks, not sized by seeking: a directory opens on Linux and "seeks" to 2^63 (ext4), a /proc file
  // reports size 0. The read itself says what is wrong (EISDIR, ...).
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return Error(ErrorCode::io_error, "cannot open tuning cache '" + path + "': " + std::strerror(errno));
  constexpr std::size_t max_bytes = 64u << 20;
  std::string text;
  char buffer[1 << 14];
  for (std::size_t got; text.size() <= max_bytes && (got = std::fread(buffer, 1, sizeof buffer, f)) > 0;)
    text.append(buffer, got);
  const int read_error = std::ferror(f) ? errno : 0;
  std::fclose(f);
  if (read_error) return Error(ErrorCode::io_error, "cannot read tuning cache '" + path + "': " + std::strerror(read_error));
  if (text.size() > max_bytes) return Error(ErrorCode::invalid_argument, "tuning cache '" + path + "' is implausibly large");
  auto r = parse_tuning_cache(text);
  if (!r) return Error(std::move(r).error().code(), std::string(r.error().message()) + " ('" + path + "')");
  return r;
}

/// Writes atomically (temporary file + rename): a crash mid-write leaves the old cache or none, never half. A
/// failure anywhere (open, write, the flush at close, the rename) removes the temporary file again.
inline Status save_tuning_cache(const std::string& path, const TuningRecord& r) {
  const std::string tmp = path + ".tmp";
  const auto fail = [&](const std::string& what) {
    const int why = errno;
    std::remove(tmp.c_str());
    return Error(ErrorCode::io_error, what + ": " + std::strerror(why));
  };
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) return Error(ErrorCode::io_error, "cannot write tuning cache '" + tmp + "': " + std::strerror(errno));
  const std::string text = serialize(r);
  const bool written = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  // fclose flushes: a full disk shows up here, not at fwrite.
  if (const bool closed = std::fclose(f) == 0; !written || !closed)
    return fail("writing tuning cache '" + tmp + "' failed");
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return fail("cannot move tuning cache into place at '" + path + "'");
  return {};
}

}  // namespace primsel
