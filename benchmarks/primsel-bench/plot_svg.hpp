// primsel-bench --plot: one SVG with two panels, written by hand (no plotting dependency is allowed, and a few
// polylines and circles need none). Top: the search trace — best predicted network cost after each episode/sample
// for the chosen searcher, random search's beside it when compared, and Exact's optimum as a dashed line. Bottom:
// per layer with more than one candidate, every candidate's measured time (log scale), the chosen one filled.
// Every series is a <g> with an id (trace-<searcher>, trace-random, optimum, layers) so tests can find them.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace primsel::bench {

struct PlotLayer {
  std::string name;
  std::vector<std::string> candidates;
  std::vector<double> ms;
  int chosen = 0;
};

struct PlotData {
  std::string title;
  std::string searcher;
  std::vector<double> trace;         ///< the chosen searcher's best-so-far
  std::vector<double> random_trace;  ///< empty unless compared
  double optimum = 0;
  std::vector<PlotLayer> layers;
};

namespace detail {
inline std::string xml_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}
inline std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", std::isfinite(v) ? v : 0.0);
  return buf;
}
}  // namespace detail

inline std::string plot_svg(const PlotData& d) {
  using detail::num;
  using detail::xml_escape;
  constexpr double width = 960, left = 70, right = 20, panel = 260, gap = 70, top = 40;
  const double plot_w = width - left - right;
  const double height = top + panel + gap + panel + 60;
  std::string s = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" +
                  num(width) + "\" height=\"" + num(height) + "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  s += "<text x=\"" + num(left) + "\" y=\"24\" font-size=\"16\">" + xml_escape(d.title) + "</text>\n";

  // Panel 1: traces.
  std::vector<double> all = d.trace;
  all.insert(all.end(), d.random_trace.begin(), d.random_trace.end());
  if (d.optimum > 0) all.push_back(d.optimum);
  const double lo = all.empty() ? 0 : *std::min_element(all.begin(), all.end());
  const double hi = all.empty() ? 1 : *std::max_element(all.begin(), all.end());
  const double span = hi > lo ? hi - lo : std::max(1e-9, hi * 0.1);
  const std::size_t steps = std::max<std::size_t>({d.trace.size(), d.random_trace.size(), 2});
  auto tx = [&](std::size_t i) { return left + plot_w * static_cast<double>(i) / static_cast<double>(steps - 1); };
  auto ty = [&](double v) { return top + panel - panel * (v - lo + 0.05 * span) / (1.1 * span); };
  s += "<text x=\"" + num(left) + "\" y=\"" + num(top - 4) + "\">predicted network time (ms) by episode/sample</text>\n";
  s += "<rect x=\"" + num(left) + "\" y=\"" + num(top) + "\" width=\"" + num(plot_w) + "\" height=\"" + num(panel) +
       "\" fill=\"none\" stroke=\"#888\"/>\n";
  for (int k = 0; k <= 4; ++k) {
    const double v = lo - 0.05 * span + 1.1 * span * k / 4;
    s += "<text x=\"" + num(left - 6) + "\" y=\"" + num(ty(v) + 4) + "\" text-anchor=\"end\">" + num(v) + "</text>\n";
  }
  auto polyline = [&](const std::vector<double>& v, const std::string& id, const char* color) {
    s += "<g id=\"" + xml_escape(id) + "\"><polyline fill=\"none\" stroke=\"" + color + "\" stroke-width=\"1.5\" points=\"";
    for (std::size_t i = 0; i < v.size(); ++i) s += num(tx(i)) + "," + num(ty(v[i])) + " ";
    s += "\"/></g>\n";
  };
  if (!d.random_trace.empty()) polyline(d.random_trace, "trace-random", "#999");
  polyline(d.trace, "trace-" + d.searcher, "#1f6fd1");
  if (d.optimum > 0)
    s += "<g id=\"optimum\"><line x1=\"" + num(left) + "\" x2=\"" + num(left + plot_w) + "\" y1=\"" + num(ty(d.optimum)) +
         "\" y2=\"" + num(ty(d.optimum)) + "\" stroke=\"#c0392b\" stroke-dasharray=\"6 4\"/><text x=\"" +
         num(left + plot_w - 4) + "\" y=\"" + num(ty(d.optimum) - 4) + "\" text-anchor=\"end\" fill=\"#c0392b\">exact optimum " +
         num(d.optimum) + " ms</text></g>\n";
  s += "<text x=\"" + num(left + 8) + "\" y=\"" + num(top + 16) + "\" fill=\"#1f6fd1\">" + xml_escape(d.searcher) +
       (d.random_trace.empty() ? "" : "</text><text x=\"" + num(left + 120) + "\" y=\"" + num(top + 16) + "\" fill=\"#999\">random") +
       "</text>\n";

  // Panel 2: candidates per layer, log scale.
  std::vector<const PlotLayer*> shown;
  for (const PlotLayer& l : d.layers)
    if (l.candidates.size() > 1) shown.push_back(&l);
  double mlo = 1e300, mhi = 0;
  for (const PlotLayer* l : shown)
    for (double m : l->ms)
      if (m > 0) mlo = std::min(mlo, m), mhi = std::max(mhi, m);
  if (mhi <= 0) mlo = 1e-3, mhi = 1;
  const double llo = std::log10(mlo) - 0.1, lhi = std::log10(std::max(mhi, mlo * 1.01)) + 0.1;
  const double y0 = top + panel + gap;
  auto ly = [&](double m) { return y0 + panel - panel * (std::log10(std::max(m, 1e-9)) - llo) / (lhi - llo); };
  s += "<text x=\"" + num(left) + "\" y=\"" + num(y0 - 4) +
       "\">measured time per candidate (ms, log scale); filled: chosen</text>\n";
  s += "<rect x=\"" + num(left) + "\" y=\"" + num(y0) + "\" width=\"" + num(plot_w) + "\" height=\"" + num(panel) +
       "\" fill=\"none\" stroke=\"#888\"/>\n";
  for (double e = std::ceil(llo); e <= lhi; e += 1)
    s += "<text x=\"" + num(left - 6) + "\" y=\"" + num(ly(std::pow(10, e)) + 4) + "\" text-anchor=\"end\">" +
         num(std::pow(10, e)) + "</text>\n";
  s += "<g id=\"layers\">\n";
  for (std::size_t i = 0; i < shown.size(); ++i) {
    const PlotLayer& l = *shown[i];
    const double x = left + plot_w * (static_cast<double>(i) + 0.5) / static_cast<double>(shown.size());
    s += "<g class=\"layer\"><title>" + xml_escape(l.name) + "</title>";
    for (std::size_t c = 0; c < l.ms.size(); ++c) {
      const bool chosen = static_cast<int>(c) == l.chosen;
      s += "<circle cx=\"" + num(x) + "\" cy=\"" + num(ly(l.ms[c])) + "\" r=\"" + (chosen ? "4" : "3") + "\" fill=\"" +
           (chosen ? "#1f6fd1" : "none") + "\" stroke=\"#1f6fd1\"><title>" + xml_escape(l.candidates[c]) + " " +
           num(l.ms[c]) + " ms</title></circle>";
    }
    s += "</g>\n";
  }
  s += "</g>\n<text x=\"" + num(left) + "\" y=\"" + num(y0 + panel + 20) + "\">layers with more than one candidate, in network order</text>\n";
  s += "</svg>\n";
  return s;
}

}  // namespace primsel::bench
