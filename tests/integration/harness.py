"""harness.py — real detourd and detour-mock processes on 127.0.0.1 for the integration tests.

Every process a test starts is stopped by the test's cleanup, and a process that
ends with a sanitizer report or a non-zero status fails the test.
"""
import http.client
import json
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import processes  # noqa: E402
from processes import SANITIZER_ENV, free_port  # noqa: E402,F401 (the tests take them from here)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
BUILD = os.path.abspath(os.environ.get('DETOUR_BUILD', os.path.join(ROOT, 'build')))
DETOURD = os.path.join(BUILD, 'detourd')
MOCK = os.path.join(BUILD, 'detour-mock')
# Under ASan, RSS says more about the sanitizer's quarantine than about detour.
SANITIZED = os.environ.get('DETOUR_SANITIZE') == '1'


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers          # lower-cased names
        self.body = body                # bytes

    def json(self):
        return json.loads(self.body.decode('utf-8'))

    @property
    def text(self):
        return self.body.decode('utf-8', 'replace')

    def __repr__(self):
        return 'Response(%d, %r, %r)' % (self.status, self.headers, self.body[:400])


def request(port, method, path, body=None, headers=None, timeout=15):
    """One HTTP request on a fresh connection; body may be bytes, str or a JSON-able object.

    A scrape of /metrics waits (2 s at most) until no request is left in detour's
    attempt loop: a request is counted once libmicrohttpd reports its last byte
    sent, which can come just after the client has read the answer, so a scrape
    served by another worker in that instant would not count it yet."""
    if method == 'GET' and path == '/metrics':
        deadline = time.monotonic() + 2.0
        while True:
            r = _request_once(port, method, path, body, headers, timeout)
            if (r.status != 200 or b'detour_requests_in_flight ' not in r.body
                    or b'\ndetour_requests_in_flight 0\n' in r.body or time.monotonic() > deadline):
                return r
            time.sleep(0.02)
    return _request_once(port, method, path, body, headers, timeout)


def _request_once(port, method, path, body=None, headers=None, timeout=15):
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=timeout)
    hdrs = dict(headers or {})
    if body is not None and not isinstance(body, (bytes, str)):
        body = json.dumps(body)
        hdrs.setdefault('Content-Type', 'application/json')
    if isinstance(body, str):
        body = body.encode('utf-8')
    try:
        conn.request(method, path, body=body, headers=hdrs)
        resp = conn.getresponse()
        data = resp.read()
        return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
    finally:
        conn.close()


def wait_for_port(port, proc, what, timeout=10.0):
    processes.wait_port(port, timeout, proc, what)


class Process(processes.Child):
    """A child process whose stderr goes to a temporary file, checked and removed when it stops."""

    def __init__(self, argv, name, env=None, stdout=subprocess.DEVNULL):
        fd, path = tempfile.mkstemp(prefix='detour-%s-' % name, suffix='.log')
        os.close(fd)
        super().__init__(argv, name, path, env, stdout)

    def stop(self, timeout=20.0):
        """Stops with SIGTERM; returns a list of problems (exit status, sanitizer reports)."""
        if self.stopped:
            return []
        problems = super().stop(timeout)
        if problems:
            problems.append('%s stderr tail:\n%s' % (self.name, self.output()[-3000:]))
        os.unlink(self.log_path)
        return problems


class Mock(Process):
    """A detour-mock upstream. It binds port 0 and says which port it got, so two
    processes can never race for the same port."""

    def __init__(self, name='mock', *args, mode='openai', port=None):
        argv = [MOCK, '--listen', '127.0.0.1:%d' % (port or 0), '--name', name, '--mode', mode]
        argv += [str(a) for a in args]
        super().__init__(argv, 'mock-' + name, stdout=subprocess.PIPE)
        self.port = self._read_port()

    def _read_port(self, timeout=10.0):
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline().decode() if ready else ''
        match = re.search(r'listening on .*:(\d+)$', line.strip())
        if not match:
            self.proc.kill()
            raise RuntimeError('%s did not say where it listens: %r' % (self.name, line))
        # Nothing more is read from it; it writes nothing more.
        self.proc.stdout.close()
        return int(match.group(1))

    @property
    def url(self):
        return 'http://127.0.0.1:%d/v1' % self.port

    def stats(self):
        return request(self.port, 'GET', '/_mock/stats').json()

    def requests(self, path=None):
        s = self.stats()
        if path is None:
            return s['requests']
        return s['by_path'].get(path, 0)

    def last_request(self):
        return self.stats()['last_request']

    def faults(self, **faults):
        r = request(self.port, 'POST', '/_mock/faults', faults)
        assert r.status == 200, r
        return r.json()

    def reset(self):
        return request(self.port, 'POST', '/_mock/reset', {})


class Detour(Process):
    """A detourd with a configuration given as YAML text.

    The text must not contain a server.listen: the harness adds one (and
    fills a `server:` section when the text has none)."""

    def __init__(self, yaml_text, env=None, workers=2):
        self.port = free_port()
        self.workers = workers
        self.config = tempfile.NamedTemporaryFile('w', prefix='detour-', suffix='.yaml', delete=False)
        self.config.close()
        self.write_config(yaml_text)
        super().__init__([DETOURD, '-c', self.config.name], 'detourd', env=env)
        wait_for_port(self.port, self.proc, 'detourd')

    def write_config(self, yaml_text):
        """Writes the configuration file, with this detourd's server.listen added."""
        listen = '  listen: 127.0.0.1:%d\n' % self.port
        if 'server:' in yaml_text:
            yaml_text = yaml_text.replace('server:\n', 'server:\n' + listen, 1)
        else:
            yaml_text = 'server:\n%s  workers: %d\n' % (listen, self.workers) + yaml_text
        with open(self.config.name, 'w') as f:
            f.write(yaml_text)

    RELOAD_ENDS = ('level=info msg="reloaded ', 'level=error msg="reload refused', 'level=error msg="reload failed')

    def reload(self, yaml_text=None, timeout=10.0):
        """Rewrites the file (when given), sends SIGHUP and waits for detourd to say
        how the reload went; returns that log line."""
        if yaml_text is not None:
            self.write_config(yaml_text)
        seen = self._reload_lines()
        self.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lines = self._reload_lines()
            if len(lines) > len(seen):
                return lines[-1]
            time.sleep(0.02)
        raise AssertionError('detourd said nothing of the reload within %.0f s:\n%s' % (timeout, self.output()[-2000:]))

    def _reload_lines(self):
        return [l for l in self.output().splitlines() if any(end in l for end in self.RELOAD_ENDS)]

    def request(self, method, path, body=None, headers=None, timeout=15):
        return request(self.port, method, path, body, headers, timeout)

    def chat(self, model='gpt-4o', content='Hello', headers=None, timeout=15, **extra):
        body = {'model': model, 'messages': [{'role': 'user', 'content': content}]}
        body.update(extra)
        return self.request('POST', '/v1/chat/completions', body, headers, timeout)

    def stop(self, timeout=20.0):
        problems = super().stop(timeout)
        os.unlink(self.config.name)
        return problems


class DetourTestCase(unittest.TestCase):
    """Starts processes that stop, and are checked, when the test ends."""

    def setUp(self):
        self._processes = []

    def tearDown(self):
        problems = []
        for p in reversed(self._processes):
            problems += p.stop()
        if problems:
            self.fail('\n'.join(problems))

    def mock(self, name='mock', *args, **kw):
        m = Mock(name, *args, **kw)
        self._processes.append(m)
        return m

    def detour(self, yaml_text, **kw):
        d = Detour(yaml_text, **kw)
        self._processes.append(d)
        return d


def upstream_yaml(name, url, **fields):
    """One entry under upstreams:, in flow style; retries default to none so counts are exact."""
    fields.setdefault('retries', '{ attempts: 0 }')
    fields.setdefault('timeouts', '{ connect: 500ms, first_byte: 3s, idle: 3s, total: 5s }')
    inner = ', '.join('%s: %s' % (k, v) for k, v in fields.items())
    return '  %s: { base_url: "%s", %s }\n' % (name, url, inner)


def dead_url():
    """A URL on which nothing listens: connections are refused."""
    return 'http://127.0.0.1:%d/v1' % free_port()
