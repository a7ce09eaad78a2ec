"""test_proxy.py — the proxy core: routing, fallback, timeouts, pass-through and the error shapes."""
import concurrent.futures
import http.client
import json
import os
import resource
import time
import unittest

from harness import DetourTestCase, dead_url, request, upstream_yaml

CHAT = '/v1/chat/completions'


def two_targets(primary_url, backup_url, extra_primary=None, fallback_on=None, request_timeout='10s',
                extra_backup=None):
    text = 'server:\n  workers: 2\n  request_timeout: %s\n' % request_timeout
    text += 'upstreams:\n'
    text += upstream_yaml('primary', primary_url, **(extra_primary or {}))
    text += upstream_yaml('backup', backup_url, **(extra_backup or {}))
    text += ('models:\n'
             '  gpt-4o:\n'
             '    targets:\n'
             '      - { upstream: primary, model: gpt-4o }\n'
             '      - { upstream: backup, model: gpt-4o-mini, max_tokens: 64 }\n')
    if fallback_on is not None:
        text += 'fallback_on: %s\n' % fallback_on
    return text


class FallbackTest(DetourTestCase):

    def test_primary_503_backup_answers(self):
        primary = self.mock('primary', '--status', '503')
        backup = self.mock('backup', '--api-key', 'sk-backup-secret')
        d = self.detour(two_targets(primary.url, backup.url, extra_backup={'api_key_env': 'BACKUP_KEY'}),
                        env={'BACKUP_KEY': 'sk-backup-secret'})
        r = d.chat(headers={'Authorization': 'Bearer client-key-never-forwarded',
                            'x-request-id': 'trace-123'})
        self.assertEqual(r.status, 200, r)
        body = r.json()
        self.assertEqual(body['choices'][0]['message']['content'], 'Hello from backup.')
        self.assertEqual(r.headers['x-detour-upstream'], 'backup')
        self.assertEqual(r.headers['x-detour-attempts'], '2')
        self.assertEqual(r.headers['x-request-id'], 'trace-123')
        self.assertEqual(primary.requests(CHAT), 1)
        self.assertEqual(backup.requests(CHAT), 1)
        seen = backup.last_request()
        # The target renamed the model and capped max_tokens.
        self.assertEqual(seen['body']['model'], 'gpt-4o-mini')
        self.assertEqual(seen['body']['max_tokens'], 64)
        # The upstream's own key went to the upstream; the client's never left detour.
        self.assertEqual(seen['headers'].get('authorization'), 'Bearer sk-backup-secret')
        self.assertNotIn('client-key-never-forwarded', str(primary.last_request()))
        self.assertNotIn('client-key-never-forwarded', str(seen))

    def test_healthy_primary_answers_and_backup_is_not_called(self):
        primary = self.mock('primary')
        backup = self.mock('backup')
        d = self.detour(two_targets(primary.url, backup.url))
        r = d.chat(max_tokens=10)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers['x-detour-upstream'], 'primary')
        self.assertEqual(r.headers['x-detour-attempts'], '1')
        self.assertRegex(r.headers['x-request-id'], r'^[0-9a-f]{32}$')
        self.assertEqual(backup.requests(), 0)
        # No change for this target: the client's body went through byte for byte.
        self.assertEqual(primary.last_request()['body']['max_tokens'], 10)

    def test_primary_refusing_connections_falls_over(self):
        backup = self.mock('backup')
        d = self.detour(two_targets(dead_url(), backup.url))
        r = d.chat()
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers['x-detour-upstream'], 'backup')
        self.assertEqual(backup.requests(CHAT), 1)

    def test_primary_hanging_falls_over_after_first_byte_timeout(self):
        primary = self.mock('primary', '--hang')
        backup = self.mock('backup')
        d = self.detour(two_targets(primary.url, backup.url, extra_primary={
            'timeouts': '{ connect: 500ms, first_byte: 700ms, idle: 3s, total: 5s }'}))
        started = time.monotonic()
        r = d.chat()
        elapsed = time.monotonic() - started
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers['x-detour-upstream'], 'backup')
        self.assertGreaterEqual(elapsed, 0.65)   # it waited for the primary's timeout first
        self.assertEqual(primary.requests(CHAT), 1)
        last = d.request('GET', '/circuits').json()['circuits']['primary']['last_error']
        self.assertIn('no first byte after', last['message'])   # the first_byte timeout, not the total

    def test_primary_hanging_falls_over_after_total_timeout(self):
        primary = self.mock('primary', '--hang')
        backup = self.mock('backup')
        d = self.detour(two_targets(primary.url, backup.url, extra_primary={
            'timeouts': '{ connect: 500ms, first_byte: 5s, idle: 5s, total: 600ms }'}))
        started = time.monotonic()
        r = d.chat()
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers['x-detour-upstream'], 'backup')
        self.assertGreaterEqual(time.monotonic() - started, 0.55)
        last = d.request('GET', '/circuits').json()['circuits']['primary']['last_error']
        self.assertIn('connect or request timed out', last['message'])   # the total timeout, not first_byte

    def test_primary_400_is_returned_as_is_and_backup_never_called(self):
        primary = self.mock('primary', '--status', '400')
        backup = self.mock('backup')
        d = self.detour(two_targets(primary.url, backup.url))
        r = d.chat()
        self.assertEqual(r.status, 400, r)
        self.assertIn('detour-mock primary: injected status 400', r.json()['error']['message'])
        self.assertEqual(r.headers['x-detour-upstream'], 'primary')
        self.assertEqual(backup.requests(), 0)

    def test_status_outside_fallback_on_is_passed_through(self):
        primary = self.mock('primary', '--status', '503')
        backup = self.mock('backup')
        d = self.detour(two_targets(primary.url, backup.url, fallback_on='[connect, timeout, 429]'))
        r = d.chat()
        self.assertEqual(r.status, 503, r)
        self.assertEqual(backup.requests(), 0)

    def test_malformed_answer_and_reset_fall_over(self):
        for fault in ('--malformed', '--reset'):
            with self.subTest(fault=fault):
                primary = self.mock('primary', fault)
                backup = self.mock('backup')
                d = self.detour(two_targets(primary.url, backup.url))
                r = d.chat()
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.headers['x-detour-upstream'], 'backup')
                self.assertEqual(r.json()['choices'][0]['message']['content'], 'Hello from backup.')

    def test_every_upstream_down_is_502_with_one_attempt_each(self):
        primary = self.mock('primary', '--status', '503')
        d = self.detour(two_targets(primary.url, dead_url()))
        r = d.chat()
        self.assertEqual(r.status, 502, r)
        err = r.json()['error']
        self.assertEqual(err['type'], 'upstream_error')
        self.assertEqual(err['code'], 'all_upstreams_failed')
        self.assertEqual(err['message'], 'all upstreams failed for model gpt-4o')
        self.assertEqual([a['upstream'] for a in err['attempts']], ['primary', 'backup'])
        self.assertEqual(err['attempts'][0]['status'], 503)
        self.assertIn('injected status 503', err['attempts'][0]['error'])
        self.assertNotIn('status', err['attempts'][1])
        self.assertIn('refused', err['attempts'][1]['error'])
        self.assertIsInstance(err['attempts'][1]['ms'], int)
        self.assertEqual(r.headers['x-detour-attempts'], '2')

    def test_request_timeout_bounds_all_attempts_together(self):
        primary = self.mock('primary', '--hang')
        backup = self.mock('backup', '--hang')
        slow = {'timeouts': '{ connect: 500ms, first_byte: 5s, idle: 5s, total: 5s }'}
        text = two_targets(primary.url, backup.url, extra_primary=slow, request_timeout='1s')
        text = text.replace('first_byte: 3s, idle: 3s, total: 5s', 'first_byte: 5s, idle: 5s, total: 5s')
        d = self.detour(text)
        started = time.monotonic()
        r = d.chat(timeout=10)
        elapsed = time.monotonic() - started
        self.assertEqual(r.status, 504, r)
        self.assertEqual(r.json()['error']['code'], 'request_timeout')
        self.assertLess(elapsed, 4.0)            # not the sum of the upstreams' 5 s timeouts
        self.assertGreaterEqual(elapsed, 0.95)

    def test_200_concurrent_clients_each_get_their_own_answer(self):
        backup = self.mock('backup')
        text = ('upstreams:\n' + upstream_yaml('primary', dead_url()) + upstream_yaml('backup', backup.url) +
                'models:\n  "*":\n    targets: [ { upstream: primary }, { upstream: backup } ]\n')
        d = self.detour(text)

        def one(i):
            r = d.chat(model='model-%d' % i, headers={'x-request-id': 'client-%d' % i}, timeout=30)
            return i, r

        with concurrent.futures.ThreadPoolExecutor(max_workers=200) as pool:
            results = list(pool.map(one, range(200)))
        for i, r in results:
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.headers['x-request-id'], 'client-%d' % i)
            self.assertEqual(r.json()['model'], 'model-%d' % i)
            self.assertEqual(r.headers['x-detour-upstream'], 'backup')
        self.assertEqual(backup.requests(CHAT), 200)


class OutOfDescriptorsTest(DetourTestCase):

    def test_emfile_on_an_upstream_socket_is_named_as_such(self):
        warm = self.mock('warm')
        cold = self.mock('cold')
        d = self.detour('upstreams:\n' + upstream_yaml('warm', warm.url) + upstream_yaml('cold', cold.url) +
                        'models:\n  a:\n    targets: [ { upstream: warm } ]\n'
                        '  b:\n    targets: [ { upstream: cold } ]\n', workers=1)
        pid = d.proc.pid
        client = http.client.HTTPConnection('127.0.0.1', d.port, timeout=15)
        self.addCleanup(client.close)

        def chat(model):
            client.request('POST', CHAT, body=json.dumps({'model': model, 'messages': [
                {'role': 'user', 'content': 'Hello'}]}), headers={'Content-Type': 'application/json'})
            r = client.getresponse()
            return r.status, json.loads(r.read())

        # The client's connection is open; the next descriptor detourd opens is the
        # lowest free number, so a soft limit there makes the upstream socket fail.
        self.assertEqual(chat('a')[0], 200)
        soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
        used = {int(n) for n in os.listdir('/proc/%d/fd' % pid)}
        lowest_free = min(n for n in range(len(used) + 1) if n not in used)
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (lowest_free, hard))
        try:
            status, body = chat('b')
        finally:
            resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))
        self.assertEqual(status, 502, body)
        attempt = body['error']['attempts'][0]
        self.assertEqual(attempt['upstream'], 'cold')
        self.assertEqual(attempt['error'], 'out of file descriptors')
        self.assertEqual(cold.stats()['requests'], 0)
        # With descriptors back, the same upstream answers.
        self.assertEqual(chat('b')[0], 200)


class PassThroughEndpointsTest(DetourTestCase):

    def setUp(self):
        super().setUp()
        self.primary = self.mock('primary', '--status', '502')
        self.backup = self.mock('backup')
        self.d = self.detour(two_targets(self.primary.url, self.backup.url))

    def test_completions_fall_over(self):
        r = self.d.request('POST', '/v1/completions', {'model': 'gpt-4o', 'prompt': 'Say hi'})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()['object'], 'text_completion')
        self.assertEqual(self.backup.requests('/v1/completions'), 1)

    def test_embeddings_fall_over(self):
        r = self.d.request('POST', '/v1/embeddings', {'model': 'gpt-4o', 'input': 'hi'})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()['data'][0]['object'], 'embedding')
        self.assertEqual(self.backup.requests('/v1/embeddings'), 1)

    def test_models_lists_the_configured_names(self):
        r = self.d.request('GET', '/v1/models')
        self.assertEqual(r.status, 200, r)
        self.assertEqual([m['id'] for m in r.json()['data']], ['gpt-4o'])
        self.assertEqual(self.primary.requests() + self.backup.requests(), 0)


if __name__ == '__main__':
    unittest.main()
