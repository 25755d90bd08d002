# IOR_SANITIZE=ON: AddressSanitizer + UndefinedBehaviorSanitizer on every
# target of the build (compile and link), failing on the first report.
# GCC and Clang on non-Windows hosts only; elsewhere a warning and nothing.
include_guard(GLOBAL)

if(IOR_SANITIZE)
    if(CMAKE_C_COMPILER_ID MATCHES "GNU|Clang" AND NOT WIN32)
        set(_ior_san -fsanitize=address,undefined -fno-omit-frame-pointer
            -fno-sanitize-recover=all)
        add_compile_options(${_ior_san})
        add_link_options(${_ior_san})
        unset(_ior_san)
    else()
        message(WARNING "IOR_SANITIZE is only supported with GCC or Clang "
            "on non-Windows targets; ignored")
    endif()
endif()
