# Cross-compile for 64-bit Windows with MinGW-w64 (Debian: mingw-w64).
#   cmake -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64-x86_64.cmake ...
# Tests then run under Wine through ci/wine-run.
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(IOR_MINGW_TRIPLE x86_64-w64-mingw32)
include(${CMAKE_CURRENT_LIST_DIR}/IorMingw.cmake)
