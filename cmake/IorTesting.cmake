# cmocka tests, one executable and one CTest entry each:
#
#   ior_add_cmocka_test(NAME <name> SOURCES <src>... [LIBS <lib>...]
#                       [TIMEOUT <seconds>] [ENV <VAR=value>...])
#
# TIMEOUT defaults to 120 s and is multiplied by IOR_TEST_TIMEOUT_SCALE
# (ci/test raises it for the valgrind run). ENV is set for the test only.
# Cross-compiled for Windows, CTest runs the .exe through
# CMAKE_CROSSCOMPILING_EMULATOR (ci/wine-run), with no change here.
#
# Where cmocka comes from:
#   - MinGW cross build: IOR_CMOCKA_ROOT, the prefix ci/setup builds
#     (build/deps/cmocka-<triple>, the default when it exists). We link its
#     lib/libcmocka.a by path: cmocka 1.1.5's CMake config defines no
#     imported target and names the DLL import library, not the archive.
#     Its header has no dllimport markup, so static linking needs no define.
#   - Everything else (Linux, MSYS2, MSVC with vcpkg): the system cmocka,
#     through pkg-config hints and find_path/find_library.
include_guard(GLOBAL)
include(${CMAKE_CURRENT_LIST_DIR}/IorWarnings.cmake)

set(IOR_TEST_TIMEOUT_SCALE 1 CACHE STRING
    "Integer factor applied to every test TIMEOUT (slow runners, valgrind)")

function(_ior_find_cmocka)
    if(TARGET ior_cmocka)
        return()
    endif()
    if(MINGW AND CMAKE_CROSSCOMPILING)
        set(default "")
        set(guess "${PROJECT_SOURCE_DIR}/build/deps/cmocka-${IOR_MINGW_TRIPLE}")
        if(IOR_MINGW_TRIPLE AND EXISTS "${guess}/lib/libcmocka.a")
            set(default "${guess}")
        endif()
        set(IOR_CMOCKA_ROOT "${default}" CACHE PATH
            "Install prefix of cmocka built for MinGW (ci/setup makes one)")
        if(NOT EXISTS "${IOR_CMOCKA_ROOT}/lib/libcmocka.a")
            message(FATAL_ERROR "cmocka for MinGW not found: set "
                "IOR_CMOCKA_ROOT to a prefix with lib/libcmocka.a "
                "(run ci/setup to build one), or IOR_BUILD_TESTS=OFF")
        endif()
        set(lib "${IOR_CMOCKA_ROOT}/lib/libcmocka.a")
        set(inc "${IOR_CMOCKA_ROOT}/include")
    else()
        find_package(PkgConfig QUIET)
        if(PKG_CONFIG_FOUND)
            pkg_check_modules(PC_CMOCKA QUIET cmocka)
        endif()
        find_path(IOR_CMOCKA_INCLUDE_DIR cmocka.h
            HINTS ${PC_CMOCKA_INCLUDE_DIRS})
        find_library(IOR_CMOCKA_LIBRARY NAMES cmocka cmocka-static
            HINTS ${PC_CMOCKA_LIBRARY_DIRS})
        if(NOT IOR_CMOCKA_INCLUDE_DIR OR NOT IOR_CMOCKA_LIBRARY)
            message(FATAL_ERROR "cmocka not found (Debian: libcmocka-dev; "
                "MSYS2: mingw-w64-x86_64-cmocka; vcpkg: cmocka), "
                "or configure with IOR_BUILD_TESTS=OFF")
        endif()
        set(lib "${IOR_CMOCKA_LIBRARY}")
        set(inc "${IOR_CMOCKA_INCLUDE_DIR}")
    endif()
    add_library(ior_cmocka UNKNOWN IMPORTED GLOBAL)
    set_target_properties(ior_cmocka PROPERTIES
        IMPORTED_LOCATION "${lib}"
        INTERFACE_INCLUDE_DIRECTORIES "${inc}")
    message(STATUS "cmocka: ${lib}")
endfunction()

_ior_find_cmocka()

function(ior_add_cmocka_test)
    cmake_parse_arguments(PARSE_ARGV 0 arg "" "NAME;TIMEOUT" "SOURCES;LIBS;ENV")
    if(NOT arg_NAME OR NOT arg_SOURCES)
        message(FATAL_ERROR "ior_add_cmocka_test: NAME and SOURCES are required")
    endif()
    if(arg_UNPARSED_ARGUMENTS)
        message(FATAL_ERROR "ior_add_cmocka_test(${arg_NAME}): unknown "
            "arguments ${arg_UNPARSED_ARGUMENTS}")
    endif()
    if(NOT arg_TIMEOUT)
        set(arg_TIMEOUT 120)
    endif()
    math(EXPR timeout "${arg_TIMEOUT} * ${IOR_TEST_TIMEOUT_SCALE}")

    add_executable(${arg_NAME} ${arg_SOURCES})
    target_link_libraries(${arg_NAME} PRIVATE ${arg_LIBS} ior_cmocka)
    ior_target_warnings(${arg_NAME})

    add_test(NAME ${arg_NAME} COMMAND ${arg_NAME})
    set_tests_properties(${arg_NAME} PROPERTIES TIMEOUT ${timeout})
    if(arg_ENV)
        set_tests_properties(${arg_NAME} PROPERTIES ENVIRONMENT "${arg_ENV}")
    endif()
endfunction()

# ior_find_test_bash(<var>): a POSIX bash for the test scripts, or "" if
# none. On Windows itself a bare "bash" is System32\bash.exe, the WSL
# launcher (the MSVC runner's PATH), not a shell for them: Git's or
# MSYS2's is taken. Elsewhere (and cross-compiling) the host's bash.
function(ior_find_test_bash var)
    if(NOT WIN32 OR CMAKE_CROSSCOMPILING)
        find_program(IOR_HOST_BASH NAMES bash)
        set(${var} "${IOR_HOST_BASH}" PARENT_SCOPE)
        return()
    endif()
    find_program(IOR_TEST_BASH NAMES bash
        PATHS "$ENV{ProgramW6432}/Git/bin" "$ENV{ProgramFiles}/Git/bin"
              "C:/Program Files/Git/bin" "C:/msys64/usr/bin"
        NO_DEFAULT_PATH)
    if(NOT IOR_TEST_BASH)
        find_program(IOR_TEST_BASH NAMES bash)
    endif()
    if(IOR_TEST_BASH MATCHES "[Ss][Yy][Ss][Tt][Ee][Mm]32")
        set(${var} "" PARENT_SCOPE)
    else()
        set(${var} "${IOR_TEST_BASH}" PARENT_SCOPE)
    endif()
endfunction()
