"""test_reload.py — SIGHUP: new requests follow the new file, open ones finish, state carries over, bad files change nothing."""
import os
import threading
import time

from harness import DetourTestCase, upstream_yaml
from test_streams import read_events, stream_request, text_of

ADMIN = 'admin-token-for-reload-tests'


def config(upstreams, targets, models_extra='', extra=''):
    text = 'server:\n  workers: 2\n  request_timeout: 10s\n  drain_timeout: 5s\n'
    text += 'auth:\n  admin_token_env: DETOUR_TEST_ADMIN\n' + extra
    text += 'upstreams:\n'
    for name, url, fields in upstreams:
        text += upstream_yaml(name, url, **fields)
    return text + 'models:\n  gpt-4o:\n    targets: [ %s ]\n' % targets + models_extra


class ReloadTest(DetourTestCase):

    def setUp(self):
        super().setUp()
        self.a = self.mock('a')
        self.b = self.mock('b')

    def upstreams(self, a_fields=None):
        return [('a', self.a.url, a_fields or {}), ('b', self.b.url, {})]

    def start(self, targets, **kw):
        return self.detour(config(self.upstreams(), targets, **kw), env={'DETOUR_TEST_ADMIN': ADMIN})

    def admin(self, d, path, body):
        return d.request('POST', path, body, {'Authorization': 'Bearer ' + ADMIN})

    def test_new_requests_follow_the_new_file(self):
        d = self.start('{ upstream: a }')
        self.assertEqual(d.chat().headers['x-detour-upstream'], 'a')
        said = d.reload(config(self.upstreams(), '{ upstream: b }',
                               models_extra='  claude-haiku:\n    targets: [ { upstream: a } ]\n'))
        self.assertIn('reloaded', said)
        for _ in range(10):
            r = d.chat()
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.headers['x-detour-upstream'], 'b')
        self.assertEqual(self.a.requests('/v1/chat/completions'), 1)
        self.assertEqual(self.b.requests('/v1/chat/completions'), 10)
        ids = [m['id'] for m in d.request('GET', '/v1/models').json()['data']]
        self.assertIn('claude-haiku', ids)
        # Counters go on from where they were, across the reload.
        metrics = d.request('GET', '/metrics').text
        self.assertIn('detour_requests_total{endpoint="chat",code="200"} 11\n', metrics)
        self.assertIn('detour_upstream_attempts_total{upstream="a",result="success"} 1\n', metrics)

    def test_a_file_that_fails_its_checks_changes_nothing(self):
        d = self.start('{ upstream: a }')
        said = d.reload(config(self.upstreams(), '{ upstream: nowhere }'))
        self.assertIn('reload refused', said)
        self.assertIn(d.config.name + ':', said)              # FILE:LINE:COL of the mistake
        self.assertIn('nowhere', said)
        said = d.reload('upstreams: [\n')
        self.assertIn('reload refused', said)
        r = d.chat()
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers['x-detour-upstream'], 'a')
        self.assertEqual(self.b.requests(), 0)

    def test_an_open_breaker_and_the_operators_choices_survive_a_reload(self):
        self.a.faults(status=503)
        fields = {'breaker': '{ failures: 2, window: 10s, cooldown: 30s }'}
        d = self.detour(config(self.upstreams(fields), '{ upstream: a }, { upstream: b }'),
                        env={'DETOUR_TEST_ADMIN': ADMIN})
        for _ in range(2):
            self.assertEqual(d.chat().headers['x-detour-upstream'], 'b')
        self.assertEqual(d.request('GET', '/circuits').json()['circuits']['a']['state'], 'open')
        self.assertEqual(self.admin(d, '/admin/circuits/b', {'state': 'closed'}).status, 200)
        self.assertEqual(self.admin(d, '/admin/degradation', {'level': 'reduced'}).status, 200)

        self.assertIn('reloaded', d.reload(config(self.upstreams(fields), '{ upstream: a }, { upstream: b }',
                                                  models_extra='  other:\n    targets: [ { upstream: b } ]\n')))
        circuits = d.request('GET', '/circuits').json()['circuits']
        self.assertEqual(circuits['a']['state'], 'open')
        self.assertEqual(circuits['a']['requests'], 2)
        self.assertEqual(circuits['a']['last_error']['status'], 503)
        self.assertEqual(circuits['b']['mode'], 'closed')
        self.assertEqual(d.request('GET', '/health').json()['level'], 'reduced')
        # Chat calls only: an open breaker now gets health checks (GET /models) by default.
        calls = self.a.requests('/v1/chat/completions')
        self.assertEqual(self.admin(d, '/admin/degradation', {'level': 'auto'}).status, 200)
        r = d.chat()
        self.assertEqual(r.headers['x-detour-upstream'], 'b')
        self.assertEqual(self.a.requests('/v1/chat/completions'), calls)  # still skipped, no network call

    def test_a_pinned_level_the_new_file_cannot_serve_is_dropped(self):
        d = self.start('{ upstream: a }')
        self.assertEqual(self.admin(d, '/admin/degradation', {'level': 'cached'}).status, 200)
        self.assertEqual(d.chat().status, 502)                     # pinned to a cache with nothing in it
        self.assertEqual(self.a.requests(), 0)
        self.assertIn('reloaded', d.reload(config(self.upstreams(), '{ upstream: a }',
                                                  extra='degradation:\n  cache: { entries: 0 }\n')))
        self.assertIn('pinned by an operator (cached) is dropped', d.output())
        r = d.chat()
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers['x-detour-upstream'], 'a')

    def test_a_stream_open_during_a_reload_finishes_from_where_it_began(self):
        self.a.faults(chunks=8, chunk_delay_ms=100)
        d = self.start('{ upstream: a }')
        conn, resp = stream_request(d.port)
        self.assertEqual(resp.status, 200)
        time.sleep(0.25)
        self.assertIn('reloaded', d.reload(config(self.upstreams(), '{ upstream: b }')))
        r = d.chat()
        self.assertEqual(r.headers['x-detour-upstream'], 'b')
        lines = read_events(resp)
        conn.close()
        self.assertEqual(lines[-1], 'data: [DONE]')
        self.assertFalse(any('"error"' in l for l in lines), lines)
        self.assertEqual(text_of(lines), 'Hello from a.')
        deadline = time.monotonic() + 5
        while 'previous configuration\'s requests are finished' not in d.output() and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertIn('previous configuration\'s requests are finished', d.output())

    def test_no_request_is_lost_while_reloads_come_and_go(self):
        d = self.start('{ upstream: a }')
        results, stop = [], threading.Event()

        def client():
            while not stop.is_set() and len(results) < 3000:
                try:
                    r = d.chat(timeout=10)
                    results.append(r.status)
                except Exception as e:  # a reset or refused connection is the failure we look for
                    results.append(repr(e))

        threads = [threading.Thread(target=client) for _ in range(6)]
        for t in threads:
            t.start()
        try:
            for i in range(6):
                time.sleep(0.15)
                targets = '{ upstream: b }' if i % 2 == 0 else '{ upstream: a }'
                self.assertIn('reloaded', d.reload(config(self.upstreams(), targets)))
        finally:
            stop.set()
            for t in threads:
                t.join()
        self.assertGreater(len(results), 50)
        failed = [r for r in results if r != 200]
        self.assertEqual(failed, [], '%d of %d requests failed' % (len(failed), len(results)))
        self.assertGreater(self.a.requests(), 0)
        self.assertGreater(self.b.requests(), 0)

    def threads(self, d, want):
        """Waits until detourd runs want threads (its workers and the main one); returns how many it runs."""
        deadline = time.monotonic() + 10
        while True:
            n = len(os.listdir('/proc/%d/task' % d.proc.pid))
            if n == want or time.monotonic() > deadline:
                return n
            time.sleep(0.05)

    def test_changing_the_number_of_workers_keeps_serving(self):
        d = self.start('{ upstream: a }')
        self.assertEqual(self.threads(d, 3), 3)
        text = config(self.upstreams(), '{ upstream: b }').replace('workers: 2', 'workers: 3')
        self.assertIn('with 3 workers', d.reload(text))
        self.assertEqual(self.threads(d, 4), 4)
        self.assertEqual(d.chat().headers['x-detour-upstream'], 'b')
        self.assertIn('with 1 workers', d.reload(text.replace('workers: 3', 'workers: 1')))
        self.assertEqual(self.threads(d, 2), 2)
        for _ in range(5):
            self.assertEqual(d.chat().headers['x-detour-upstream'], 'b')
        self.assertEqual(d.request('GET', '/health/live').status, 200)
