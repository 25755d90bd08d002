/*
 * The poll-handle OS actions of common/seam.h for the fake backends: a
 * handle that records what the core asked, so common/poll.c's rules are
 * tested without sockets (the test plays the OS with ior__core_poll_ready).
 */
#ifndef IOR_TEST_FAKE_POLL_H
#define IOR_TEST_FAKE_POLL_H

#include "core.h"

typedef struct fake_poll {
    int open_result;   /* what ior__os_poll_open returns (0: a handle) */
    int update_result; /* what ior__os_poll_update returns when starting */
    int opens, updates, closes;
    unsigned last_events; /* p->events at the last update */
} fake_poll_t;

extern fake_poll_t fake_poll;

void fake_poll_reset(void);

#endif
