/* fuzz_units.c — durations and sizes on any text: a value that reads back the same when written in its smallest unit, or a refusal. */
#include "fuzz.h"

#include <inttypes.h>

#include "units.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_strndup(data, size), again[64];
	uint64_t ms = UINT64_C(0xdead), ms2 = 0;
	size_t bytes = 0xbeef, bytes2 = 0;

	if (units_parse_duration(text, &ms) == 0) {
		snprintf(again, sizeof again, "%" PRIu64 "ms", ms);
		FUZZ_REQUIRE(units_parse_duration(again, &ms2) == 0 && ms2 == ms);
		/* Only digits and a unit: no sign, space or second number gets through. */
		FUZZ_REQUIRE(text[0] >= '0' && text[0] <= '9');
	} else {
		FUZZ_REQUIRE(ms == UINT64_C(0xdead));
	}
	if (units_parse_size(text, &bytes) == 0) {
		snprintf(again, sizeof again, "%zu", bytes);
		FUZZ_REQUIRE(units_parse_size(again, &bytes2) == 0 && bytes2 == bytes);
		FUZZ_REQUIRE(text[0] >= '0' && text[0] <= '9');
	} else {
		FUZZ_REQUIRE(bytes == 0xbeef);
	}
	free(text);
	return 0;
}
