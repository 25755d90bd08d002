/*
 * The package test's program: the header and the library agree on the
 * version, and one message goes round a loopback TCP connection, so the
 * library links with every system library it needs and works. Prints
 * "ior VERSION BACKEND: echo ok" and exits 0, else says what failed.
 */
#include <ior.h>

#include <stdio.h>
#include <string.h>

static int got;

static void on_data(ior_transport_t *t, void *user, const void *d, size_t n)
{
    (void)user;
    if (n == 5 && memcmp(d, "hello", 5) == 0)
        got = 1;
    ior_transport_lose_connection(t);
}

static void on_lost(ior_transport_t *t, void *user, int reason)
{
    (void)t;
    (void)reason;
    if (user != NULL)
        ior_loop_stop(user);
}

static const ior_protocol_ops_t server_ops = {on_data, NULL, NULL, on_lost};
static const ior_protocol_ops_t client_ops = {NULL, NULL, NULL, on_lost};

static void on_accept(ior_listener_t *l, void *user, ior_transport_t *t)
{
    (void)l;
    ior_transport_set_protocol(t, &server_ops, user);
}

static const ior_listener_ops_t listener_ops = {on_accept, NULL};

static void on_connect(ior_loop_t *loop, void *user, ior_transport_t *t,
                       int status, int os_error)
{
    (void)user;
    (void)os_error;
    if (status != 0) {
        ior_loop_stop(loop);
        return;
    }
    ior_transport_set_protocol(t, &client_ops, NULL);
    ior_transport_write(t, "hello", 5);
    ior_transport_lose_connection(t);
}

int main(void)
{
    ior_loop_t *loop;
    ior_listener_t *l;
    ior_addr_t a;

    if (ior_version() != IOR_VERSION_HEX ||
        strcmp(ior_version_string(), IOR_VERSION_STRING) != 0) {
        printf("header %s, library %s\n", IOR_VERSION_STRING,
               ior_version_string());
        return 1;
    }
    if (ior_loop_new(&loop, NULL) != 0 ||
        ior_addr_parse(&a, "127.0.0.1", 0) != 0 ||
        ior_tcp_listen(loop, &a, NULL, &listener_ops, loop, &l) != 0 ||
        ior_listener_address(l, &a) != 0 ||
        ior_tcp_connect(loop, &a, NULL, on_connect, NULL) != 0) {
        printf("setup failed\n");
        return 1;
    }
    ior_loop_run(loop);
    printf("ior %s %s: echo %s\n", ior_version_string(),
           ior_loop_backend(loop), got ? "ok" : "FAILED");
    ior_listener_close(l);
    ior_loop_free(loop);
    return got ? 0 : 1;
}
