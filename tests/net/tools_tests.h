/* The tests of net_tools (issue 14) that live in files of their own. */
#ifndef IOR_TOOLS_TESTS_H
#define IOR_TOOLS_TESTS_H

void test_poll_readable_is_level_triggered(void **state);
void test_poll_writable_then_change_events(void **state);
void test_poll_peer_fin_is_readable_and_disconnect(void **state);
void test_poll_peer_reset_reports_every_asked_event(void **state);
void test_poll_connect_refused_is_writable(void **state);
void test_poll_listener_readable_on_connection(void **state);
void test_poll_udp_readable(void **state);
void test_poll_lifetime(void **state);
void test_poll_bad_input(void **state);

void test_connect_addrs_falls_through_a_refusal(void **state);
void test_connect_addrs_all_refused_reports_the_last(void **state);
void test_connect_addrs_delay_timeout_and_cancel(void **state);
void test_connect_addrs_loop_free_cancels(void **state);
void test_connect_name(void **state);
void test_connect_many_bad_input(void **state);

#define TOOLS_CONNECT_TESTS                                                  \
    cmocka_unit_test(test_connect_addrs_falls_through_a_refusal),            \
        cmocka_unit_test(test_connect_addrs_all_refused_reports_the_last),   \
        cmocka_unit_test(test_connect_addrs_delay_timeout_and_cancel),       \
        cmocka_unit_test(test_connect_addrs_loop_free_cancels),              \
        cmocka_unit_test(test_connect_name),                                 \
        cmocka_unit_test(test_connect_many_bad_input),

void test_local_echo_with_half_close(void **state);
void test_local_paths_stale_live_and_file(void **state);
void test_local_bad_input(void **state);
void test_local_many_clients_at_once(void **state);

#define TOOLS_LOCAL_TESTS                                                    \
    cmocka_unit_test(test_local_echo_with_half_close),                       \
        cmocka_unit_test(test_local_paths_stale_live_and_file),              \
        cmocka_unit_test(test_local_bad_input),                              \
        cmocka_unit_test(test_local_many_clients_at_once),

void test_file_stream_over_tcp(void **state);
void test_file_stream_over_local_ipc(void **state);
void test_file_truncated_closes_with_eio(void **state);
void test_file_pull_producer(void **state);
void test_file_bad_input(void **state);

#define TOOLS_FILE_TESTS                                                     \
    cmocka_unit_test(test_file_stream_over_tcp),                             \
        cmocka_unit_test(test_file_stream_over_local_ipc),                   \
        cmocka_unit_test(test_file_truncated_closes_with_eio),               \
        cmocka_unit_test(test_file_pull_producer),                           \
        cmocka_unit_test(test_file_bad_input),

#define TOOLS_POLL_TESTS                                                     \
    cmocka_unit_test(test_poll_readable_is_level_triggered),                 \
        cmocka_unit_test(test_poll_writable_then_change_events),             \
        cmocka_unit_test(test_poll_peer_fin_is_readable_and_disconnect),     \
        cmocka_unit_test(test_poll_peer_reset_reports_every_asked_event),    \
        cmocka_unit_test(test_poll_connect_refused_is_writable),             \
        cmocka_unit_test(test_poll_listener_readable_on_connection),         \
        cmocka_unit_test(test_poll_udp_readable),                            \
        cmocka_unit_test(test_poll_lifetime),                                \
        cmocka_unit_test(test_poll_bad_input),

#endif
