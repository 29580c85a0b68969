// The tuning cache: the first start-up measures and searches, the second reads both from the file.
//   ./reuse_cache [cache-file]
#include <primsel/primsel.hpp>

#include <cstdio>

int main(int argc, char** argv) {
  using namespace primsel;
  const std::string path = argc > 1 ? argv[1] : "squeezenet1_1.cache";
  for (int start = 1; start <= 2; ++start) {
    auto net = Network<QLearning<>>::create(zoo::build("squeezenet1_1").value()).value();
    if (Status s = net.bind({.threads = 1, .cache_path = path}); !s) return std::puts(s.error().what()), 1;
    const BindReport& r = net.report();
    std::printf("start-up %d: measured in %.1f ms (%s), searched in %.2f ms (%s)\n", start, r.measure_ms,
                r.measured_from_cache ? "from the cache" : "on this machine", r.search_ms,
                r.searched_from_cache ? "from the cache" : "searched");
    if (start == 2 && !(r.measured_from_cache && r.searched_from_cache)) return 1;
  }
  return 0;
}
