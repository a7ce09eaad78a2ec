"""test_degradation.py — the cascade full → reduced → minimal → cached → offline, the cache, the admin floor, /health."""
import json
import time

from harness import DetourTestCase, upstream_yaml

CHAT = '/v1/chat/completions'
ADMIN = 'admin-token-for-tests'
OFFLINE = 'The assistant is resting. Try again soon.'


def config(upstreams, route, degradation, admin=False, extra_models=''):
    text = 'server:\n  workers: 2\n  request_timeout: 10s\n'
    if admin:
        text += 'auth:\n  admin_token_env: DETOUR_TEST_ADMIN\n'
    text += 'upstreams:\n'
    for name, mock in upstreams:
        text += upstream_yaml(name, mock.url if hasattr(mock, 'url') else mock,
                              breaker='{ failures: 50, window: 10s, cooldown: 1s }')
    text += 'models:\n  gpt-4o:\n' + route + extra_models
    return text + 'degradation:\n' + degradation


def sse_lines(r):
    return [l for l in r.text.split('\n') if l]


def sse_text(lines):
    out = ''
    for line in lines:
        if line.startswith('data: {'):
            for c in json.loads(line[6:]).get('choices', []):
                out += c.get('delta', {}).get('content') or ''
    return out


class DegradationTest(DetourTestCase):

    def test_full_targets_failing_fall_to_reduced_targets_with_capped_max_tokens(self):
        primary = self.mock('primary', '--status', '503')
        cheap = self.mock('cheap')
        d = self.detour(config([('primary', primary), ('cheap', cheap)],
                               '    targets: [ { upstream: primary } ]\n'
                               '    reduced: [ { upstream: cheap, model: gpt-4o-mini } ]\n',
                               '  reduced: { max_tokens: 100, drop: [tools] }\n'))
        tools = [{'type': 'function', 'function': {'name': 'get_weather', 'parameters': {'type': 'object'}}}]
        r = d.chat(max_tokens=1000, tools=tools)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers['x-detour-degraded'], 'reduced')
        self.assertEqual(r.headers['x-detour-upstream'], 'cheap')
        self.assertEqual(r.json()['choices'][0]['message']['content'], 'Hello from cheap.')
        seen = cheap.last_request()['body']
        self.assertEqual(seen['model'], 'gpt-4o-mini')
        self.assertEqual(seen['max_tokens'], 100)
        self.assertNotIn('tools', seen)
        self.assertEqual(primary.requests(CHAT), 1)

    def test_every_upstream_down_serves_an_identical_earlier_request_from_the_cache(self):
        primary = self.mock('primary')
        d = self.detour(config([('primary', primary)], '    targets: [ { upstream: primary } ]\n',
                               '  cache: { entries: 100, ttl: 1h }\n'))
        body = '{"model":"gpt-4o","temperature":0.2,"messages":[{"role":"user","content":"What is 2+2?"}]}'
        first = d.request('POST', CHAT, body, {'Content-Type': 'application/json'})
        self.assertEqual(first.status, 200)
        self.assertNotIn('x-detour-cache', first.headers)
        primary.faults(status=503)
        # The same request, written differently: other field order, other spacing.
        same = '{ "messages" : [ {"content":"What is 2+2?", "role":"user"} ],\n "temperature": 0.2, "model":"gpt-4o" }'
        r = d.request('POST', CHAT, same, {'Content-Type': 'application/json'})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers['x-detour-degraded'], 'cached')
        self.assertEqual(r.headers['x-detour-cache'], 'hit')
        self.assertEqual(r.json(), first.json())
        # A different temperature is a different question: no cached answer for it.
        other = same.replace('0.2', '0.9')
        r = d.request('POST', CHAT, other, {'Content-Type': 'application/json'})
        self.assertEqual(r.status, 502, r)
        self.assertNotIn('x-detour-cache', r.headers)
        # Each upstream is listed once, however many levels the request went through.
        self.assertEqual([a['upstream'] for a in r.json()['error']['attempts']], ['primary'])

    def test_a_streamed_answer_is_cached_once_complete(self):
        primary = self.mock('primary', '--chunks', '4')
        d = self.detour(config([('primary', primary)], '    targets: [ { upstream: primary } ]\n',
                               '  cache: { entries: 100, ttl: 1h }\n'))
        r = d.chat(stream=True)
        self.assertEqual(sse_text(sse_lines(r)), 'Hello from primary.')
        primary.faults(status=500)
        r = d.chat()
        self.assertEqual(r.headers.get('x-detour-cache'), 'hit', r)
        self.assertEqual(r.json()['choices'][0]['message']['content'], 'Hello from primary.')
        self.assertEqual(r.json()['choices'][0]['finish_reason'], 'stop')

    def test_a_stream_cut_short_is_not_cached(self):
        primary = self.mock('primary', '--chunks', '4', '--cut-after', '2')
        d = self.detour(config([('primary', primary)], '    targets: [ { upstream: primary } ]\n',
                               '  cache: { entries: 100, ttl: 1h }\n'))
        r = d.chat(stream=True)
        self.assertIn('stream_interrupted', r.text)
        primary.faults(status=500)
        r = d.chat()
        self.assertEqual(r.status, 502, r)
        self.assertNotIn('x-detour-cache', r.headers)

    def test_nothing_cached_gives_the_offline_message_as_json_and_as_sse(self):
        primary = self.mock('primary', '--status', '500')
        d = self.detour(config([('primary', primary)], '    targets: [ { upstream: primary } ]\n',
                               '  cache: { entries: 100, ttl: 1h }\n  offline_message: "%s"\n' % OFFLINE))
        r = d.chat()
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers['x-detour-degraded'], 'offline')
        body = r.json()
        self.assertEqual(body['object'], 'chat.completion')
        self.assertEqual(body['model'], 'detour-offline')
        self.assertEqual(body['choices'][0]['message'], {'role': 'assistant', 'content': OFFLINE, 'refusal': None})
        self.assertEqual(body['choices'][0]['finish_reason'], 'stop')
        r = d.chat(stream=True)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers['content-type'], 'text/event-stream')
        self.assertEqual(r.headers['x-detour-degraded'], 'offline')
        lines = sse_lines(r)
        self.assertEqual(sse_text(lines), OFFLINE)
        self.assertEqual(lines[-1], 'data: [DONE]')
        self.assertEqual(json.loads(lines[0][6:])['object'], 'chat.completion.chunk')

    def test_minimal_level_drops_stream_and_answers_the_streaming_client_in_sse(self):
        cheap = self.mock('cheap')
        d = self.detour(config([('cheap', cheap)],
                               '    targets: [ { upstream: cheap } ]\n',
                               '  mode: minimal\n  minimal: { max_tokens: 50, drop: [tools, stream] }\n'))
        r = d.chat(stream=True, stream_options={'include_usage': True})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers['content-type'], 'text/event-stream')
        self.assertEqual(r.headers['x-detour-degraded'], 'minimal')
        lines = sse_lines(r)
        self.assertEqual(sse_text(lines), 'Hello from cheap.')
        self.assertEqual(lines[-1], 'data: [DONE]')
        self.assertTrue(any('"usage"' in l for l in lines))
        seen = cheap.last_request()['body']
        self.assertNotIn('stream', seen)
        self.assertEqual(seen['max_tokens'], 50)

    def test_pinning_cached_stops_upstream_calls_and_auto_restores_them(self):
        primary = self.mock('primary')
        d = self.detour(config([('primary', primary)], '    targets: [ { upstream: primary } ]\n',
                               '  cache: { entries: 100, ttl: 1h }\n  offline_message: "%s"\n' % OFFLINE,
                               admin=True), env={'DETOUR_TEST_ADMIN': ADMIN})
        auth = {'Authorization': 'Bearer ' + ADMIN}
        self.assertEqual(d.chat(content='cached question').status, 200)
        calls = primary.requests(CHAT)
        self.assertEqual(d.request('POST', '/admin/degradation', {'level': 'cached'}).status, 401)
        r = d.request('POST', '/admin/degradation', {'level': 'cached'}, auth)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {'mode': 'cached'})
        r = d.chat(content='cached question')
        self.assertEqual(r.headers['x-detour-cache'], 'hit')
        r = d.chat(content='a new question')
        self.assertEqual(r.headers['x-detour-degraded'], 'offline')
        r = d.request('POST', '/v1/embeddings', {'model': 'gpt-4o', 'input': 'x'})
        self.assertEqual(r.status, 503)
        self.assertEqual(primary.requests(CHAT), calls)          # not one call while pinned
        self.assertEqual(primary.requests('/v1/embeddings'), 0)
        health = d.request('GET', '/health')
        self.assertEqual(health.json()['mode'], 'cached')
        self.assertEqual(health.json()['status'], 'degraded')
        self.assertEqual(d.request('POST', '/admin/degradation', {'level': 'auto'}, auth).status, 200)
        r = d.chat(content='a new question')
        self.assertNotIn('x-detour-degraded', r.headers)
        self.assertEqual(primary.requests(CHAT), calls + 1)
        self.assertEqual(d.request('POST', '/admin/degradation', {'level': 'sideways'}, auth).status, 400)

    def test_serve_fresh_answers_temperature_0_from_the_cache_at_full_level(self):
        primary = self.mock('primary')
        d = self.detour(config([('primary', primary)], '    targets: [ { upstream: primary } ]\n',
                               '  cache: { entries: 100, ttl: 1h, serve_fresh: true }\n'))
        self.assertEqual(d.chat(temperature=0).status, 200)
        r = d.chat(temperature=0)
        self.assertEqual(r.headers['x-detour-cache'], 'hit')
        self.assertNotIn('x-detour-degraded', r.headers)
        self.assertEqual(primary.requests(CHAT), 1)
        d.chat(temperature=0.5)
        d.chat(temperature=0.5)
        self.assertEqual(primary.requests(CHAT), 3)              # only temperature 0 is served fresh


class HealthTest(DetourTestCase):

    def test_health_moves_ok_degraded_down_ok(self):
        primary = self.mock('primary')
        backup = self.mock('backup')
        text = ('server:\n  workers: 2\n  request_timeout: 5s\nupstreams:\n' +
                upstream_yaml('primary', primary.url, breaker='{ failures: 1, window: 10s, cooldown: 1s }') +
                upstream_yaml('backup', backup.url, breaker='{ failures: 1, window: 10s, cooldown: 1s }') +
                'models:\n  gpt-4o:\n    targets: [ { upstream: primary }, { upstream: backup } ]\n'
                '  backup-first:\n    targets: [ { upstream: backup }, { upstream: primary } ]\n'
                'degradation:\n  cache: { entries: 0 }\n')
        d = self.detour(text)
        health = lambda: d.request('GET', '/health')
        r = health()
        self.assertEqual((r.status, r.json()['status']), (200, 'ok'))

        primary.faults(status=503)
        self.assertEqual(d.chat().headers['x-detour-upstream'], 'backup')
        r = health()
        self.assertEqual((r.status, r.json()['status']), (200, 'degraded'))
        self.assertEqual(r.json()['upstreams']['primary']['state'], 'open')

        backup.faults(status=503)
        self.assertEqual(d.chat().status, 502)
        r = health()
        self.assertEqual((r.status, r.json()['status']), (503, 'down'))

        primary.faults()
        backup.faults()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and health().status == 503:
            time.sleep(0.1)
        # One probe through each breaker closes it.
        self.assertEqual(d.chat().headers['x-detour-upstream'], 'primary')
        self.assertEqual(d.chat(model='backup-first').headers['x-detour-upstream'], 'backup')
        r = health()
        self.assertEqual((r.status, r.json()['status']), (200, 'ok'))
