/* main.c — runs every unit suite; `unit-tests NAME` runs one. */
#include <stdlib.h>
#include <string.h>

#include "suites.h"

int main(int argc, char **argv)
{
	const char *only = argc > 1 ? argv[1] : NULL;
	SRunner *runner = srunner_create(NULL);
	int failed;

#define UNIT_ADD(name) \
	if (only == NULL || strcmp(only, #name) == 0) \
		srunner_add_suite(runner, name##_suite());
	UNIT_SUITES(UNIT_ADD)
#undef UNIT_ADD

	srunner_run_all(runner, CK_NORMAL);
	failed = srunner_ntests_failed(runner);
	srunner_free(runner);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
