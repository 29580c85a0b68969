#include <catch2/catch.hpp>

#include <string>

#include "primsel/version.hpp"

TEST_CASE("version.hpp agrees with the CMake project version") {
  CHECK(std::string(primsel::version_string) == PRIMSEL_PROJECT_VERSION);
  CHECK(std::to_string(PRIMSEL_VERSION_MAJOR) + "." + std::to_string(PRIMSEL_VERSION_MINOR) + "." +
            std::to_string(PRIMSEL_VERSION_PATCH) ==
        PRIMSEL_PROJECT_VERSION);
}
