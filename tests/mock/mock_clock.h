/* mock_clock.h — the mock's one clock: CLOCK_MONOTONIC in milliseconds, as /_mock/stats reports it. */
#ifndef DETOUR_MOCK_CLOCK_H
#define DETOUR_MOCK_CLOCK_H

/* Milliseconds on CLOCK_MONOTONIC: comparable with time.monotonic() * 1000 on Linux. */
long long mock_clock_ms(void);

#endif
