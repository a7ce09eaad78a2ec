"""test_headers.py — headers both ways (issue 13): the provider headers a client reads come back from the upstream
that answered, streamed or not, errors passed through included; client headers reach only the upstreams meant to
get them; the access log carries both request ids; GET /v1/models/{id}."""
import re
import subprocess
import tempfile
import time
import unittest

from harness import DETOURD, DetourTestCase, upstream_yaml

PROVIDER = ('--header', 'x-ratelimit-remaining-requests: 499', '--header', 'openai-version: 2020-10-01',
            '--header', 'x-request-id: req_up_7', '--header', 'keep-alive: timeout=99',
            '--header', 'connection: close', '--header', 'server: mockd')


def one_route(name, mock, **fields):
    return ('upstreams:\n' + upstream_yaml(name, mock.url, **fields) +
            'models:\n  gpt-4o: { targets: [ { upstream: %s } ] }\n' % name)


class AnswerHeaders(DetourTestCase):

    def assert_provider_headers(self, r):
        self.assertEqual(r.headers.get('x-ratelimit-remaining-requests'), '499', r.headers)
        self.assertEqual(r.headers.get('openai-version'), '2020-10-01', r.headers)
        self.assertEqual(r.headers.get('x-detour-upstream-request-id'), 'req_up_7', r.headers)
        self.assertNotEqual(r.headers.get('x-request-id'), 'req_up_7', "detour's own id stays x-request-id")
        self.assertNotIn('timeout=99', r.headers.get('keep-alive', ''), 'hop-by-hop headers are not passed')
        self.assertNotEqual(r.headers.get('server'), 'mockd', 'only the headers a client reads pass')

    def test_a_streamed_answer_brings_the_provider_headers(self):
        up = self.mock('up', *PROVIDER)
        d = self.detour(one_route('up', up))
        r = d.chat(stream=True)
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.headers['content-type'].startswith('text/event-stream'), r.headers)
        self.assertIn('data: [DONE]', r.text)
        self.assert_provider_headers(r)

    def test_an_error_passed_through_brings_them_too(self):
        up = self.mock('up', '--status', '400', *PROVIDER)
        d = self.detour(one_route('up', up))
        r = d.chat()
        self.assertEqual(r.status, 400, r)
        self.assert_provider_headers(r)

    def test_the_backup_that_answered_is_the_one_whose_headers_pass(self):
        primary = self.mock('primary', '--status', '503', '--header', 'x-ratelimit-remaining-requests: 0',
                            '--header', 'x-request-id: req_primary')
        backup = self.mock('backup', *PROVIDER)
        d = self.detour('upstreams:\n' + upstream_yaml('primary', primary.url) + upstream_yaml('backup', backup.url) +
                        'models:\n  gpt-4o: { targets: [ { upstream: primary }, { upstream: backup } ] }\n')
        r = d.chat()
        self.assertEqual(r.headers.get('x-detour-upstream'), 'backup', r)
        self.assert_provider_headers(r)

    def test_anthropic_request_id_and_rate_limits_pass(self):
        claude = self.mock('claude', '--header', 'request-id: req_011', '--header',
                           'anthropic-ratelimit-requests-remaining: 49', mode='anthropic')
        d = self.detour('upstreams:\n' + upstream_yaml('claude', claude.url, provider='anthropic') +
                        'models:\n  gpt-4o: { targets: [ { upstream: claude, model: claude-3-5-haiku-latest } ] }\n')
        for stream in (False, True):
            r = d.chat(stream=stream)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.headers.get('x-detour-upstream-request-id'), 'req_011', r.headers)
            self.assertEqual(r.headers.get('anthropic-ratelimit-requests-remaining'), '49', r.headers)

    def test_the_access_log_line_carries_both_ids(self):
        up = self.mock('up', *PROVIDER)
        d = self.detour('log:\n  access: true\n' + one_route('up', up))
        r = d.chat(headers={'x-request-id': 'mine-42'})
        self.assertEqual(r.status, 200, r)
        pattern = re.compile(r'request_id=mine-42 path=\S+ status=200 .* upstream_request_id=req_up_7\b')
        deadline = time.monotonic() + 5
        while not pattern.search(d.output()) and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertRegex(d.output(), pattern)


class ClientHeaders(DetourTestCase):

    def test_only_the_listed_headers_go_and_never_the_clients_key(self):
        up = self.mock('up')
        d = self.detour(one_route('up', up, forward_headers='[X-Team]'))
        r = d.chat(headers={'Authorization': 'Bearer client-secret', 'X-Team': 'blue', 'OpenAI-Beta': 'b',
                            'Cookie': 'c=1'})
        self.assertEqual(r.status, 200, r)
        seen = up.last_request()['headers']
        self.assertEqual(seen.get('x-team'), 'blue')
        self.assertNotIn('openai-beta', seen, 'forward_headers replaces the default list')
        self.assertNotIn('cookie', seen)
        self.assertNotIn('client-secret', seen.get('authorization', ''))

    def test_detours_own_headers_are_the_same_for_any_body_and_expect_never_goes(self):
        up = self.mock('up')
        d = self.detour(one_route('up', up))
        # Under and over curl's 1 MiB threshold for asking "100 Continue".
        for content in ('Hello', 'x' * (1200 * 1024)):
            r = d.chat(content=content)
            self.assertEqual(r.status, 200, r)
            seen = up.last_request()['headers']
            self.assertEqual(seen.get('content-type'), 'application/json', seen)
            self.assertTrue(seen.get('user-agent', '').startswith('detour/'), seen)
            self.assertNotIn('expect', seen, 'a body of %d bytes waited for 100 Continue' % len(content))

    def test_a_retry_carries_them_again(self):
        up = self.mock('up')
        up.faults(status=503, times=1)
        d = self.detour(one_route('up', up, retries='{ attempts: 1, base_delay: 10ms, max_delay: 10ms }'))
        r = d.chat(headers={'Idempotency-Key': 'idem-9'})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(up.stats()['requests'], 2)
        self.assertEqual(up.last_request()['headers'].get('idempotency-key'), 'idem-9')

    def test_a_key_header_in_forward_headers_is_refused_at_load(self):
        with tempfile.NamedTemporaryFile('w', suffix='.yaml') as f:
            f.write('upstreams:\n  up: { base_url: "http://127.0.0.1:9/v1", forward_headers: [Authorization] }\n'
                    'models:\n  gpt-4o: { targets: [ { upstream: up } ] }\n')
            f.flush()
            p = subprocess.run([DETOURD, '-t', '-c', f.name], capture_output=True, text=True, timeout=10)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn('forward_headers[0]: "Authorization" is a header detour writes itself', p.stderr + p.stdout)


class ModelById(DetourTestCase):

    def setUp(self):
        super().setUp()
        up = self.mock('up')
        self.d = self.detour('upstreams:\n' + upstream_yaml('up', up.url) +
                             'models:\n  gpt-4o: { targets: [ { upstream: up } ] }\n'
                             '  meta-llama/Llama-3: { targets: [ { upstream: up } ] }\n')
        self.up = up

    def test_a_route_name_is_a_model_object(self):
        for path, id in (('/v1/models/gpt-4o', 'gpt-4o'), ('/v1/models/meta-llama%2FLlama-3', 'meta-llama/Llama-3'),
                         ('/v1/models/meta-llama/Llama-3', 'meta-llama/Llama-3')):
            r = self.d.request('GET', path)
            self.assertEqual(r.status, 200, r)
            model = r.json()
            self.assertEqual((model['id'], model['object'], model['owned_by']), (id, 'model', 'detour'))
            self.assertIsInstance(model['created'], int)
        self.assertEqual(self.up.stats()['requests'], 0, 'answered by detour itself')

    def test_anything_else_is_404_model_not_found(self):
        r = self.d.request('GET', '/v1/models/gpt-5')
        self.assertEqual(r.status, 404, r)
        error = r.json()['error']
        self.assertEqual((error['code'], error['type'], error['param']), ('model_not_found', 'invalid_request_error', 'model'))
        self.assertEqual(self.d.request('GET', '/v1/models/' + 'x' * 400).status, 404)

    def test_only_get(self):
        r = self.d.request('DELETE', '/v1/models/gpt-4o')
        self.assertEqual(r.status, 405, r)
        self.assertEqual(r.headers.get('allow'), 'GET')


if __name__ == '__main__':
    unittest.main()
