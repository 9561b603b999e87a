# Installation and packaging (docs/packaging.md): the libraries with their CMake
# package (wandb::wandb, wandb::wandb_mpi) and pkg-config files, the headers, the
# launcher, the docs, and a Debian package through CPack. The programs install
# themselves from their own directories (src/*/CMakeLists.txt).
include(CMakePackageConfigHelpers)

set(WANDB_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/wandb)
set(WANDB_PC_DIR ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

if(TARGET wandb)
  install(TARGETS wandb EXPORT wandbTargets
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  install(EXPORT wandbTargets NAMESPACE wandb:: DESTINATION ${WANDB_CMAKE_DIR})
  # wandb.hpp: the optional header-only C++ API (docs/cpp.md); needs no C++ compiler here.
  install(FILES include/wandb.h include/wandb_media.h include/wandb_artifact.h include/wandb.hpp
    ${WANDB_GENERATED_INCLUDE_DIR}/wandb_version.h
    DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endif()
if(TARGET wandb_mpi)
  install(TARGETS wandb_mpi EXPORT wandb_mpiTargets
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  install(EXPORT wandb_mpiTargets NAMESPACE wandb:: DESTINATION ${WANDB_CMAKE_DIR})
  install(FILES include/wandb_mpi.h include/wandb_mpi.hpp DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endif()

# The CMake package: wandbConfig.cmake + wandbConfigVersion.cmake. While the major
# version is 0 every minor release may break the ABI, so only the same minor version
# is compatible; from 1.0 on, the same major version (the soname policy, WANDB_SOVERSION).
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(_wandb_compat SameMinorVersion)
else()
  set(_wandb_compat SameMajorVersion)
endif()
configure_package_config_file(cmake/wandbConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/wandbConfig.cmake INSTALL_DESTINATION ${WANDB_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/wandbConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY ${_wandb_compat})
if(TARGET wandb)
  install(FILES ${CMAKE_CURRENT_BINARY_DIR}/wandbConfig.cmake
    ${CMAKE_CURRENT_BINARY_DIR}/wandbConfigVersion.cmake DESTINATION ${WANDB_CMAKE_DIR})
endif()

# pkg-config files, relocatable: prefix is found from the .pc file's own directory
# (unless the install directories are absolute paths).
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(WANDB_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  file(RELATIVE_PATH _rel /p/${WANDB_PC_DIR} /p)
  string(REGEX REPLACE "/$" "" _rel "${_rel}")
  set(WANDB_PC_PREFIX "\${pcfiledir}/${_rel}")
endif()
foreach(_kind LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${_kind}}")
    set(WANDB_PC_${_kind} "${CMAKE_INSTALL_${_kind}}")
  else()
    set(WANDB_PC_${_kind} "\${prefix}/${CMAKE_INSTALL_${_kind}}")
  endif()
endforeach()
set(WANDB_PC_MPI_CFLAGS "")
set(WANDB_PC_MPI_LIBS "")
if(TARGET wandb_mpi)
  foreach(_dir IN LISTS MPI_C_INCLUDE_DIRS)
    string(APPEND WANDB_PC_MPI_CFLAGS " -I${_dir}")
  endforeach()
  if(MPI_C_COMPILE_OPTIONS)
    string(REPLACE ";" " " _opts "${MPI_C_COMPILE_OPTIONS}")
    string(APPEND WANDB_PC_MPI_CFLAGS " ${_opts}")
  endif()
  foreach(_lib IN LISTS MPI_C_LIBRARIES)
    string(APPEND WANDB_PC_MPI_LIBS " ${_lib}")
  endforeach()
endif()
if(TARGET wandb)
  configure_file(cmake/wandb.pc.in ${CMAKE_CURRENT_BINARY_DIR}/wandb.pc @ONLY)
  install(FILES ${CMAKE_CURRENT_BINARY_DIR}/wandb.pc DESTINATION ${WANDB_PC_DIR})
endif()
if(TARGET wandb_mpi)
  configure_file(cmake/wandb_mpi.pc.in ${CMAKE_CURRENT_BINARY_DIR}/wandb_mpi.pc @ONLY)
  install(FILES ${CMAKE_CURRENT_BINARY_DIR}/wandb_mpi.pc DESTINATION ${WANDB_PC_DIR})
endif()

install(PROGRAMS launcher/wandb-mpirun DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR} FILES_MATCHING PATTERN "*.md")

# cpack -G DEB (from the build directory): one package with everything above.
if(PROJECT_IS_TOP_LEVEL)
  set(CPACK_PACKAGE_NAME wandb-mpi)
  set(CPACK_PACKAGE_VENDOR "wandb-mpi")
  set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "The Weights & Biases Run API in C for MPI jobs: library, aggregator, local server")
  set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
  set(CPACK_PACKAGE_CONTACT "wandb-mpi maintainers")
  set(CPACK_RESOURCE_FILE_README ${CMAKE_CURRENT_SOURCE_DIR}/README.md)
  set(CPACK_GENERATOR DEB)
  set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
  set(CPACK_DEBIAN_PACKAGE_SECTION libs)
  # dpkg-shlibdeps (Debian dpkg-dev) derives Depends from the binaries when present.
  find_program(WANDB_DPKG_SHLIBDEPS dpkg-shlibdeps)
  if(WANDB_DPKG_SHLIBDEPS)
    set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
  endif()
  include(CPack)
endif()
