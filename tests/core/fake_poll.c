#include "fake_poll.h"

#include <string.h>

fake_poll_t fake_poll;

void fake_poll_reset(void)
{
    memset(&fake_poll, 0, sizeof(fake_poll));
}

int ior__os_poll_open(ior_loop_t *loop, intptr_t sock, ior_poll_t **out)
{
    ior_poll_t *p;
    (void)loop;
    (void)sock;
    fake_poll.opens++;
    if (fake_poll.open_result != 0)
        return fake_poll.open_result;
    p = ior__calloc(1, sizeof(*p));
    if (p == NULL)
        return IOR_ENOMEM;
    *out = p;
    return 0;
}

int ior__os_poll_update(ior_poll_t *p)
{
    fake_poll.updates++;
    fake_poll.last_events = p->events;
    return p->events != 0 ? fake_poll.update_result : 0;
}

void ior__os_poll_close(ior_poll_t *p)
{
    fake_poll.closes++;
    ior__free(p);
}
