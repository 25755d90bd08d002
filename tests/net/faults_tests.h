/* The tests of the faults executable (test_net_faults.c,
 * test_net_defaults.c). */
#ifndef IOR_FAULTS_TESTS_H
#define IOR_FAULTS_TESTS_H

void test_listener_survives_descriptor_exhaustion_without_spinning(
    void **state);
int fx_exhaustion_teardown(void **state);
void test_slow_peers_do_not_delay_other_connections(void **state);

void test_second_listen_on_same_port_is_refused(void **state);
void test_listen_restart_while_connections_live(void **state);
void test_no_descriptor_or_handle_is_inheritable(void **state);
void test_max_buffer_refuses_write_and_queues_nothing(void **state);

#endif
