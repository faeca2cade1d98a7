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
