/*
 * A UDP socket as a producer (DESIGN rule 10 for datagrams): the same on
 * every backend, since it only calls the public pause/resume/close.
 */
#include "core.h"

static void udp_pause(void *user)
{
    (void)ior_udp_pause_reading(user);
}

static void udp_resume(void *user)
{
    (void)ior_udp_resume_reading(user);
}

static void udp_stop(void *user)
{
    ior_udp_close(user);
}

const ior_producer_ops_t ior_udp_producer_ops = {udp_pause, udp_resume,
                                                 udp_stop};
