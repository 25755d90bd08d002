# Shared part of the MinGW-w64 toolchain files. The including file sets
# IOR_MINGW_TRIPLE and CMAKE_SYSTEM_PROCESSOR first.
#
# Toolchain files are read again for every try_compile, so this file only
# sets variables and has no side effects.

set(CMAKE_SYSTEM_NAME Windows)

set(CMAKE_C_COMPILER ${IOR_MINGW_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${IOR_MINGW_TRIPLE}-g++)
set(CMAKE_RC_COMPILER ${IOR_MINGW_TRIPLE}-windres)

# Look for headers and libraries only in the MinGW sysroot (and in prefixes
# the user adds, such as the cmocka build of ci/setup); programs come from
# the host.
# Appended, so a user can add the prefix an ior build was installed to:
# -DCMAKE_FIND_ROOT_PATH=/opt/ior-win64 (README, "Build your own tool").
list(APPEND CMAKE_FIND_ROOT_PATH /usr/${IOR_MINGW_TRIPLE})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# Link libgcc (and winpthread, libssp, if anything pulls them in)
# statically, so the executables run under Wine or on a bare Windows
# machine without DLLs from the MinGW sysroot next to them. System DLLs
# (kernel32, ws2_32, ...) are still linked through import libraries.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static -static-libgcc")

# CTest (and add_custom_command) run the Windows executables through Wine.
get_filename_component(_ior_wine_run
    "${CMAKE_CURRENT_LIST_DIR}/../ci/wine-run" ABSOLUTE)
set(CMAKE_CROSSCOMPILING_EMULATOR "${_ior_wine_run}")
unset(_ior_wine_run)
