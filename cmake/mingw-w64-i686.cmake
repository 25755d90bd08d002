# Cross-compile for 32-bit Windows with MinGW-w64 (Debian: mingw-w64).
#   cmake -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64-i686.cmake ...
# CI only compiles this target: the Wine here is 64-bit only, so the
# emulator set below cannot run the tests without wine32.
set(CMAKE_SYSTEM_PROCESSOR i686)
set(IOR_MINGW_TRIPLE i686-w64-mingw32)
include(${CMAKE_CURRENT_LIST_DIR}/IorMingw.cmake)
