#include <catch2/catch.hpp>

#include <sstream>

#include "primsel/core/cpu.hpp"

using namespace primsel;

namespace {
std::string name_of(const char* cpuinfo) {
  std::istringstream in(cpuinfo);
  return cpu_name_from(in);
}
}  // namespace

TEST_CASE("cpu_name reads the model name, or an arm64 core's implementer and part") {
  CHECK(name_of("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel\t\t: 1\n"
                "model name\t: AMD EPYC 7551 32-Core Processor\n") == "AMD EPYC 7551 32-Core Processor");
  // arm64 Linux (a Neoverse N1 server): no name at all, so the codes tell cores apart in tuning caches.
  CHECK(name_of("processor\t: 0\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics "
                "fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp ssbs\nCPU implementer\t: 0x41\nCPU architecture: 8\n"
                "CPU variant\t: 0x3\nCPU part\t: 0xd0c\nCPU revision\t: 1\n\nprocessor\t: 1\nCPU implementer\t: 0x41\n"
                "CPU part\t: 0xd0c\n") == "CPU implementer 0x41 part 0xd0c");
  // A Raspberry Pi names its board after the per-core lines.
  CHECK(name_of("processor\t: 0\nCPU implementer\t: 0x41\nCPU part\t: 0xd08\n\nHardware\t: BCM2835\n"
                "Model\t\t: Raspberry Pi 4 Model B Rev 1.4\n") == "BCM2835");
  CHECK(name_of("") == "unknown");
  CHECK(name_of("model name\t:\n") == "unknown");
  CHECK_FALSE(cpu_name().empty());
}
