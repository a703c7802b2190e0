# Findliburing: liburing through pkg-config (liburing.pc, from liburing-dev).
#
# Defines liburing_FOUND, liburing_VERSION and the imported target liburing::liburing.
# ringloop's CMakeLists.txt uses it, and ringloopConfig.cmake installs it beside itself
# so that find_package(ringloop) finds liburing the same way.

find_package(PkgConfig QUIET)
if(PKG_CONFIG_FOUND)
  pkg_check_modules(liburing_PC QUIET IMPORTED_TARGET GLOBAL liburing)
endif()

set(liburing_VERSION "${liburing_PC_VERSION}")
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(liburing
  REQUIRED_VARS liburing_PC_LINK_LIBRARIES
  VERSION_VAR liburing_VERSION
  REASON_FAILURE_MESSAGE "needs pkg-config and liburing.pc (Debian: pkg-config liburing-dev)")

if(liburing_FOUND AND NOT TARGET liburing::liburing)
  add_library(liburing::liburing INTERFACE IMPORTED GLOBAL)
  target_link_libraries(liburing::liburing INTERFACE PkgConfig::liburing_PC)
endif()
