# The consumer-core model (issue 7), included from tests/core/CMakeLists.txt:
#
#   core_model   CTest entry: the randomized driver (model_driver.c), a
#                seeded run of IOR_MODEL_STEPS operations (default
#                1,000,000; about 2 s natively, 4 s under ASan). It links
#                the core objects with its own fake backend (model_fake.c),
#                not fake_backend.c: one backend per executable.
#   fuzz_core    with IOR_BUILD_FUZZ=ON and clang: the libFuzzer target over
#                the same operation stream, the core compiled into it with
#                coverage; CTest entry core_fuzz_corpus replays the
#                committed corpus once. Bounded fuzzing is a ci/test step:
#                  fuzz_core -max_total_time=60 -max_len=2048 <new-dir> \
#                      tests/core/corpus
#
# Environment of core_model: IOR_MODEL_SEED, IOR_MODEL_STEPS (set a smaller
# count for valgrind), IOR_MODEL_TOLERATE, IOR_MODEL_REPLAY, IOR_MODEL_TRACE
# (see model_driver.c).

set(_ior_model_dir ${CMAKE_CURRENT_LIST_DIR})
set(_ior_model_sources
    ${_ior_model_dir}/model.c
    ${_ior_model_dir}/model_act.c
    ${_ior_model_dir}/model_exec.c
    ${_ior_model_dir}/model_heap.c
    ${_ior_model_dir}/model_fake.c
    ${_ior_model_dir}/fake_os_stubs.c
    ${_ior_model_dir}/fake_udp.c
    ${_ior_model_dir}/fake_pipe.c
    ${_ior_model_dir}/fake_poll.c)

add_executable(core_model
    ${_ior_model_sources}
    ${_ior_model_dir}/model_driver.c
    $<TARGET_OBJECTS:ior_common>
    $<TARGET_OBJECTS:ior_tls_none>)
target_include_directories(core_model PRIVATE
    ${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR}/common)
ior_target_warnings(core_model)
add_test(NAME core_model COMMAND core_model)
math(EXPR _ior_model_timeout "120 * ${IOR_TEST_TIMEOUT_SCALE}")
set_tests_properties(core_model PROPERTIES TIMEOUT ${_ior_model_timeout})

option(IOR_BUILD_FUZZ "Build the libFuzzer target fuzz_core (clang only)" OFF)
if(IOR_BUILD_FUZZ)
    if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang" OR WIN32)
        message(WARNING "IOR_BUILD_FUZZ needs clang on a non-Windows host "
            "(configure with CC=clang); fuzz_core is not built")
    else()
        # The core's own sources, so that libFuzzer sees their coverage.
        get_target_property(_ior_common_src ior_common SOURCES)
        set(_ior_fuzz_core_src "")
        foreach(_s IN LISTS _ior_common_src)
            if(NOT IS_ABSOLUTE "${_s}")
                set(_s ${PROJECT_SOURCE_DIR}/common/${_s})
            endif()
            list(APPEND _ior_fuzz_core_src ${_s})
        endforeach()
        add_executable(fuzz_core ${_ior_model_sources}
            ${_ior_model_dir}/fuzz_core.c ${_ior_fuzz_core_src}
            ${PROJECT_SOURCE_DIR}/common/tls_none.c)
        target_include_directories(fuzz_core PRIVATE
            ${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR}/common)
        set(_ior_fuzz_flags -fsanitize=fuzzer,address,undefined
            -fno-sanitize-recover=all -fno-omit-frame-pointer)
        target_compile_options(fuzz_core PRIVATE ${_ior_fuzz_flags})
        target_link_options(fuzz_core PRIVATE ${_ior_fuzz_flags})
        ior_target_warnings(fuzz_core)
        add_test(NAME core_fuzz_corpus
            COMMAND fuzz_core -runs=0 ${_ior_model_dir}/corpus)
        set_tests_properties(core_fuzz_corpus PROPERTIES
            TIMEOUT ${_ior_model_timeout})
    endif()
endif()
