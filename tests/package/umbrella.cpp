// Compiled (not run) for other targets and flag sets: the umbrella header must build everywhere primsel goes.
#include <primsel/primsel.hpp>

int primsel_umbrella_check() {
  primsel::Graph g("check");
  g.mark_output(g.add_input("x", {1, 2}));
  const primsel::Status s = primsel::finalize(g);
  return s.ok() ? 0 : 1;
}
