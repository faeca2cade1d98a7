// fmt's compiled part, built once into ferry. Debian ships fmt as a shared library only; linking
// it costs resident memory and start-up time in every ferry process, and using fmt header-only
// makes every translation unit several times slower to compile. This file is the one place that
// compiles the implementation (fmt/format-inl.h) and the instantiations fmt/format.h declares.
#include <fmt/format-inl.h>

FMT_BEGIN_NAMESPACE
namespace detail {
// Declared `extern template` in fmt/format.h; ferry formats char only.
template FMT_API auto thousands_sep_impl<char>(locale_ref) -> thousands_sep_result<char>;
template FMT_API auto decimal_point_impl(locale_ref) -> char;
}  // namespace detail
FMT_END_NAMESPACE
