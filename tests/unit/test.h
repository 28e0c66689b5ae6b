/*
 * test.h - the unit-test harness: one binary per test_*.c, each TEST() a case.
 *
 * Each case prints "ok - NAME" or "not ok - NAME" (TAP-like); tests/run.sh
 * counts them.  A case that cannot run here calls SKIP("why") and is counted
 * as skipped, never as passed.
 */
#ifndef LHYVE_TEST_H
#define LHYVE_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct test_case {
	const char *name;
	void (*fn)(void);
};

extern int test_failed_;	/* set by CHECK in the running case */
extern int test_skipped_;
extern char test_skip_why_[256];

#define TEST(name) \
	static void test_##name(void); \
	static const struct test_case test_case_##name \
	    __attribute__((used, section("test_cases"), aligned(sizeof(void *)))) = \
	    { #name, test_##name }; \
	static void test_##name(void)

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
		test_failed_ = 1; \
	} \
} while (0)

#define CHECK_EQ(a, b) do { \
	unsigned long long a_ = (unsigned long long)(a), b_ = (unsigned long long)(b); \
	if (a_ != b_) { \
		fprintf(stderr, "%s:%d: %s == %s failed: 0x%llx != 0x%llx\n", \
		    __FILE__, __LINE__, #a, #b, a_, b_); \
		test_failed_ = 1; \
	} \
} while (0)

#define REQUIRE(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: REQUIRE(%s) failed\n", __FILE__, __LINE__, #cond); \
		test_failed_ = 1; \
		return; \
	} \
} while (0)

#define SKIP(...) do { \
	snprintf(test_skip_why_, sizeof(test_skip_why_), __VA_ARGS__); \
	test_skipped_ = 1; \
	return; \
} while (0)

#endif /* LHYVE_TEST_H */
