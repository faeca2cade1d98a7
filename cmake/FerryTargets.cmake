# Helpers that give every ferry library the same shape: its own target, its own include root
# (lib/<name>/include/ferry/<name>/...), and the house warnings.

function(ferry_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wshadow -Wnon-virtual-dtor
                                           -Wimplicit-fallthrough)
  if(FERRY_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

# ferry_library(<name> SOURCES ... DEPS ...): target ferry_<name>, alias ferry::<name>.
# DEPS are PUBLIC: a lib exposes what it includes in its headers. The dependency rule of
# docs/architecture.md is enforced here: a lib sees only the include roots of its DEPS.
function(ferry_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(ferry_${name} STATIC ${ARG_SOURCES})
  add_library(ferry::${name} ALIAS ferry_${name})
  target_include_directories(ferry_${name} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include)
  target_link_libraries(ferry_${name} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  ferry_warnings(ferry_${name})
endfunction()

# ferry_fuzzer(<name> SOURCES ... DEPS ...): a libFuzzer target fuzz_<name> (FERRY_FUZZ builds
# only, with clang; ASan and UBSan come from the top-level flags). Its seed corpus lives in
# test/fuzz/corpus/<name>/; ./dev test runs every fuzzer for a bounded time, ./dev fuzz longer.
function(ferry_fuzzer name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(fuzz_${name} ${ARG_SOURCES})
  target_link_libraries(fuzz_${name} PRIVATE ${ARG_DEPS})
  target_link_options(fuzz_${name} PRIVATE -fsanitize=fuzzer)
  # All fuzzers sit in <build>/fuzz/, where ./dev finds them.
  set_target_properties(fuzz_${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz)
  ferry_warnings(fuzz_${name})
  add_dependencies(ferry_fuzzers fuzz_${name})
  set_property(GLOBAL APPEND PROPERTY FERRY_FUZZERS ${name})
endfunction()
