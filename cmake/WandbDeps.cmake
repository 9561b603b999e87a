# Dependencies, found as packages; exposed as INTERFACE targets.
find_package(PkgConfig REQUIRED)
pkg_check_modules(ZMQ REQUIRED IMPORTED_TARGET libzmq)
pkg_check_modules(JANSSON REQUIRED IMPORTED_TARGET jansson)
find_package(CURL REQUIRED)
find_package(Threads REQUIRED)

add_library(wandb_deps_core INTERFACE)
target_link_libraries(wandb_deps_core INTERFACE
  PkgConfig::ZMQ PkgConfig::JANSSON CURL::libcurl Threads::Threads m)

if(WANDB_BUILD_SERVER)
  pkg_check_modules(MHD REQUIRED IMPORTED_TARGET libmicrohttpd)
  find_package(SQLite3 REQUIRED)
endif()
if(WANDB_WITH_MPI)
  find_package(MPI REQUIRED COMPONENTS C)
endif()
