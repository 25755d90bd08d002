/*
 * stdio_cat: copies standard input to standard output through ior, for
 * stdio_cat.sh. Standard input is a read-only transport registered as the
 * streaming producer of standard output, so a slow reader of our output
 * pauses our reading instead of filling memory. EOF on stdin closes stdout
 * after the drain; the program exits when stdout's connection_lost arrives.
 * Exit status 0 when everything was copied, 1 otherwise (message on
 * stderr). Only ior.h: the same file is built natively and for Windows.
 */
#include "ior.h"

#include <stdio.h>

typedef struct cat {
    ior_loop_t *loop;
    ior_transport_t *in;
    ior_transport_t *out;
    int status;
} cat_t;

static void fail(cat_t *c, const char *what, int err, int os_error)
{
    char buf[256];
    fprintf(stderr, "stdio_cat: %s: %s (%s)\n", what, ior_strerror(err),
            ior_os_strerror(os_error, buf, sizeof(buf)));
    c->status = 1;
}

static void in_data(ior_transport_t *t, void *user, const void *data,
                    size_t len)
{
    cat_t *c = user;
    int rc = ior_transport_write(c->out, data, len);
    if (rc != 0) {
        fail(c, "write", rc, 0);
        ior_transport_abort_connection(t);
    }
}

static void in_lost(ior_transport_t *t, void *user, int reason)
{
    cat_t *c = user;
    if (reason != IOR_EDONE && reason != IOR_EABORTED)
        fail(c, "stdin", reason, ior_transport_os_error(t));
    c->in = NULL;
    if (c->out != NULL) {
        /* EOF: flush what is queued, then close stdout. */
        (void)ior_transport_unregister_producer(c->out);
        (void)ior_transport_lose_connection(c->out);
    }
}

static void out_lost(ior_transport_t *t, void *user, int reason)
{
    cat_t *c = user;
    if (reason != IOR_EDONE)
        fail(c, "stdout", reason, ior_transport_os_error(t));
    c->out = NULL;
    ior_loop_stop(c->loop);
}

static const ior_protocol_ops_t in_ops = {in_data, NULL, NULL, in_lost};
static const ior_protocol_ops_t out_ops = {NULL, NULL, NULL, out_lost};

int main(void)
{
    cat_t c = {NULL, NULL, NULL, 0};
    int rc = ior_loop_new(&c.loop, NULL);
    if (rc != 0) {
        fprintf(stderr, "stdio_cat: loop: %s\n", ior_strerror(rc));
        return 1;
    }
    rc = ior_stdio_open(c.loop, 1, &out_ops, &c, &c.out);
    if (rc == 0)
        rc = ior_stdio_open(c.loop, 0, &in_ops, &c, &c.in);
    if (rc == 0)
        rc = ior_transport_register_producer(c.out, &ior_transport_producer_ops,
                                             c.in, 1);
    if (rc == 0)
        rc = ior_loop_stop_on_interrupt(c.loop);
    if (rc == 0)
        rc = ior_loop_run(c.loop);
    if (rc != 0)
        fail(&c, "setup", rc, 0);
    (void)ior_loop_free(c.loop);
    return c.status;
}
