/* The tests of net_tools (issue 14) that live in files of their own. */
#ifndef IOR_TOOLS_TESTS_H
#define IOR_TOOLS_TESTS_H

#define TOOLS_POLL_TESTS

#endif
