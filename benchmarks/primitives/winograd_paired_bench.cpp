// F(4,3) with and without the streamed-U GEMMs (Plan::streamed), and direct_nchwc, timed run for run in one
// process: each round times every variant as the best of 3 back-to-back runs (warm caches, as in a repeated
// layer), so a load change on this shared machine hits all of them alike. Prints medians over the rounds and the
// median of the per-round ratios. Usage: winograd_paired_bench MODEL [LAYER_SUBSTRING] [ROUNDS], e.g.
//   ./build/benchmarks/winograd_paired_bench vgg16 ih14 15
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "primsel/core/layout_convert.hpp"
#include "primsel/core/thread_pool.hpp"
#include "primsel/primitives/direct_nchwc.hpp"
#include "primsel/primitives/winograd.hpp"
#include "zoo_conv_layers.hpp"
#include "bench_stats.hpp"

using namespace primsel;

namespace {

template <class P>
struct Runner {
  typename P::Plan plan;
  Tensor in, out, ws;
  ThreadPool pool{1};

  explicit Runner(const bench::ZooConvLayer& l)
      : plan(P::plan(l.desc, {l.weight.view(), l.desc.has_bias ? ConstTensorView(l.bias.view()) : ConstTensorView{}})
                 .value()) {
    const ConvDesc& d = l.desc;
    in = to_layout(zoo::random_input({d.n, d.ic, d.ih, d.iw}, 1), P::input_format(d).layout).value();
    out = Tensor({d.n, d.oc, d.oh, d.ow}, P::output_format(d));
    ws = Tensor({static_cast<std::int64_t>(P::workspace_bytes(d, 1) / 4 + 1)});
  }
  double time_ms() {
    double best = 1e30;
    for (int i = 0; i < 3; ++i) {
      const Context ctx{&pool, {ws.bytes(), ws.size_bytes()}};
      const auto t0 = std::chrono::steady_clock::now();
      P::run(plan, in.view(), out.view(), ctx);
      best = std::min(best, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    return best;
  }
};

using bench::median;

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s MODEL [LAYER_SUBSTRING] [ROUNDS]\n", argv[0]);
    return 2;
  }
  const std::string filter = argc > 2 ? argv[2] : "";
  const int rounds = argc > 3 ? std::max(1, std::atoi(argv[3])) : 15;
  for (const auto& layer : bench::zoo_conv_layers(argv[1])) {
    const std::string name = to_string(layer.desc);
    if (!WinogradF43::supports(layer.desc).ok || name.find(filter) == std::string::npos) continue;
    Runner<WinogradF43> plain(layer), streamed(layer);
    Runner<DirectNchwc> direct(layer);
    plain.plan.streamed = false;
    streamed.plan.streamed = true;
    std::vector<double> tp, ts, td, ratio;
    for (int r = 0; r < rounds; ++r) {
      tp.push_back(plain.time_ms());
      ts.push_back(streamed.time_ms());
      td.push_back(direct.time_ms());
      ratio.push_back(tp.back() / ts.back());
    }
    std::printf("%-40s f43 plain %.3f ms  streamed %.3f ms  direct_nchwc %.3f ms | streamed speed-up %.2fx | "
                "direct / f43 streamed %.2fx\n",
                name.c_str(), median(tp), median(ts), median(td), median(ratio), median(td) / median(ts));
  }
  return 0;
}
