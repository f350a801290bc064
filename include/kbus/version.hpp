// kbus's version: the one place it is written (CMakeLists.txt reads it from here).
#pragma once

#define KBUS_VERSION_MAJOR 0
#define KBUS_VERSION_MINOR 2
#define KBUS_VERSION_PATCH 0
#define KBUS_VERSION "0.2.0"
