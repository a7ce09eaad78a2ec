"""machine.py — one line naming the machine a benchmark ran on, for make bench and make chaos."""
import os
import platform
import time


def describe():
    """CPU model, cores, memory, kernel and date, e.g. 'AMD EPYC, 2 cores, 24 GiB, Linux 6.1, 2026-11-30'."""
    cpu = 'unknown CPU'
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    mem = os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / (1 << 30)
    return '%s, %d cores, %.0f GiB, Linux %s, %s' % (cpu, os.cpu_count(), mem, platform.release(),
                                                    time.strftime('%Y-%m-%d'))
