# ior_target_warnings(<target>): the house warning level on one target.
# GCC, Clang and MinGW: -Wall -Wextra; MSVC: /W4. IOR_WERROR (default ON)
# turns warnings into errors. Only the compile options of <target> change.
include_guard(GLOBAL)

function(ior_target_warnings target)
    if(MSVC)
        target_compile_options(${target} PRIVATE /W4
            $<$<BOOL:${IOR_WERROR}>:/WX>)
    elseif(CMAKE_C_COMPILER_ID MATCHES "GNU|Clang")
        target_compile_options(${target} PRIVATE -Wall -Wextra
            $<$<BOOL:${IOR_WERROR}>:-Werror>)
    endif()
endfunction()
