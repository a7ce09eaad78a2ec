"""processes.py — the child processes of the test scripts: free ports, waiting for a port, stopping.

Shared by tests/integration/harness.py, tests/bench/bench.py and tests/chaos/chaos.py,
which run from different folders: each puts this folder (tests/) on sys.path.
Python 3 standard library only.
"""
import os
import signal
import socket
import subprocess
import threading
import time

# A sanitizer build (SANITIZE=1) reports through these exit codes and words.
SANITIZER_ENV = {
    'ASAN_OPTIONS': 'detect_leaks=1:abort_on_error=0:exitcode=23',
    'UBSAN_OPTIONS': 'halt_on_error=1:print_stacktrace=1:exitcode=24',
    'LSAN_OPTIONS': 'exitcode=23',
}
SANITIZER_WORDS = ('AddressSanitizer', 'LeakSanitizer', 'UndefinedBehaviorSanitizer',
                   'runtime error:')

_port_lock = threading.Lock()
_ports_given = set()


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on now (and not handed out before)."""
    with _port_lock:
        while True:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind(('127.0.0.1', 0))
                port = s.getsockname()[1]
            if port not in _ports_given:
                _ports_given.add(port)
                return port


def wait_port(port, timeout, proc=None, what=None, output=None):
    """Returns once something accepts a connection on 127.0.0.1:port; RuntimeError after timeout s.

    With proc (a Popen), the process must stay alive meanwhile: its exit raises at once,
    with the tail of output() (when given) in the message. what names it in messages."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = ':\n' + output()[-2000:] if output is not None else ''
            raise RuntimeError('%s exited with %s before listening%s' % (what, proc.returncode, tail))
        try:
            with socket.create_connection(('127.0.0.1', port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError('%s did not listen on %d within %.0f s' % (what or 'nothing', port, timeout))


def stop(proc, name, timeout):
    """Stops proc (a Popen) with SIGTERM, killing it after timeout s; returns a list of problems:
    it had to be killed, or it exited with a non-zero status."""
    problems = []
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            problems.append('%s did not stop within %.0f s of SIGTERM' % (name, timeout))
    if proc.returncode != 0 and not problems:
        problems.append('%s exited with status %s' % (name, proc.returncode))
    return problems


def sanitizer_reports(name, output):
    """A one-item list with the tail of output when a sanitizer reported in it, else []."""
    if any(word in output for word in SANITIZER_WORDS):
        return ['%s reported:\n%s' % (name, output[-6000:])]
    return []


class Child:
    """A child process whose stderr goes to the file log_path, checked when it stops.

    stdout is a subprocess target (PIPE, DEVNULL), or None for the same file; env is
    added to the environment after SANITIZER_ENV."""

    def __init__(self, argv, name, log_path, env=None, stdout=None):
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self.log = open(log_path, 'wb')
        full_env = dict(os.environ)
        full_env.update(SANITIZER_ENV)
        full_env.update(env or {})
        self.proc = subprocess.Popen(argv, stdout=self.log if stdout is None else stdout, stderr=self.log,
                                     env=full_env)
        self.stopped = False

    def output(self):
        with open(self.log_path, 'rb') as f:
            return f.read().decode('utf-8', 'replace')

    def stop(self, timeout=20.0):
        """Stops with SIGTERM (see stop); returns a list of problems (exit status, sanitizer reports).
        A second call returns []."""
        if self.stopped:
            return []
        self.stopped = True
        problems = stop(self.proc, self.name, timeout)
        self.log.close()
        return problems + sanitizer_reports(self.name, self.output())
