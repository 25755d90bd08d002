/*
 * The bounded datagram send queue (common/dgram.c) behind ior_udp_send_to
 * on both backends: whole datagrams in order, a full queue or an oversized
 * datagram refused with nothing queued, out of memory leaving it intact.
 */
#include "harness.h"

#include <string.h>

/* Datagrams come out whole, in order, with their destinations; the byte
 * and datagram counts follow. A zero-length datagram is a datagram. */
static void test_dgram_queue_keeps_order_and_destinations(void **state)
{
    ior__dqueue_t q;
    ior_addr_t a, b;
    ior__dgram_t *d;
    (void)state;
    ior__dq_init(&q, 0);
    assert_int_equal(q.limit, IOR__UDP_DEFAULT_QUEUE);
    assert_int_equal(ior_addr_parse(&a, "127.0.0.1", 9), 0);
    assert_int_equal(ior_addr_parse(&b, "::1", 10), 0);
    assert_int_equal(ior__dq_push(&q, "one", 3, &a), 0);
    assert_int_equal(ior__dq_push(&q, "", 0, &b), 0);
    assert_int_equal(ior__dq_push(&q, "three", 5, NULL), 0);
    assert_int_equal(q.bytes, 8);
    assert_int_equal(q.count, 3);
    d = ior__dq_peek(&q);
    assert_int_equal(d->len, 3);
    assert_memory_equal(ior__dq_data(d), "one", 3);
    assert_int_equal(d->to.port, 9);
    ior__dq_pop(&q);
    d = ior__dq_peek(&q);
    assert_int_equal(d->len, 0);
    assert_int_equal(d->to.family, IOR_AF_INET6);
    ior__dq_pop(&q);
    d = ior__dq_peek(&q);
    assert_int_equal(d->to.family, 0); /* the connected peer */
    assert_memory_equal(ior__dq_data(d), "three", 5);
    ior__dq_pop(&q);
    assert_null(ior__dq_peek(&q));
    assert_int_equal(q.bytes, 0);
    assert_int_equal(q.count, 0);
    ior__dq_pop(&q); /* popping an empty queue is harmless */
}

/* A datagram that would take the queue past its limit is refused whole
 * (IOR_ENOBUFS) and the queue is unchanged; one that fits exactly is
 * taken; beyond the UDP maximum is IOR_EMSGSIZE. */
static void test_dgram_queue_full_refuses_whole_datagram(void **state)
{
    static char big[IOR__UDP_MAX_PAYLOAD + 1];
    ior__dqueue_t q;
    (void)state;
    ior__dq_init(&q, 10);
    assert_int_equal(ior__dq_push(&q, "123456", 6, NULL), 0);
    assert_int_equal(ior__dq_push(&q, "12345", 5, NULL), IOR_ENOBUFS);
    assert_int_equal(q.bytes, 6);
    assert_int_equal(q.count, 1);
    assert_int_equal(ior__dq_push(&q, "1234", 4, NULL), 0);
    assert_int_equal(q.bytes, 10);
    ior__dq_clear(&q);
    assert_int_equal(q.bytes, 0);
    ior__dq_init(&q, 1u << 20);
    assert_int_equal(ior__dq_push(&q, big, sizeof big, NULL), IOR_EMSGSIZE);
    assert_int_equal(ior__dq_push(&q, big, sizeof big - 1, NULL), 0);
    assert_int_equal(q.bytes, IOR__UDP_MAX_PAYLOAD);
    ior__dq_clear(&q);
}

/* Out of memory: IOR_ENOMEM, nothing queued, counts intact. */
static void test_dgram_queue_oom_leaves_queue_intact(void **state)
{
    ior__dqueue_t q;
    (void)state;
    ior__dq_init(&q, 100);
    assert_int_equal(ior__dq_push(&q, "ab", 2, NULL), 0);
    alloc_fail_after(0);
    assert_int_equal(ior__dq_push(&q, "cd", 2, NULL), IOR_ENOMEM);
    assert_int_equal(q.bytes, 2);
    assert_int_equal(q.count, 1);
    assert_ptr_equal(q.head, q.tail);
    ior__dq_clear(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ENV_TEST(test_dgram_queue_keeps_order_and_destinations),
        ENV_TEST(test_dgram_queue_full_refuses_whole_datagram),
        ENV_TEST(test_dgram_queue_oom_leaves_queue_intact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
