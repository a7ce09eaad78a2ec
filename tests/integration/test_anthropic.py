"""test_anthropic.py — Anthropic upstreams behind an OpenAI face: requests, answers, errors, streams, and weighted routes."""
import json

from harness import DetourTestCase, upstream_yaml

CHAT = '/v1/chat/completions'
MESSAGES = '/v1/messages'


def chain(openai, claude, third=None, claude_extra=None):
    text = 'upstreams:\n' + upstream_yaml('openai', openai.url)
    fields = {'provider': 'anthropic', 'api_key_env': 'CLAUDE_KEY'}
    fields.update(claude_extra or {})
    text += upstream_yaml('claude', claude.url, **fields)
    targets = '{ upstream: openai }, { upstream: claude, model: claude-3-5-haiku-latest }'
    if third is not None:
        text += upstream_yaml('groq', third.url)
        targets += ', { upstream: groq }'
    return text + 'models:\n  gpt-4o:\n    targets: [ %s ]\n' % targets


class AnthropicTest(DetourTestCase):

    def setUp(self):
        super().setUp()
        self.openai = self.mock('openai', '--status', '503')
        self.claude = self.mock('claude', '--api-key', 'sk-ant-test', mode='anthropic')

    def detour_chain(self, **kw):
        return self.detour(chain(self.openai, self.claude, **kw), env={'CLAUDE_KEY': 'sk-ant-test'})

    def test_openai_failing_claude_answers_in_openai_shape(self):
        d = self.detour_chain()
        r = d.request('POST', CHAT, {
            'model': 'gpt-4o', 'temperature': 1.5, 'stop': 'END', 'user': 'u-1',
            'messages': [{'role': 'system', 'content': 'Be brief.'},
                         {'role': 'developer', 'content': 'No emojis.'},
                         {'role': 'user', 'content': 'Hi'},
                         {'role': 'user', 'content': [{'type': 'text', 'text': 'there'}]}]},
            {'Authorization': 'Bearer client-key'})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers['x-detour-upstream'], 'claude')
        body = r.json()
        self.assertEqual(body['object'], 'chat.completion')
        self.assertTrue(body['id'].startswith('chatcmpl-'))
        self.assertEqual(body['choices'][0]['message'], {'role': 'assistant', 'content': 'Hello from claude.', 'refusal': None})
        self.assertEqual(body['choices'][0]['finish_reason'], 'stop')
        self.assertEqual(set(body['usage']), {'prompt_tokens', 'completion_tokens', 'total_tokens'})
        seen = self.claude.last_request()
        self.assertEqual(seen['path'], MESSAGES)
        sent = seen['body']
        self.assertEqual(sent['model'], 'claude-3-5-haiku-latest')
        self.assertEqual(sent['system'], 'Be brief.\n\nNo emojis.')
        self.assertEqual(len(sent['messages']), 1)               # the two user messages merged
        self.assertEqual(sent['max_tokens'], 4096)               # the upstream's default
        self.assertEqual(sent['temperature'], 1)                 # clamped to Anthropic's range
        self.assertEqual(sent['stop_sequences'], ['END'])
        self.assertEqual(sent['metadata'], {'user_id': 'u-1'})
        self.assertEqual(seen['headers']['x-api-key'], 'sk-ant-test')
        self.assertIn('anthropic-version', seen['headers'])
        self.assertNotIn('authorization', seen['headers'])

    def test_tool_call_round_trip(self):
        d = self.detour_chain()
        tools = [{'type': 'function', 'function': {'name': 'get_weather', 'description': 'Weather',
                                                   'parameters': {'type': 'object', 'properties': {'city': {'type': 'string'}}}}}]
        r = d.chat(tools=tools, tool_choice='required', max_tokens=300)
        self.assertEqual(r.status, 200, r)
        msg = r.json()['choices'][0]['message']
        self.assertEqual(r.json()['choices'][0]['finish_reason'], 'tool_calls')
        call = msg['tool_calls'][0]
        self.assertEqual(call['type'], 'function')
        self.assertEqual(call['function']['name'], 'get_weather')
        # A forced call's input is built from the tool's schema by the mock ("mock" for a string).
        self.assertEqual(json.loads(call['function']['arguments']), {'city': 'mock'})
        sent = self.claude.last_request()['body']
        self.assertEqual(sent['tools'][0]['name'], 'get_weather')
        self.assertEqual(sent['tools'][0]['input_schema']['type'], 'object')
        self.assertEqual(sent['tool_choice'], {'type': 'any'})
        self.assertEqual(sent['max_tokens'], 300)
        # The conversation goes on: the tool's result goes back as a tool_result block.
        r = d.request('POST', CHAT, {'model': 'gpt-4o', 'tools': tools, 'messages': [
            {'role': 'user', 'content': 'Weather in Paris?'},
            {'role': 'assistant', 'content': None, 'tool_calls': [call]},
            {'role': 'tool', 'tool_call_id': call['id'], 'content': 'Sunny'}]})
        self.assertEqual(r.status, 200, r)
        sent = self.claude.last_request()['body']
        self.assertEqual(sent['messages'][1]['content'][-1]['type'], 'tool_use')
        self.assertEqual(sent['messages'][2]['content'][0],
                         {'type': 'tool_result', 'tool_use_id': call['id'], 'content': 'Sunny'})

    def test_streamed_answer_is_translated_chunk_by_chunk(self):
        d = self.detour_chain()
        r = d.chat(stream=True, stream_options={'include_usage': True})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers['content-type'], 'text/event-stream')
        lines = [l for l in r.text.split('\n') if l.startswith('data: ')]
        self.assertEqual(lines[-1], 'data: [DONE]')
        chunks = [json.loads(l[6:]) for l in lines[:-1]]
        self.assertTrue(all(c['object'] == 'chat.completion.chunk' for c in chunks))
        text = ''.join(c['choices'][0]['delta'].get('content') or '' for c in chunks if c['choices'])
        self.assertEqual(text, 'Hello from claude.')
        finishes = [c['choices'][0]['finish_reason'] for c in chunks if c['choices']]
        self.assertEqual(finishes[-1], 'stop')
        self.assertTrue(any(c.get('usage') for c in chunks))
        self.assertTrue(self.claude.last_request()['body']['stream'])

    def test_anthropic_400_reaches_the_client_as_an_openai_400(self):
        self.claude.faults(status=400)
        d = self.detour_chain()
        r = d.chat()
        self.assertEqual(r.status, 400, r)
        err = r.json()['error']
        self.assertEqual(err['type'], 'invalid_request_error')
        self.assertIn('injected status 400', err['message'])
        self.assertEqual(err['code'], 'invalid_request_error')  # Anthropic's type, as OpenAI's code
        self.assertEqual(set(r.json()), {'error'})             # no Anthropic envelope ("type": "error") left

    def test_overloaded_and_rate_limited_fall_over(self):
        groq = self.mock('groq')
        d = self.detour(chain(self.openai, self.claude, third=groq), env={'CLAUDE_KEY': 'sk-ant-test'})
        for status in (529, 429):
            with self.subTest(status=status):
                self.claude.faults(status=status)
                r = d.chat()
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.headers['x-detour-upstream'], 'groq')
                attempts = d.request('GET', '/circuits').json()['circuits']['claude']['last_error']
                self.assertEqual(attempts['status'], status)

    def test_overloaded_error_before_the_first_chunk_falls_over_to_the_third_target(self):
        groq = self.mock('groq')
        d = self.detour(chain(self.openai, self.claude, third=groq), env={'CLAUDE_KEY': 'sk-ant-test'})
        self.claude.faults(stream_error_after=0)
        r = d.chat(stream=True)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers['x-detour-upstream'], 'groq')
        self.assertNotIn('overloaded', r.text)
        self.assertIn('Hello from groq.', ''.join(
            json.loads(l[6:])['choices'][0]['delta'].get('content') or ''
            for l in r.text.split('\n') if l.startswith('data: {')))
        self.assertEqual(self.claude.requests(MESSAGES), 1)

    def test_embeddings_skip_an_anthropic_target(self):
        groq = self.mock('groq')
        d = self.detour(chain(self.openai, self.claude, third=groq), env={'CLAUDE_KEY': 'sk-ant-test'})
        r = d.request('POST', '/v1/embeddings', {'model': 'gpt-4o', 'input': 'x'})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers['x-detour-upstream'], 'groq')
        self.assertEqual(self.claude.requests(), 0)


# Requests the Anthropic translation cannot express: each is the client's mistake.
UNSAYABLE = {
    'lone surrogate': ('{"model":"gpt-4o","messages":[{"role":"user","content":"a\\ud800b"}]}', 'ud800'),
    'NUL character': ('{"model":"gpt-4o","messages":[{"role":"user","content":"a\\u0000b"}]}', 'u0000'),
    'overflowing number': ('{"model":"gpt-4o","temperature":1e400,"messages":[{"role":"user","content":"x"}]}',
                           'number'),
    'message not an object': ('{"model":"gpt-4o","messages":[1]}', 'messages[0]'),
    'unknown part type': ('{"model":"gpt-4o","messages":[{"role":"user","content":'
                          '[{"type":"input_audio","input_audio":{"data":"AAAA","format":"wav"}}]}]}', 'input_audio'),
}


class UnsayableRequestTest(DetourTestCase):

    def setUp(self):
        super().setUp()
        self.claude = self.mock('claude', '--api-key', 'sk-ant-test', mode='anthropic')

    def test_a_request_anthropic_cannot_express_is_a_400_not_an_offline_answer(self):
        d = self.detour('upstreams:\n' + upstream_yaml('claude', self.claude.url, provider='anthropic',
                                                      api_key_env='CLAUDE_KEY') +
                        'models:\n  gpt-4o:\n    targets: [ { upstream: claude } ]\n'
                        'degradation:\n  cache: { entries: 100, ttl: 1h }\n  offline_message: "We are offline."\n',
                        env={'CLAUDE_KEY': 'sk-ant-test'})
        for what, (body, named) in UNSAYABLE.items():
            with self.subTest(what):
                r = d.request('POST', CHAT, body, {'Content-Type': 'application/json'})
                self.assertEqual(r.status, 400, r)
                err = r.json()['error']
                self.assertEqual(err['type'], 'invalid_request_error')
                self.assertIn(named, err['message'])
                self.assertNotIn('offline', r.text)
        self.assertEqual(self.claude.requests(), 0)
        health = d.request('GET', '/health').json()
        self.assertEqual(health['status'], 'ok', health)
        claude = d.request('GET', '/circuits').json()['circuits']['claude']
        self.assertEqual((claude['state'], claude['requests'], claude['failures_in_window']), ('closed', 0, 0), claude)
        self.assertEqual(d.chat().status, 200)    # and the target still serves what it can say

    def test_an_openai_target_takes_what_the_anthropic_one_cannot_say(self):
        groq = self.mock('groq')
        d = self.detour('upstreams:\n' + upstream_yaml('claude', self.claude.url, provider='anthropic',
                                                      api_key_env='CLAUDE_KEY') +
                        upstream_yaml('groq', groq.url) +
                        'models:\n  gpt-4o:\n    targets: [ { upstream: claude }, { upstream: groq } ]\n',
                        env={'CLAUDE_KEY': 'sk-ant-test'})
        body, _ = UNSAYABLE['unknown part type']
        r = d.request('POST', CHAT, body, {'Content-Type': 'application/json'})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers['x-detour-upstream'], 'groq')
        self.assertEqual(self.claude.requests(), 0)
        self.assertEqual(groq.requests(CHAT), 1)


class EchoedKeyTest(DetourTestCase):

    def test_a_translated_anthropic_error_never_carries_the_key(self):
        # The mock puts its name in its error texts; here its name is the key detour sends it.
        key = 'sk-ant-echoed-secret-0123456789'
        claude = self.mock(key, '--api-key', key, mode='anthropic')
        claude.faults(status=400)
        d = self.detour('upstreams:\n' + upstream_yaml('claude', claude.url, provider='anthropic',
                                                      api_key_env='CLAUDE_KEY') +
                        'models:\n  gpt-4o:\n    targets: [ { upstream: claude } ]\n', env={'CLAUDE_KEY': key})
        r = d.chat()
        self.assertEqual(r.status, 400, r)
        self.assertIn('injected status 400', r.text)    # the upstream's words do come through
        self.assertNotIn(key[:10], r.text)


class WeightedRouteTest(DetourTestCase):

    def test_first_target_is_drawn_by_weight_then_the_rest_in_order(self):
        a = self.mock('a')
        b = self.mock('b')
        d = self.detour('upstreams:\n' + upstream_yaml('a', a.url) + upstream_yaml('b', b.url) +
                        'models:\n  m:\n    strategy: weighted\n'
                        '    targets: [ { upstream: a, weight: 1 }, { upstream: b, weight: 3 } ]\n')
        for _ in range(200):
            self.assertEqual(d.chat(model='m').status, 200)
        got_b = b.requests(CHAT)
        self.assertEqual(a.requests(CHAT) + got_b, 200)
        self.assertGreater(got_b, 115)      # expected 150; far outside chance either way
        self.assertLess(got_b, 185)
        # With b down, every request still lands: the rest follow in order.
        b.faults(status=503)
        for _ in range(20):
            r = d.chat(model='m')
            self.assertEqual(r.headers['x-detour-upstream'], 'a')
