/*
 * A parent that dies: the middle process of the process tests that check
 * what happens to a child when its parent ends without cleaning up.
 *
 *   spawn_helper keep|detach PROGRAM ARG...
 *
 * Spawns PROGRAM (argv ARG..., argv[0] = PROGRAM) through ior, with
 * IOR_PROCESS_DETACHED for "detach", writes the child's pid and a newline
 * on stdout, waits for a byte or EOF on stdin, then ends at once with
 * exit code 3, as a crash or a kill would: no ior_loop_free, no exit
 * handlers. Exit 2 on bad usage, 4 when the spawn fails.
 */
#include "child_platform.h"
#include "ior.h"

#include <stdio.h>
#include <string.h>

static void ended(ior_process_t *p, void *user, int exit_code,
                  int term_signal)
{
    (void)p;
    (void)user;
    (void)exit_code;
    (void)term_signal;
}

static const ior_process_ops_t ops = {ended};

int main(int argc, char **argv)
{
    ior_process_options_t o;
    ior_process_t *p = NULL;
    ior_loop_t *loop = NULL;
    int detach = argc > 2 && strcmp(argv[1], "detach") == 0;
    cp_init();
    if (argc < 3 || (!detach && strcmp(argv[1], "keep") != 0)) {
        fprintf(stderr, "usage: spawn_helper keep|detach PROGRAM ARG...\n");
        return 2;
    }
    memset(&o, 0, sizeof(o));
    o.file = argv[2];
    o.argv = (const char *const *)&argv[2];
    o.flags = detach ? IOR_PROCESS_DETACHED : 0;
    if (ior_loop_new(&loop, NULL) != 0 ||
        ior_process_spawn(loop, &o, &ops, NULL, &p) != 0)
        return 4;
    printf("%ld\n", ior_process_pid(p));
    fflush(stdout);
    (void)getchar();
    cp_die(3);
    return 3;
}
