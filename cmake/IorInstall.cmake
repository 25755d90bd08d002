# Install rules for the `ior` library: the header, the static library, a
# CMake package (find_package(ior) gives ior::ior) and a pkg-config file.
# Included by the top-level CMakeLists.txt once the `ior` target exists.
include_guard(GLOBAL)
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(IOR_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/ior)

install(FILES ${PROJECT_SOURCE_DIR}/include/ior.h
    DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

# ior_backend_libs carries the system libraries (threads; ws2_32, mswsock),
# so it is exported with ior and reaches users through ior::ior.
# The static and the shared build export different files (iorTargets,
# iorSharedTargets), so both can be installed into one prefix (ci/package
# does) and iorConfig.cmake offers whichever are there.
if(IOR_SHARED)
    set(_ior_export iorSharedTargets)
    set(_ior_pc ior-shared)
else()
    set(_ior_export iorTargets)
    set(_ior_pc ior)
endif()
install(TARGETS ior EXPORT ${_ior_export}
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
    INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
# The static library's users link its system libraries through it.
if(NOT IOR_SHARED)
    install(TARGETS ior_backend_libs EXPORT ${_ior_export})
endif()
install(EXPORT ${_ior_export} NAMESPACE ior:: DESTINATION ${IOR_CMAKE_DIR})

# TLS over OpenSSL: its libraries come through pkg-config's Requires and
# find_dependency (set before iorConfig.cmake is written).
if(IOR_TLS_ENGINE STREQUAL "openssl")
    set(IOR_PC_REQUIRES "Requires: libssl libcrypto")
    set(IOR_FIND_OPENSSL "find_dependency(OpenSSL 3)")
else()
    set(IOR_PC_REQUIRES "")
    set(IOR_FIND_OPENSSL "")
endif()
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/iorConfig.cmake.in
    ${CMAKE_CURRENT_BINARY_DIR}/iorConfig.cmake
    INSTALL_DESTINATION ${IOR_CMAKE_DIR})
write_basic_package_version_file(
    ${CMAKE_CURRENT_BINARY_DIR}/iorConfigVersion.cmake
    COMPATIBILITY SameMinorVersion)
install(FILES
    ${CMAKE_CURRENT_BINARY_DIR}/iorConfig.cmake
    ${CMAKE_CURRENT_BINARY_DIR}/iorConfigVersion.cmake
    DESTINATION ${IOR_CMAKE_DIR})

# The static library's system libraries belong in Libs, not Libs.private:
# a plain `pkg-config --libs ior` must link. The shared one carries them.
if(WIN32)
    set(IOR_PC_SYSLIBS "-lws2_32 -lmswsock -lsecur32 -ladvapi32 -lcrypt32 -lncrypt")
else()
    set(IOR_PC_SYSLIBS "-pthread")
endif()
# prefix is found relative to the .pc file itself, so the install tree can
# be moved (and `cmake --install --prefix` works) without editing it.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
    set(IOR_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
    file(RELATIVE_PATH _ior_up "/p/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/p")
    string(REGEX REPLACE "/$" "" _ior_up "${_ior_up}")
    set(IOR_PC_PREFIX "\${pcfiledir}/${_ior_up}")
    unset(_ior_up)
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
    set(IOR_PC_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
else()
    set(IOR_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
    set(IOR_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
else()
    set(IOR_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
if(IOR_SHARED)
    set(IOR_PC_NAME ior-shared)
    set(IOR_PC_LIB ior-shared)
    set(IOR_PC_CFLAGS " -DIOR_SHARED")
    set(IOR_PC_LIBS_PRIVATE "Libs.private: ${IOR_PC_SYSLIBS}")
    set(IOR_PC_SYSLIBS "")
else()
    set(IOR_PC_NAME ior)
    set(IOR_PC_LIB ior)
    set(IOR_PC_CFLAGS "")
    set(IOR_PC_LIBS_PRIVATE "")
endif()
configure_file(${CMAKE_CURRENT_LIST_DIR}/ior.pc.in
    ${CMAKE_CURRENT_BINARY_DIR}/${_ior_pc}.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/${_ior_pc}.pc
    DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
