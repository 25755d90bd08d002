/* The tests of the net suite, one list per file, run by test_net.c. */
#ifndef IOR_NET_TESTS_H
#define IOR_NET_TESTS_H

void test_echo_ipv4(void **state);
void test_echo_ipv6(void **state);
void test_echo_dual_stack_accepts_ipv4(void **state);
void test_ipv6_only_listener_refuses_ipv4(void **state);
void test_loop_backend_selection(void **state);
void test_bulk_64mib_each_way_checksummed(void **state);
void test_streaming_producer_paused_by_peer_that_does_not_read(void **state);
void test_pull_producer_over_socket(void **state);

void test_lose_connection_flushes_8mib_then_eof(void **state);
void test_lose_write_connection_peer_sees_eof_and_still_sends(void **state);
void test_half_close_aware_protocol_keeps_writing(void **state);
void test_abort_resets_peer_and_reports_once(void **state);
void test_peer_reset_while_writing(void **state);
void test_connect_refused(void **state);
void test_connect_timeout_on_full_backlog(void **state);
void test_loop_free_cancels_pending_connect(void **state);

void test_close_in_flight_1000_times_no_leaks(void **state);
void test_loop_free_aborts_live_connections(void **state);
void test_500_concurrent_connections(void **state);

void test_timers_fire_in_order_and_cancel(void **state);
void test_call_from_thread_4_threads(void **state);
void test_completion_flood_does_not_starve_timer(void **state);

#endif
