/* test_main.c - runs every TEST() case linked into the binary (see test.h). */
#include <unistd.h>

#include "test.h"

int test_failed_;
int test_skipped_;
char test_skip_why_[256];

extern const struct test_case __start_test_cases[], __stop_test_cases[];

int main(int argc, char **argv);

int
main(int argc, char **argv)
{
	const struct test_case *tc;
	int failed = 0;
	const char *only = argc > 1 ? argv[1] : NULL;

	for (tc = __start_test_cases; tc < __stop_test_cases; tc++) {
		if (only != NULL && strcmp(only, tc->name) != 0)
			continue;
		test_failed_ = 0;
		test_skipped_ = 0;
		tc->fn();
		if (test_failed_) {
			printf("not ok - %s\n", tc->name);
			failed++;
		} else if (test_skipped_) {
			printf("skip - %s: %s\n", tc->name, test_skip_why_);
		} else {
			printf("ok - %s\n", tc->name);
		}
		fflush(stdout);
	}
	return failed ? 1 : 0;
}
