// KnnPremodel: predicts, for one input, how likely each of several models is to answer it right — a k-nearest-
// neighbour classifier per model over stored (features, which models were right) samples, as in Taylor et al.,
// "Adaptive deep learning model selection on embedded systems" (LCTES 2018). Features are z-scored with the
// training set's mean and deviation; the estimate for model j is the fraction of the k nearest samples (Euclidean
// distance) that model j answered right. It costs O(samples x features) per input and allocates nothing.
//
//   auto pm = KnnPremodel::train(features, InputFeatures::count, correct, {"tiny", "large"}, "input-features-1",
//                                {.k = 9}).value();
//   float p[2];
//   pm.estimate(x, p);            // p[0]: chance that "tiny" is right for the input with features x
//   pm.save("digits.premodel").value();
//
// The file is text, versioned and checksummed:
//   primsel-premodel 1
//   features input-features-1 30        (feature-set tag, dimensions)
//   models 2 tiny large                 (names, in the order of the correctness bits)
//   k 9
//   mean <30 numbers>
//   scale <30 numbers>                   (1 / deviation; 0 for a constant feature)
//   samples 432
//   s <30 z-scored features> 01         (one line per sample; bit j: model j was right)
//   checksum <16 hex digits>             (FNV-1a of everything above)
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <limits>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "primsel/core/error.hpp"
#include "primsel/runtime/tuning_cache.hpp"  // fnv1a, hex64, escape/unescape

namespace primsel::select {

struct KnnOptions {
  int k = 9;  ///< neighbours consulted; clamped to the number of samples
};

class KnnPremodel {
 public:
  static constexpr int file_version = 1;
  static constexpr int max_k = 64;           ///< estimate() keeps its k best on the stack
  static constexpr std::size_t max_models = 64;
  static constexpr std::size_t max_dims = 256;  ///< estimate() z-scores the query on the stack

  KnnPremodel() = default;

  /// Trains from `features` (n x dims, row-major) and `correct` (n x models, row-major; nonzero: that model
  /// answered that sample right). `model_names` name the correctness columns; `feature_set` tags the features so a
  /// file is never used with another extractor.
  static Expected<KnnPremodel> train(std::span<const float> features, std::size_t dims,
                                     std::span<const std::uint8_t> correct, std::vector<std::string> model_names,
                                     std::string feature_set, const KnnOptions& o = {}) {
    const std::size_t m = model_names.size();
    PRIMSEL_CHECK(dims > 0 && dims <= max_dims && m > 0 && m <= max_models, ErrorCode::invalid_argument,
                  "a premodel needs 1.." + std::to_string(max_dims) + " features and 1.." + std::to_string(max_models) +
                      " models");
    PRIMSEL_CHECK(features.size() % dims == 0 && !features.empty(), ErrorCode::invalid_argument,
                  "premodel training: " + std::to_string(features.size()) + " feature values are not a whole number of " +
                      std::to_string(dims) + "-feature samples");
    const std::size_t n = features.size() / dims;
    PRIMSEL_CHECK(correct.size() == n * m, ErrorCode::invalid_argument,
                  "premodel training: " + std::to_string(n) + " samples x " + std::to_string(m) + " models need " +
                      std::to_string(n * m) + " correctness values, got " + std::to_string(correct.size()));
    PRIMSEL_CHECK(o.k >= 1 && o.k <= max_k, ErrorCode::invalid_argument,
                  "premodel k must be 1.." + std::to_string(max_k) + ", got " + std::to_string(o.k));
    for (float f : features)
      PRIMSEL_CHECK(std::isfinite(f), ErrorCode::invalid_argument, "premodel training: a feature is not finite");
    KnnPremodel pm;
    pm.dims_ = dims;
    pm.names_ = std::move(model_names);
    pm.feature_set_ = std::move(feature_set);
    pm.k_ = o.k;
    pm.mean_.assign(dims, 0.0f);
    pm.scale_.assign(dims, 0.0f);
    for (std::size_t d = 0; d < dims; ++d) {
      double s = 0, s2 = 0;
      for (std::size_t i = 0; i < n; ++i) s += features[i * dims + d];
      const double mean = s / static_cast<double>(n);
      for (std::size_t i = 0; i < n; ++i) s2 += (features[i * dims + d] - mean) * (features[i * dims + d] - mean);
      const double sd = std::sqrt(s2 / static_cast<double>(n));
      pm.mean_[d] = static_cast<float>(mean);
      pm.scale_[d] = sd > 1e-12 ? static_cast<float>(1.0 / sd) : 0.0f;  // a constant feature says nothing
    }
    pm.samples_.resize(n * dims);
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t d = 0; d < dims; ++d)
        pm.samples_[i * dims + d] = (features[i * dims + d] - pm.mean_[d]) * pm.scale_[d];
    pm.correct_.resize(n * m);
    for (std::size_t i = 0; i < n * m; ++i) pm.correct_[i] = correct[i] != 0;
    pm.block();
    return pm;
  }

  bool trained() const noexcept { return dims_ > 0; }
  std::size_t dims() const noexcept { return dims_; }
  std::size_t models() const noexcept { return names_.size(); }
  std::size_t samples() const noexcept { return dims_ ? samples_.size() / dims_ : 0; }
  int k() const noexcept { return k_; }
  /// Changes the number of neighbours consulted (the stored samples stay).
  Status set_k(int k) {
    PRIMSEL_CHECK(k >= 1 && k <= max_k, ErrorCode::invalid_argument, "premodel k must be 1.." + std::to_string(max_k) + ", got " + std::to_string(k));
    k_ = k;
    return {};
  }
  const std::vector<std::string>& model_names() const noexcept { return names_; }
  const std::string& feature_set() const noexcept { return feature_set_; }
  /// Whether model j answered stored sample i right.
  bool correct(std::size_t i, std::size_t j) const noexcept { return correct_[i * names_.size() + j] != 0; }
  /// For the input with features `x` (dims() values; missing ones count as the training mean), writes into p[j]
  /// the fraction of its k nearest stored samples that model j answered right. Ties in distance go to the earlier
  /// sample (deterministic). No allocation.
  void estimate(std::span<const float> x, std::span<float> p) const noexcept { estimate(x, p, k_); }
  /// The same with `k` neighbours instead of k() (clamped to 1..max_k): a rule tuned for another k shares the samples.
  void estimate(std::span<const float> x, std::span<float> p, int k) const noexcept {
    float z[max_dims];  // the z-scored query
    for (std::size_t d = 0; d < dims_; ++d) z[d] = d < x.size() ? (x[d] - mean_[d]) * scale_[d] : 0.0f;  // short x: mean
    estimate_scored(z, p, no_sample, k);
  }

  /// Leave-one-out: the estimate for stored sample i from the other samples — how the premodel does on inputs it
  /// was not trained on, without a second held-out set (ModelSelector uses it to choose k).
  void estimate_stored(std::size_t i, std::span<float> p) const noexcept { estimate_stored(i, p, k_); }
  void estimate_stored(std::size_t i, std::span<float> p, int k) const noexcept {
    estimate_scored(samples_.data() + i * dims_, p, i, k);
  }

  /// Puts the models in the order of `names` (same set, any order): how a file meets a selector whose models were
  /// ordered by costs measured on another machine.
  Status reorder(const std::vector<std::string>& names) {
    const std::size_t m = names_.size();
    std::vector<std::size_t> from(names.size());
    auto list = [](const std::vector<std::string>& v) {
      std::string s;
      for (const std::string& x : v) s += (s.empty() ? "" : ", ") + x;
      return s;
    };
    PRIMSEL_CHECK(names.size() == m, ErrorCode::invalid_argument,
                  "the premodel is for models (" + list(names_) + "), the selector has (" + list(names) + ")");
    for (std::size_t j = 0; j < m; ++j) {
      auto it = std::find(names_.begin(), names_.end(), names[j]);
      PRIMSEL_CHECK(it != names_.end(), ErrorCode::invalid_argument,
                    "the premodel is for models (" + list(names_) + "), the selector has (" + list(names) + ")");
      from[j] = static_cast<std::size_t>(it - names_.begin());
    }
    std::vector<std::uint8_t> c(correct_.size());
    for (std::size_t i = 0; i < samples(); ++i)
      for (std::size_t j = 0; j < m; ++j) c[i * m + j] = correct_[i * m + from[j]];
    correct_ = std::move(c);
    names_ = names;
    return {};
  }

  /// The file's text (format in the header comment). Floats are written with 9 significant digits: exact.
  std::string serialize() const {
    std::string o = "primsel-premodel " + std::to_string(file_version) + "\n";
    o += "features " + detail::escape(feature_set_) + " " + std::to_string(dims_) + "\n";
    o += "models " + std::to_string(names_.size());
    for (const std::string& s : names_) o += " " + detail::escape(s);
    o += "\nk " + std::to_string(k_) + "\n";
    auto row = [&](const char* tag, const float* v) {
      o += tag;
      char buf[32];
      for (std::size_t d = 0; d < dims_; ++d) {
        std::snprintf(buf, sizeof buf, " %.9g", static_cast<double>(v[d]));
        o += buf;
      }
    };
    row("mean", mean_.data());
    o += "\n";
    row("scale", scale_.data());
    o += "\nsamples " + std::to_string(samples()) + "\n";
    for (std::size_t i = 0; i < samples(); ++i) {
      row("s", samples_.data() + i * dims_);
      o += ' ';
      for (std::size_t j = 0; j < names_.size(); ++j) o += correct(i, j) ? '1' : '0';
      o += '\n';
    }
    return o + "checksum " + hex64(fnv1a(o)) + "\n";
  }

  /// Parses a premodel file's text; `source` (the path) starts every error message.
  static Expected<KnnPremodel> parse(std::string_view text, const std::string& source) {
    const auto fail = [&](std::size_t line, const std::string& what) {
      return Error(ErrorCode::invalid_model, "premodel '" + source + "', line " + std::to_string(line) + ": " + what);
    };
    KnnPremodel pm;
    std::size_t number = 0, pos = 0, expected_samples = 0;
    std::string line;
    auto next = [&]() {
      if (pos >= text.size()) return false;
      std::size_t end = text.find('\n', pos);
      const bool terminated = end != std::string_view::npos;
      if (!terminated) end = text.size();
      line.assign(text.substr(pos, end - pos));
      pos = terminated ? end + 1 : end;
      ++number;
      return true;
    };
    auto floats = [&](std::istringstream& f, std::vector<float>& out, const char* what) -> Status {
      for (std::size_t d = 0; d < pm.dims_; ++d) {
        std::string tok;
        if (!(f >> tok))
          return fail(number, std::string(what) + " has " + std::to_string(d) + " of " + std::to_string(pm.dims_) + " values");
        char* end = nullptr;
        const float v = std::strtof(tok.c_str(), &end);
        if (end != tok.c_str() + tok.size() || !std::isfinite(v))
          return fail(number, std::string(what) + ": '" + tok + "' is not a finite number");
        out.push_back(v);
      }
      return {};
    };
    // Header records, in order.
    if (!next()) return Error(ErrorCode::invalid_model, "premodel '" + source + "' is empty");
    {
      std::istringstream f(line);
      std::string magic;
      int version = 0;
      f >> magic;
      if (magic != "primsel-premodel") return fail(number, "not a primsel premodel file (no 'primsel-premodel' header)");
      if (!(f >> version) || version != file_version)
        return fail(number, "version " + (version ? std::to_string(version) : std::string("?")) +
                                " is not supported (this primsel reads version " + std::to_string(file_version) + ")");
    }
    auto record = [&](const char* kind) -> Expected<std::istringstream> {
      if (!next()) return Error(ErrorCode::invalid_model, "premodel '" + source + "' is truncated: it ends before the '" + std::string(kind) + "' line");
      std::istringstream f(line);
      std::string k;
      f >> k;
      if (k != kind) return fail(number, "expected a '" + std::string(kind) + "' line, found '" + k + "'");
      return f;
    };
    {
      PRIMSEL_ASSIGN_OR_RETURN(std::istringstream f, record("features"));
      std::string tag;
      long long dims = 0;
      if (!(f >> tag >> dims) || dims <= 0 || dims > static_cast<long long>(max_dims))
        return fail(number, "malformed 'features <set> <dims>' (dims 1.." + std::to_string(max_dims) + ")");
      pm.feature_set_ = detail::unescape(tag);
      pm.dims_ = static_cast<std::size_t>(dims);
    }
    {
      PRIMSEL_ASSIGN_OR_RETURN(std::istringstream f, record("models"));
      long long m = 0;
      if (!(f >> m) || m <= 0 || m > static_cast<long long>(max_models))
        return fail(number, "the model count must be 1.." + std::to_string(max_models));
      for (long long j = 0; j < m; ++j) {
        std::string name;
        if (!(f >> name)) return fail(number, "names " + std::to_string(j) + " of " + std::to_string(m) + " models");
        pm.names_.push_back(detail::unescape(name));
      }
    }
    {
      PRIMSEL_ASSIGN_OR_RETURN(std::istringstream f, record("k"));
      if (!(f >> pm.k_) || pm.k_ < 1 || pm.k_ > max_k) return fail(number, "k must be 1.." + std::to_string(max_k));
    }
    {
      PRIMSEL_ASSIGN_OR_RETURN(std::istringstream f, record("mean"));
      PRIMSEL_RETURN_IF_ERROR(floats(f, pm.mean_, "mean"));
    }
    {
      PRIMSEL_ASSIGN_OR_RETURN(std::istringstream f, record("scale"));
      PRIMSEL_RETURN_IF_ERROR(floats(f, pm.scale_, "scale"));
    }
    {
      PRIMSEL_ASSIGN_OR_RETURN(std::istringstream f, record("samples"));
      long long n = 0;
      if (!(f >> n) || n <= 0 || n > 10'000'000) return fail(number, "the sample count must be positive");
      expected_samples = static_cast<std::size_t>(n);
      // Bounded by what the text can hold (each sample needs >= 2 bytes per feature): a corrupt count cannot make
      // the reader reserve more than the file.
      pm.samples_.reserve(std::min(expected_samples, text.size() / (2 * pm.dims_ + 1) + 1) * pm.dims_);
    }
    for (std::size_t i = 0; i < expected_samples; ++i) {
      if (!next() || line.rfind("checksum ", 0) == 0)
        return Error(ErrorCode::invalid_model, "premodel '" + source + "' is truncated: it ends after " + std::to_string(i) +
                                                   " of " + std::to_string(expected_samples) + " samples");
      std::istringstream f(line);
      std::string kind, bits;
      f >> kind;
      if (kind != "s") return fail(number, "expected sample " + std::to_string(i + 1) + " ('s ...'), found '" + kind + "'");
      PRIMSEL_RETURN_IF_ERROR(floats(f, pm.samples_, "sample"));
      if (!(f >> bits) || bits.size() != pm.names_.size() || bits.find_first_not_of("01") != std::string::npos)
        return fail(number, "a sample needs " + std::to_string(pm.names_.size()) + " correctness bits (0/1), one per model");
      for (char b : bits) pm.correct_.push_back(b == '1');
    }
    const std::size_t body_end = pos;
    if (!next()) return Error(ErrorCode::invalid_model, "premodel '" + source + "' is truncated: the checksum line is missing");
    if (line.rfind("checksum ", 0) != 0) return fail(number, "expected the 'checksum' line after the last sample");
    if (line.substr(9) != hex64(fnv1a(text.substr(0, body_end))))
      return fail(number, "checksum mismatch: the file was edited or is corrupt");
    if (next() && !line.empty()) return fail(number, "unexpected text after the checksum line");
    pm.block();
    return pm;
  }

  /// Writes the file atomically (temporary file + rename).
  Status save(const std::string& path) const {
    PRIMSEL_CHECK(trained(), ErrorCode::invalid_argument, "cannot save an untrained premodel to '" + path + "'");
    const std::string tmp = path + ".tmp";
    {
      std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
      PRIMSEL_CHECK(static_cast<bool>(f), ErrorCode::io_error, "cannot write premodel '" + tmp + "'");
      const std::string text = serialize();
      f.write(text.data(), static_cast<std::streamsize>(text.size()));
      PRIMSEL_CHECK(static_cast<bool>(f), ErrorCode::io_error, "writing premodel '" + tmp + "' failed");
    }
    PRIMSEL_CHECK(std::rename(tmp.c_str(), path.c_str()) == 0, ErrorCode::io_error,
                  "cannot move premodel into place at '" + path + "'");
    return {};
  }

  static Expected<KnnPremodel> load(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    PRIMSEL_CHECK(static_cast<bool>(f), ErrorCode::io_error, "cannot open premodel '" + path + "'");
    std::ostringstream s;
    s << f.rdbuf();
    return parse(s.str(), path);
  }

 private:
  static constexpr std::size_t no_sample = static_cast<std::size_t>(-1);

  /// estimate() for a z-scored query `z`, leaving out stored sample `exclude` (or none).
  void estimate_scored(const float* z, std::span<float> p, std::size_t exclude, int k_wanted) const noexcept {
    const std::size_t n = samples(), m = names_.size();
    const std::size_t k = std::min<std::size_t>(static_cast<std::size_t>(std::clamp(k_wanted, 1, max_k)), exclude < n ? n - 1 : n);
    float best_d[max_k];
    std::size_t best_i[max_k];
    std::size_t found = 0;
    for (std::size_t b = 0; b * lanes < n; ++b) {
      // `lanes` samples at once, each lane summing over the features in order: vectorises without reassociating
      // (same sums as one sample at a time), which is most of the premodel's cost.
      const float* s = blocked_.data() + b * dims_ * lanes;
      float dist[lanes] = {};
      for (std::size_t d = 0; d < dims_; ++d)
        for (std::size_t l = 0; l < lanes; ++l) {
          const float diff = z[d] - s[d * lanes + l];
          dist[l] += diff * diff;
        }
      for (std::size_t l = 0; l < lanes && b * lanes + l < n; ++l) {
        if ((found == k && !(dist[l] < best_d[k - 1])) || b * lanes + l == exclude) continue;
        std::size_t at = found < k ? found++ : k - 1;  // insertion into the sorted k best
        while (at > 0 && dist[l] < best_d[at - 1]) {
          best_d[at] = best_d[at - 1], best_i[at] = best_i[at - 1];
          --at;
        }
        best_d[at] = dist[l], best_i[at] = b * lanes + l;
      }
    }
    for (std::size_t j = 0; j < m && j < p.size(); ++j) {
      std::size_t right = 0;
      for (std::size_t r = 0; r < found; ++r) right += correct_[best_i[r] * m + j];
      p[j] = found ? static_cast<float>(right) / static_cast<float>(found) : 0.0f;
    }
  }

  /// Copies the samples into blocks of `lanes` samples, feature-major inside a block (tail lanes zero).
  void block() {
    const std::size_t n = samples(), blocks = (n + lanes - 1) / lanes;
    blocked_.assign(blocks * dims_ * lanes, 0.0f);
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t d = 0; d < dims_; ++d) blocked_[(i / lanes * dims_ + d) * lanes + i % lanes] = samples_[i * dims_ + d];
  }

  static constexpr std::size_t lanes = 16;  ///< one AVX-512 register, two AVX2 / four NEON ones
  std::size_t dims_ = 0;
  int k_ = 0;
  std::string feature_set_;
  std::vector<std::string> names_;
  std::vector<float> mean_, scale_;
  std::vector<float> samples_;         ///< n x dims, z-scored
  std::vector<float> blocked_;         ///< the same, blocked for estimate_scored()
  std::vector<std::uint8_t> correct_;  ///< n x models
};

}  // namespace primsel::select
