"""test_shared.py — several detourd instances sharing breakers, operator choices and cached answers through a real redis-server."""
import shutil
import signal
import socket
import subprocess
import threading
import time
import unittest

from harness import DetourTestCase, Process, free_port, upstream_yaml, wait_for_port

CHAT = '/v1/chat/completions'
ADMIN = 'admin-token-for-tests'
AUTH = {'Authorization': 'Bearer ' + ADMIN}
HAVE_REDIS = shutil.which('redis-server') is not None


class Redis(Process):
    """A redis-server on 127.0.0.1, no persistence, stopped with the test."""

    def __init__(self, port=None):
        self.port = port or free_port()
        super().__init__(['redis-server', '--port', str(self.port), '--bind', '127.0.0.1', '--save', '',
                          '--appendonly', 'no'], 'redis')
        wait_for_port(self.port, self.proc, 'redis-server')


class SilentServer:
    """Accepts connections and never answers: a Redis that hangs."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.held = []
        self.stopped = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        self.sock.settimeout(0.2)
        while not self.stopped:
            try:
                conn, _ = self.sock.accept()
                self.held.append(conn)
            except OSError:
                pass

    def stop(self):
        self.stopped = True
        self.thread.join(5)
        for c in self.held:
            c.close()
        self.sock.close()
        return []


def redis_call(port, *args):
    """One command over RESP on a fresh connection; returns the raw reply (enough to look for a key)."""
    out = b'*%d\r\n' % len(args)
    for a in args:
        a = a.encode() if isinstance(a, str) else a
        out += b'$%d\r\n%s\r\n' % (len(a), a)
    with socket.create_connection(('127.0.0.1', port), timeout=5) as s:
        s.sendall(out)
        return s.recv(65536)


def until(check, timeout=5.0, what='condition'):
    """Polls check() until it is true (bounded); returns its value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError('%s not reached within %.0f s' % (what, timeout))


def config(redis_url, primary, backup, cooldown='2s', extra=''):
    text = 'server:\n  workers: 2\n  request_timeout: 10s\n'
    text += 'auth:\n  admin_token_env: DETOUR_TEST_ADMIN\n'
    text += 'upstreams:\n'
    text += upstream_yaml('primary', primary.url if hasattr(primary, 'url') else primary,
                          breaker='{ failures: 1, window: 10s, cooldown: %s }' % cooldown, health_check='off')
    text += upstream_yaml('backup', backup.url if hasattr(backup, 'url') else backup,
                          breaker='{ failures: 50, window: 10s, cooldown: 1s }', health_check='off')
    text += 'models:\n  gpt-4o:\n    targets: [ { upstream: primary }, { upstream: backup } ]\n'
    text += 'degradation:\n  cache: { entries: 100, ttl: 1h }\n'
    text += 'shared:\n  redis: "%s"\n  prefix: "t%d:"\n  timeout: 50ms\n' % (redis_url, free_port())
    return text + extra


@unittest.skipUnless(HAVE_REDIS, 'redis-server is not installed (make deps)')
class SharedTest(DetourTestCase):

    def redis(self, port=None):
        r = Redis(port)
        self._processes.append(r)
        return r

    def instances(self, text, n=3):
        return [self.detour(text, env={'DETOUR_TEST_ADMIN': ADMIN}) for _ in range(n)]

    def circuit(self, d, name='primary'):
        return d.request('GET', '/circuits').json()['circuits'][name]

    def wait_shared_up(self, ds):
        for d in ds:
            until(lambda: d.request('GET', '/health').json().get('shared') == 'up', what='shared up')

    def test_a_breaker_opened_on_one_instance_is_obeyed_by_the_others_and_probed_once(self):
        redis = self.redis()
        primary = self.mock('primary', '--status', '503')
        backup = self.mock('backup')
        a, b, c = self.instances(config('redis://127.0.0.1:%d/0' % redis.port, primary, backup))
        self.wait_shared_up([a, b, c])
        r = a.chat()
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers['x-detour-upstream'], 'backup')
        self.assertEqual(primary.requests(CHAT), 1)
        for d in (b, c):
            until(lambda: self.circuit(d)['state'] == 'open', what='open on another instance')
            self.assertEqual(self.circuit(d)['origin'], 'remote')
        self.assertEqual(self.circuit(a)['origin'], 'local')
        for d in (b, c, b, c):
            r = d.chat()
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.headers['x-detour-upstream'], 'backup')
        self.assertEqual(primary.requests(CHAT), 1, 'B and C called an upstream A found down')
        # After the cooldown every instance half-opens; one lease, one probe.
        for d in (a, b, c):
            until(lambda: self.circuit(d)['state'] == 'half_open', what='half-open')
        for _ in range(3):
            for d in (a, b, c):
                self.assertEqual(d.chat().status, 200)
        self.assertEqual(primary.requests(CHAT), 2, 'more than one instance probed')

    def test_an_operator_choice_on_one_instance_reaches_every_instance(self):
        redis = self.redis()
        primary = self.mock('primary')
        backup = self.mock('backup')
        a, b, c = self.instances(config('redis://127.0.0.1:%d' % redis.port, primary, backup))
        self.wait_shared_up([a, b, c])
        r = a.request('POST', '/admin/circuits/primary', {'state': 'open'}, AUTH)
        self.assertEqual(r.status, 200, r)
        for d in (b, c):
            until(lambda: self.circuit(d)['mode'] == 'open', what='forced open elsewhere')
            r = d.chat()
            self.assertEqual(r.headers['x-detour-upstream'], 'backup')
        self.assertEqual(primary.requests(CHAT), 0)
        r = a.request('POST', '/admin/degradation', {'level': 'cached'}, AUTH)
        self.assertEqual(r.status, 200, r)
        for d in (b, c):
            until(lambda: d.request('GET', '/health').json()['mode'] == 'cached', what='pinned elsewhere')
        r = b.request('POST', '/admin/circuits/primary', {'state': 'auto'}, AUTH)
        self.assertEqual(r.status, 200, r)
        for d in (a, c):
            until(lambda: self.circuit(d)['mode'] == 'auto', what='handed back elsewhere')

    def test_an_answer_cached_through_one_instance_is_served_by_another_when_every_upstream_is_down(self):
        redis = self.redis()
        primary = self.mock('primary')
        backup = self.mock('backup')
        a, b, c = self.instances(config('redis://127.0.0.1:%d' % redis.port, primary, backup))
        self.wait_shared_up([a, b, c])
        r = a.chat(content='remember me')
        self.assertEqual(r.status, 200, r)
        until(lambda: c.request('GET', '/health').json()['cache']['entries'] == 1, what='cache told to C')
        primary.faults(status=503)
        backup.faults(status=503)
        r = c.chat(content='remember me')
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers.get('x-detour-degraded'), 'cached')
        self.assertIn('Hello', r.json()['choices'][0]['message']['content'])

    def test_a_conversation_started_on_one_instance_continues_on_another(self):
        redis = self.redis()
        primary = self.mock('primary')
        backup = self.mock('backup')
        a, b, c = self.instances(config('redis://127.0.0.1:%d' % redis.port, primary, backup))
        self.wait_shared_up([a, b, c])
        made = a.request('POST', '/v1/responses', {'model': 'gpt-4o', 'input': 'Remember 42'})
        self.assertEqual(made.status, 200, made)
        rid = made.json()['id']
        until(lambda: b.request('GET', '/v1/responses/' + rid).status == 200, what='conversation told to B')
        r = b.request('POST', '/v1/responses', {'model': 'gpt-4o', 'input': 'What was it?',
                                                'previous_response_id': rid})
        self.assertEqual(r.status, 200, r)
        sent = primary.last_request()['body']['messages']
        self.assertEqual(sent[0]['content'], 'Remember 42')
        self.assertEqual(sent[-1]['content'], 'What was it?')
        gone = c.request('DELETE', '/v1/responses/' + rid)
        self.assertEqual(gone.status, 200, gone)
        until(lambda: a.request('GET', '/v1/responses/' + rid).status == 404, what='deletion told to A')

    def test_an_instance_started_later_serves_an_answer_cached_before_it_from_redis(self):
        redis = self.redis()
        primary = self.mock('primary')
        backup = self.mock('backup')
        text = config('redis://127.0.0.1:%d' % redis.port, primary, backup)
        a = self.detour(text, env={'DETOUR_TEST_ADMIN': ADMIN})
        self.wait_shared_up([a])
        r = a.chat(content='remember me later')
        self.assertEqual(r.status, 200, r)
        until(lambda: b':cache:' in redis_call(redis.port, 'KEYS', '*'), what='the answer in Redis')
        # C never heard the answer published: only Redis can give it.
        c = self.detour(text, env={'DETOUR_TEST_ADMIN': ADMIN})
        self.wait_shared_up([c])
        self.assertEqual(c.request('GET', '/health').json()['cache']['entries'], 0)
        primary.faults(status=503)
        backup.faults(status=503)
        r = c.chat(content='remember me later')
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers.get('x-detour-degraded'), 'cached')
        self.assertEqual(r.headers.get('x-detour-cache'), 'hit')
        self.assertIn('Hello', r.json()['choices'][0]['message']['content'])
        # ... and keeps it in its own cache from now on.
        self.assertEqual(c.request('GET', '/health').json()['cache']['entries'], 1)
        r = c.chat(content='never asked before')
        self.assertNotEqual(r.status, 200, r)

    def test_a_conversation_started_on_one_instance_continues_on_one_started_afterwards(self):
        redis = self.redis()
        primary = self.mock('primary')
        backup = self.mock('backup')
        text = config('redis://127.0.0.1:%d' % redis.port, primary, backup)
        a = self.detour(text, env={'DETOUR_TEST_ADMIN': ADMIN})
        self.wait_shared_up([a])
        made = a.request('POST', '/v1/responses', {'model': 'gpt-4o', 'input': 'Remember 42'})
        self.assertEqual(made.status, 200, made)
        rid = made.json()['id']
        until(lambda: (':conv:' + rid).encode() in redis_call(redis.port, 'KEYS', '*'), what='the conversation in Redis')
        d = self.detour(text, env={'DETOUR_TEST_ADMIN': ADMIN})
        self.wait_shared_up([d])
        r = d.request('POST', '/v1/responses', {'model': 'gpt-4o', 'input': 'What was it?',
                                                'previous_response_id': rid})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()['previous_response_id'], rid)
        sent = primary.last_request()['body']['messages']
        self.assertEqual(sent[0]['content'], 'Remember 42')
        self.assertEqual(sent[-1]['content'], 'What was it?')
        r = d.request('POST', '/v1/responses', {'model': 'gpt-4o', 'input': 'x',
                                                'previous_response_id': 'resp_nowhere'})
        self.assertEqual(r.status, 404, r)

    def test_a_redis_that_stops_answering_adds_at_most_the_timeout_to_a_miss(self):
        redis = self.redis()
        primary = self.mock('primary')
        backup = self.mock('backup')
        text = config('redis://127.0.0.1:%d' % redis.port, primary, backup).replace('timeout: 50ms', 'timeout: 300ms')
        d = self.detour(text, env={'DETOUR_TEST_ADMIN': ADMIN})
        self.wait_shared_up([d])
        r = d.request('POST', '/admin/degradation', {'level': 'cached'}, AUTH)
        self.assertEqual(r.status, 200, r)
        redis.proc.send_signal(signal.SIGSTOP)
        took = []
        try:
            for i in range(5):
                started = time.monotonic()
                r = d.chat(content='a miss %d' % i)
                took.append(time.monotonic() - started)
                self.assertNotEqual(r.status, 200, r)
        finally:
            redis.proc.send_signal(signal.SIGCONT)
        # request_timeout is 10 s: a wait not bounded by shared.timeout (300 ms) would show.
        self.assertLess(max(took), 2.5, took)
        self.assertEqual(primary.requests(CHAT), 0)
        until(lambda: d.request('GET', '/health').json().get('shared') == 'down', what='shared down')

    def test_redis_killed_under_load_fails_no_request_and_states_resync_when_it_returns(self):
        redis = self.redis()
        port = redis.port
        primary = self.mock('primary')
        backup = self.mock('backup')
        ds = self.instances(config('redis://127.0.0.1:%d' % port, primary, backup))
        self.wait_shared_up(ds)
        statuses = []
        for i in range(60):
            if i == 20:
                redis.proc.kill()
                redis.proc.wait()
                self._processes.remove(redis)
            statuses.append(ds[i % 3].chat(content='load %d' % i).status)
        self.assertEqual(statuses, [200] * 60)
        for d in ds:
            until(lambda: d.request('GET', '/health').json().get('shared') == 'down', what='shared down')
            self.assertEqual(d.request('GET', '/health').status, 200)
            self.assertIn('detour_shared_up 0', d.request('GET', '/metrics').text)
        self.assertEqual(ds[0].output().count('shared Redis unreachable'), 1, ds[0].output()[-2000:])
        # The operator's choice made while Redis was away reaches the others once it is back.
        r = ds[0].request('POST', '/admin/circuits/primary', {'state': 'open'}, AUTH)
        self.assertEqual(r.status, 200, r)
        self.redis(port)
        self.wait_shared_up(ds)
        for d in ds[1:]:
            until(lambda: self.circuit(d)['mode'] == 'open', timeout=10, what='resynchronised')
        self.assertIn('detour_shared_up 1', ds[1].request('GET', '/metrics').text)

    def test_a_redis_that_never_answers_costs_requests_nothing(self):
        silent = SilentServer()
        self._processes.append(silent)
        primary = self.mock('primary')
        backup = self.mock('backup')
        d = self.detour(config('redis://127.0.0.1:%d' % silent.port, primary, backup),
                        env={'DETOUR_TEST_ADMIN': ADMIN})
        for i in range(20):
            r = d.chat(content='q %d' % i)
            self.assertEqual(r.status, 200, r)
        h = d.request('GET', '/health')
        self.assertEqual(h.status, 200)
        self.assertEqual(h.json()['shared'], 'down')
        until(lambda: 'shared Redis unreachable' in d.output(), what='the outage told')
        self.assertEqual(d.output().count('shared Redis unreachable'), 1, 'one warn line per outage')

    def test_a_reload_with_the_same_shared_section_keeps_the_connection(self):
        redis = self.redis()
        primary = self.mock('primary')
        backup = self.mock('backup')
        text = config('redis://127.0.0.1:%d' % redis.port, primary, backup)
        d = self.detour(text, env={'DETOUR_TEST_ADMIN': ADMIN})
        self.wait_shared_up([d])
        self.assertIn('reloaded', d.reload(text.replace('request_timeout: 10s', 'request_timeout: 11s')))
        self.assertEqual(d.output().count('sharing state through Redis'), 1)
        self.assertEqual(d.request('GET', '/health').json()['shared'], 'up')


class NoSharedTest(DetourTestCase):

    def test_without_a_shared_section_nothing_about_sharing_shows(self):
        m = self.mock('m')
        d = self.detour('upstreams:\n' + upstream_yaml('m', m.url) + 'models:\n  "*":\n    targets: [ { upstream: m } ]\n')
        self.assertNotIn('shared', d.request('GET', '/health').json())
        self.assertNotIn('origin', d.request('GET', '/circuits').json()['circuits']['m'])
        self.assertNotIn('detour_shared_up', d.request('GET', '/metrics').text)


if __name__ == '__main__':
    unittest.main()
