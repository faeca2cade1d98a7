# Third-party libraries, linked so that the ferry binary needs only libc at run time.
#
# Every shared library a process maps costs resident memory (relocated pages, the parts touched
# at start-up) and start-up time. ferry's budget is 4 MiB beyond guest RAM, so it uses the
# static archives Debian ships (yaml-cpp, boost_program_options, libstdc++), spdlog header-only,
# and fmt compiled once into lib/base (Debian ships neither as a static archive).

# fmt: the headers, with the compiled part built once by lib/base (src/fmt_library.cc).
find_package(fmt REQUIRED)
add_library(ferry_fmt INTERFACE)
target_include_directories(ferry_fmt SYSTEM INTERFACE
  $<TARGET_PROPERTY:fmt::fmt-header-only,INTERFACE_INCLUDE_DIRECTORIES>)

find_package(spdlog REQUIRED)
add_library(ferry_spdlog INTERFACE)
target_compile_definitions(ferry_spdlog INTERFACE SPDLOG_FMT_EXTERNAL)
target_include_directories(ferry_spdlog SYSTEM INTERFACE
  $<TARGET_PROPERTY:spdlog::spdlog_header_only,INTERFACE_INCLUDE_DIRECTORIES>)
target_link_libraries(ferry_spdlog INTERFACE ferry_fmt Threads::Threads)

find_package(yaml-cpp REQUIRED)
find_library(FERRY_YAML_CPP_ARCHIVE NAMES libyaml-cpp.a REQUIRED)
add_library(ferry_yaml_cpp INTERFACE)
target_include_directories(ferry_yaml_cpp SYSTEM INTERFACE ${YAML_CPP_INCLUDE_DIR})
target_link_libraries(ferry_yaml_cpp INTERFACE ${FERRY_YAML_CPP_ARCHIVE})

set(Boost_USE_STATIC_LIBS ON)
find_package(Boost 1.74 REQUIRED COMPONENTS program_options)

# Every function and object in its own section, so that the shipped binary can drop what it
# never calls (most of the static libstdc++ and yaml-cpp): a denser text segment means fewer
# resident pages, since the kernel maps page-cache neighbours of each touched page (fault-around).
add_compile_options(-ffunction-sections -fdata-sections)

# For executables that ship: libstdc++ and libgcc linked in, so only libc stays shared, and
# unreferenced sections removed.
function(ferry_static_runtime target)
  target_link_options(${target} PRIVATE -static-libstdc++ -static-libgcc -Wl,--gc-sections)
endfunction()

# libseccomp: the static archive too, so the binary that runs in the lab needs no libseccomp.so.
find_package(PkgConfig REQUIRED)
pkg_check_modules(LIBSECCOMP REQUIRED libseccomp)
find_library(FERRY_SECCOMP_ARCHIVE NAMES libseccomp.a HINTS ${LIBSECCOMP_LIBRARY_DIRS} REQUIRED)
add_library(ferry_libseccomp INTERFACE)
target_include_directories(ferry_libseccomp SYSTEM INTERFACE ${LIBSECCOMP_INCLUDE_DIRS})
target_link_libraries(ferry_libseccomp INTERFACE ${FERRY_SECCOMP_ARCHIVE})
