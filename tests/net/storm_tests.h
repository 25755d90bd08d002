/* The tests of the storm executable (test_net_storm.c, test_net_closes.c). */
#ifndef IOR_STORM_TESTS_H
#define IOR_STORM_TESTS_H

void test_storm_1000_connections_random_faults(void **state);
void test_10000_closes_in_flight_no_leak_no_late_callback(void **state);

#endif
