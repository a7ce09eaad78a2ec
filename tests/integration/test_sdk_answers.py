"""test_sdk_answers.py — issue 13 on the wire: what no target can serve is a 400 naming the parameter, with the
skip reason a whole sentence, and the retry signals every SDK reads (raw HTTP, no SDK in between)."""
import re
import unittest

from harness import DetourTestCase, upstream_yaml

CHAT = '/v1/chat/completions'


def claude_only(claude):
    return ('upstreams:\n' + upstream_yaml('claude', claude.url, provider='anthropic') +
            'models:\n  gpt-4o:\n    targets: [ { upstream: claude, model: claude-3-5-haiku-latest } ]\n')


class NothingCanServe(DetourTestCase):

    def setUp(self):
        super().setUp()
        self.claude = self.mock('claude', mode='anthropic')
        self.d = self.detour(claude_only(self.claude))

    def assert_bad_request(self, r, param=None, words=()):
        self.assertEqual(r.status, 400, r)
        error = r.json()['error']
        self.assertEqual(error['type'], 'invalid_request_error', error)
        if param is not None:
            self.assertEqual(error['param'], param, error)
        for word in words:
            self.assertIn(word, error['message'], error)
        for attempt in error.get('attempts', []):
            # a whole sentence: words, ending with a full stop, that a person can act on
            self.assertRegex(attempt.get('skipped', ''), r'^\S+( \S+){3,}\.$', attempt)
        self.assertEqual(self.claude.stats()['requests'], 0, 'nothing is sent upstream')
        return error

    def test_embeddings_on_an_anthropic_only_route(self):
        r = self.d.request('POST', '/v1/embeddings', {'model': 'gpt-4o', 'input': 'hello'})
        self.assert_bad_request(r, words=('embeddings',))

    def test_completions_on_an_anthropic_only_route(self):
        r = self.d.request('POST', '/v1/completions', {'model': 'gpt-4o', 'prompt': 'hello'})
        self.assert_bad_request(r, words=('completions',))

    def test_n_above_one_for_anthropic(self):
        r = self.d.chat(n=2)
        self.assert_bad_request(r, param='n')

    def test_an_input_audio_part(self):
        r = self.d.request('POST', CHAT, {'model': 'gpt-4o', 'messages': [{'role': 'user', 'content': [
            {'type': 'text', 'text': 'What is said?'},
            {'type': 'input_audio', 'input_audio': {'data': 'UklGRg==', 'format': 'wav'}}]}]})
        error = self.assert_bad_request(r, words=('input_audio',))
        self.assertTrue(error['param'] and error['param'].startswith('messages'), error)


class SomeTargetCouldServe(DetourTestCase):

    def test_a_target_that_could_serve_but_failed_makes_it_no_client_mistake(self):
        claude = self.mock('claude', mode='anthropic')
        down = self.mock('down', '--status', '500')
        d = self.detour('upstreams:\n' + upstream_yaml('claude', claude.url, provider='anthropic') +
                        upstream_yaml('down', down.url) +
                        'models:\n  gpt-4o:\n    targets: [ { upstream: claude, model: claude-3-5-haiku-latest },'
                        ' { upstream: down } ]\n')
        r = d.chat(n=2)
        # down could have served n: 2, so its failure is the answer: a 502, not the client's 400
        self.assertEqual(r.status, 502, r)
        error = r.json()['error']
        self.assertEqual(error['code'], 'all_upstreams_failed')
        self.assertRegex(error['attempts'][0]['skipped'], r'^\S+( \S+){3,}\.$', error)
        self.assertEqual(error['attempts'][1]['status'], 500, error)
        self.assertEqual(claude.stats()['requests'], 0)
        self.assertEqual(down.stats()['requests'], 1)


class RetrySignals(DetourTestCase):

    def test_all_upstreams_failed_says_do_not_retry(self):
        down = self.mock('down', '--status', '500')
        d = self.detour('upstreams:\n' + upstream_yaml('down', down.url) +
                        'models:\n  gpt-4o: { targets: [ { upstream: down } ] }\n')
        r = d.chat()
        self.assertEqual(r.status, 502, r)
        self.assertEqual(r.json()['error']['code'], 'all_upstreams_failed')
        self.assertEqual(r.headers.get('x-should-retry'), 'false', r)

    def test_every_target_rate_limited_is_429_with_retry_after(self):
        limited = self.mock('limited', '--status', '429', '--retry-after', '2', '--retry-after-ms', '1500')
        d = self.detour('upstreams:\n' + upstream_yaml('limited', limited.url) +
                        'models:\n  gpt-4o: { targets: [ { upstream: limited } ] }\n')
        r = d.chat()
        self.assertEqual(r.status, 429, r)
        self.assertEqual(r.json()['error']['code'], 'rate_limit_exceeded')
        self.assertTrue(re.fullmatch(r'[12]', r.headers.get('retry-after') or ''), r.headers)
        self.assertTrue(0 < int(r.headers.get('retry-after-ms') or 0) <= 2000, r.headers)

    def test_a_rate_limit_beside_a_failure_is_a_502(self):
        limited = self.mock('limited', '--status', '429', '--retry-after', '2')
        down = self.mock('down', '--status', '500')
        d = self.detour('upstreams:\n' + upstream_yaml('limited', limited.url) + upstream_yaml('down', down.url) +
                        'models:\n  gpt-4o: { targets: [ { upstream: limited }, { upstream: down } ] }\n')
        r = d.chat()
        # waiting would not bring down back: the chain failed, and says not to run it again
        self.assertEqual(r.status, 502, r)
        self.assertEqual(r.headers.get('x-should-retry'), 'false', r)
        self.assertIsNone(r.headers.get('retry-after'), r)


if __name__ == '__main__':
    unittest.main()
