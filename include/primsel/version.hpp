// primsel's version; keep in step with project(VERSION) in CMakeLists.txt (a test checks they agree).
#pragma once

#define PRIMSEL_VERSION_MAJOR 0
#define PRIMSEL_VERSION_MINOR 1
#define PRIMSEL_VERSION_PATCH 0

namespace primsel {
inline constexpr const char* version_string = "0.1.0";
}
