"""test_continuations.py — a cut stream continues on the next target (streams.on_cut: continue): one seamless answer."""
import http.client
import json
import re
import time
import unittest

from harness import DetourTestCase, request, upstream_yaml

CHAT = '/v1/chat/completions'
PRIMARY_TEXT = 'The quick brown fox jumps over the lazy dog and runs far away.'


def config(urls, streams='{ on_cut: continue, max_continuations: 1 }', extra_upstream=None, route_streams=None,
           idle='3s'):
    text = 'server:\n  workers: 1\n  request_timeout: 20s\n'
    if streams is not None:
        text += 'streams: %s\n' % streams
    text += 'upstreams:\n'
    names = []
    for name, url in urls:
        fields = dict((extra_upstream or {}).get(name, {}))
        fields.setdefault('timeouts', '{ connect: 500ms, first_byte: 3s, idle: %s, total: 10s }' % idle)
        text += upstream_yaml(name, url, **fields)
        names.append('{ upstream: %s }' % name)
    text += 'models:\n  "*":\n    targets: [ %s ]\n' % ', '.join(names)
    if route_streams is not None:
        text += '    streams: %s\n' % route_streams
    return text


def stream_raw(port, body=None, timeout=20):
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=timeout)
    payload = {'model': 'gpt-4o', 'stream': True, 'messages': [{'role': 'user', 'content': 'Hi'}]}
    payload.update(body or {})
    conn.request('POST', CHAT, body=json.dumps(payload), headers={'Content-Type': 'application/json'})
    resp = conn.getresponse()
    raw = resp.read()
    conn.close()
    return resp, raw


def events(raw):
    return [line for line in raw.decode('utf-8').split('\n') if line]


def chunks(lines):
    return [json.loads(line[6:]) for line in lines if line.startswith('data: ') and line != 'data: [DONE]']


def text_of(lines):
    out = ''
    for chunk in chunks(lines):
        for choice in chunk.get('choices', []):
            out += choice.get('delta', {}).get('content') or ''
    return out


class ContinuationTest(DetourTestCase):

    def two(self, primary_faults, backup_content, backup_mode='openai', **kw):
        primary = self.mock('primary', '--content', PRIMARY_TEXT, '--chunks', '6')
        backup = self.mock('backup', '--content', backup_content, '--chunks', '3', mode=backup_mode)
        primary.faults(content=PRIMARY_TEXT, chunks=6, **primary_faults)
        ups = [('primary', primary.url), ('backup', backup.url)]
        extra = kw.pop('extra_upstream', None)
        if backup_mode == 'anthropic':
            extra = dict(extra or {})
            extra.setdefault('backup', {})['provider'] = 'anthropic'
        d = self.detour(config(ups, extra_upstream=extra, **kw))
        return primary, backup, d

    def delivered_before_cut(self, n):
        """The primary's text after n content chunks (the mock splits it evenly into 6)."""
        probe = self.mock('probe', '--content', PRIMARY_TEXT, '--chunks', '6')
        d = self.detour(config([('probe', probe.url)], streams=None))
        _, raw = stream_raw(d.port)
        pieces = [c['choices'][0]['delta'].get('content') or '' for c in chunks(events(raw)) if c.get('choices')]
        pieces = [p for p in pieces if p]
        return ''.join(pieces[:n])

    def assert_one_stream(self, lines):
        data = chunks(lines)
        self.assertEqual(lines[-1], 'data: [DONE]')
        self.assertEqual(sum(1 for l in lines if l == 'data: [DONE]'), 1)
        self.assertFalse(any('error' in c for c in data), lines)
        self.assertEqual(len({c['id'] for c in data}), 1, lines)
        self.assertEqual(len({c['created'] for c in data}), 1, lines)
        self.assertEqual(len({c['model'] for c in data}), 1, lines)
        finishes = [ch['finish_reason'] for c in data for ch in c.get('choices', []) if ch.get('finish_reason')]
        self.assertEqual(finishes, ['stop'], lines)
        self.assertTrue(all(ch['index'] == 0 for c in data for ch in c.get('choices', [])))
        return data

    def test_a_cut_stream_continues_on_the_backup_with_an_instruct_prefill(self):
        partial = self.delivered_before_cut(2)
        primary, backup, d = self.two({'cut_after': 2}, 'and the rest of it.')
        resp, raw = stream_raw(d.port)
        lines = events(raw)
        self.assertEqual(resp.status, 200)
        self.assert_one_stream(lines)
        self.assertEqual(text_of(lines), partial + 'and the rest of it.')
        self.assertIn(': detour continued on backup', lines)
        sent = backup.last_request()['body']['messages']
        self.assertEqual(sent[-2], {'role': 'assistant', 'content': partial})
        self.assertEqual(sent[-1]['role'], 'user')
        self.assertIn('Continue it exactly where it stops', sent[-1]['content'])
        self.assertNotIn('continue_final_message', backup.last_request()['body'])

    def test_native_prefill_sends_the_partial_last_as_it_is(self):
        partial = self.delivered_before_cut(3)
        primary, backup, d = self.two({'stream_error_after': 3}, 'tail.',
                                      extra_upstream={'backup': {'prefill': 'native'}})
        _, raw = stream_raw(d.port)
        lines = events(raw)
        self.assert_one_stream(lines)
        self.assertEqual(text_of(lines), partial + 'tail.')
        body = backup.last_request()['body']
        self.assertEqual(body['messages'][-1], {'role': 'assistant', 'content': partial})
        self.assertIs(body['continue_final_message'], True)
        self.assertIs(body['add_generation_prompt'], False)

    def test_an_anthropic_backup_gets_a_native_prefill(self):
        partial = self.delivered_before_cut(2)
        primary, backup, d = self.two({'cut_after': 2}, 'from Claude.', backup_mode='anthropic')
        _, raw = stream_raw(d.port)
        lines = events(raw)
        self.assert_one_stream(lines)
        messages = backup.last_request()['body']['messages']
        self.assertEqual(messages[-1]['role'], 'assistant')
        last = messages[-1]['content']
        last_text = last if isinstance(last, str) else ''.join(b.get('text', '') for b in last)
        self.assertEqual(last_text, partial.rstrip())
        self.assertTrue(text_of(lines).startswith(partial))
        self.assertTrue(text_of(lines).endswith('from Claude.'))

    def test_the_prefill_never_carries_an_upstream_key_to_the_next(self):
        # The primary's words repeat the key detour sends it; the client sees it masked.
        key = 'sk-echoed-secret-0123456789abcdef'
        content = key + ' ' + 'and then a long tail of plain words that the cut leaves mostly unsaid. ' * 3
        primary = self.mock('primary', '--content', content, '--chunks', '6')
        backup = self.mock('backup', '--content', 'the rest.', '--chunks', '2')
        primary.faults(content=content, chunks=6, cut_after=5)
        d = self.detour(config([('primary', primary.url), ('backup', backup.url)],
                               extra_upstream={'primary': {'api_key_env': 'ECHO_KEY'}}), env={'ECHO_KEY': key})
        resp, raw = stream_raw(d.port)
        lines = events(raw)
        self.assertEqual(resp.status, 200)
        self.assertIn(': detour continued on backup', lines)
        sent = backup.last_request()['body']['messages']
        self.assertEqual(sent[-2]['role'], 'assistant')
        self.assertTrue(sent[-2]['content'].startswith('*' * len(key) + ' and then'), sent[-2])
        self.assertNotIn(key[:8], json.dumps(backup.last_request()))
        self.assertNotIn(key[:8], text_of(lines))

    def test_a_stall_continues_after_the_idle_timeout(self):
        partial = self.delivered_before_cut(1)
        primary, backup, d = self.two({'stall_after': 1}, 'after the stall.', idle='400ms')
        _, raw = stream_raw(d.port)
        lines = events(raw)
        self.assert_one_stream(lines)
        self.assertEqual(text_of(lines), partial + 'after the stall.')

    def test_the_overlap_at_the_seam_is_trimmed(self):
        partial = self.delivered_before_cut(2)
        repeated = partial[-8:]
        primary, backup, d = self.two({'cut_after': 2}, repeated + ' then new words.')
        _, raw = stream_raw(d.port)
        lines = events(raw)
        self.assert_one_stream(lines)
        self.assertEqual(text_of(lines), partial + ' then new words.')

    def test_usage_is_the_sum_and_comes_once(self):
        primary, backup, d = self.two({'cut_after': 2}, 'rest.')
        _, raw = stream_raw(d.port, {'stream_options': {'include_usage': True}})
        lines = events(raw)
        data = self.assert_one_stream(lines)
        usages = [c['usage'] for c in data if c.get('usage')]
        self.assertEqual(len(usages), 1, lines)
        # The backup reports its own usage; the primary was cut before reporting any.
        self.assertEqual(usages[0]['total_tokens'], usages[0]['prompt_tokens'] + usages[0]['completion_tokens'])
        self.assertGreater(usages[0]['completion_tokens'], 0)

    def test_the_access_line_and_metrics_say_continued(self):
        primary, backup, d = self.two({'cut_after': 2}, 'rest.')
        stream_raw(d.port)
        metrics = request(d.port, 'GET', '/metrics').text
        self.assertIn('detour_request_ends_total{reason="continued"} 1', metrics)

    def test_continuations_are_counted_by_route_from_to_and_result(self):
        primary = self.mock('primary', '--content', PRIMARY_TEXT, '--chunks', '6')
        backup = self.mock('backup')
        third = self.mock('third', '--content', 'from the third.', '--chunks', '2')
        primary.faults(content=PRIMARY_TEXT, chunks=6, cut_after=2)
        backup.faults(status=500)
        text = config([('primary', primary.url), ('backup', backup.url), ('third', third.url)])
        d = self.detour(text)
        stream_raw(d.port)
        metrics = request(d.port, 'GET', '/metrics').text
        # from names the upstream that broke off: the backup, whose continuation failed before its first delta.
        ok = 'detour_stream_continuations_total{route="*",from="backup",to="third",result="ok"} 1'
        failed = 'detour_stream_continuations_total{route="*",from="primary",to="backup",result="failed"} 1'
        self.assertIn(ok, metrics)
        self.assertIn(failed, metrics)
        self.assertIn('detour_stream_continuations_total{route="*",from="backup",to="third",result="failed"} 0',
                      metrics)
        self.assertNotIn('from="primary",to="third"', metrics)
        self.assertIn('# TYPE detour_stream_continuations_total counter', metrics)
        # Carried over a reload, and summed with what the new workers count.
        self.assertIn('reloaded', d.reload(text))
        self.assertIn(ok, request(d.port, 'GET', '/metrics').text)
        stream_raw(d.port)
        metrics = request(d.port, 'GET', '/metrics').text
        self.assertIn(ok.replace('} 1', '} 2'), metrics)
        self.assertIn(failed.replace('} 1', '} 2'), metrics)

    def test_a_continuation_that_says_nothing_is_counted_failed(self):
        primary, backup, d = self.two({'cut_after': 2}, 'rest.')
        backup.faults(content='backup words here.', chunks=3, cut_after=0)
        _, raw = stream_raw(d.port)
        metrics = request(d.port, 'GET', '/metrics').text
        self.assertIn('detour_stream_continuations_total{route="*",from="primary",to="backup",result="failed"} 1',
                      metrics)
        self.assertIn('detour_stream_continuations_total{route="*",from="primary",to="backup",result="ok"} 0',
                      metrics)

    def test_the_access_line_names_the_upstream_that_finished_the_header_the_first(self):
        primary = self.mock('primary', '--content', PRIMARY_TEXT, '--chunks', '6')
        backup = self.mock('backup', '--content', 'rest.', '--chunks', '3')
        primary.faults(content=PRIMARY_TEXT, chunks=6, cut_after=2)
        d = self.detour(config([('primary', primary.url), ('backup', backup.url)]) + 'log:\n  access: true\n')
        resp, raw = stream_raw(d.port)
        self.assert_one_stream(events(raw))
        self.assertEqual(resp.getheader('x-detour-upstream'), 'primary')
        pattern = re.compile(r'msg="request" .* upstream=(\S+) .* end=(\w+)')
        found = None
        for _ in range(100):
            found = pattern.search(d.output())
            if found:
                break
            time.sleep(0.05)
        self.assertIsNotNone(found, d.output()[-3000:])
        self.assertEqual(found.groups(), ('backup', 'continued'))

    def test_a_continuation_gives_the_retry_budget_back_at_its_first_delta(self):
        """Six streams open at once, each cut on the primary and stalled on the backup after
        its first delta: the budget (20 % of requests in flight, at least 3) lets three
        continuations hold a unit at a time, so all six go on only if each gave its unit back
        at its first delta rather than holding it to its end."""
        # The primary's breaker stays closed, so every stream starts there and is cut.
        never_open = {'primary': {'breaker': '{ failures: 1000, window: 10s, cooldown: 1s, half_open_probes: 1 }'}}
        primary, backup, d = self.two({'cut_after': 1}, 'the backup goes on.', idle='10s',
                                      extra_upstream=never_open)
        backup.faults(content='the backup goes on.', chunks=3, stall_after=1)
        open_streams = []
        try:
            for i in range(6):
                conn = http.client.HTTPConnection('127.0.0.1', d.port, timeout=20)
                payload = {'model': 'gpt-4o', 'stream': True, 'messages': [{'role': 'user', 'content': 'Hi %d' % i}]}
                conn.request('POST', CHAT, body=json.dumps(payload), headers={'Content-Type': 'application/json'})
                resp = conn.getresponse()
                open_streams.append(conn)
                self.assertEqual(resp.status, 200)
                # Read until the backup's first delta (the stream stays open: the backup stalls after it).
                lines, continued = [], False
                while True:
                    raw = resp.readline()
                    self.assertTrue(raw, 'stream %d ended early: %r' % (i, lines))
                    line = raw.decode().rstrip('\n')
                    if not line:
                        continue
                    lines.append(line)
                    self.assertNotIn('"error"', line, (i, lines))
                    self.assertNotEqual(line, 'data: [DONE]', (i, lines))
                    if line == ': detour continued on backup':
                        continued = True
                    elif continued and line.startswith('data: ') and text_of([line]):
                        break
            self.assertEqual(backup.requests(CHAT), 6)
            metrics = request(d.port, 'GET', '/metrics').text
            self.assertIn('detour_retry_budget_refusals_total 0', metrics)
            self.assertIn('detour_stream_continuations_total{route="*",from="primary",to="backup",result="ok"} 6',
                          metrics)
        finally:
            for conn in open_streams:
                conn.close()

    # ---- not continued: the error event, as today ----

    def assert_error_end(self, lines, continued=False):
        self.assertEqual(lines[-1], 'data: [DONE]')
        self.assertIn('error', json.loads(lines[-2][6:]), lines)
        self.assertEqual(': detour continued on backup' in lines, continued)

    def test_no_target_left_ends_with_the_error_event(self):
        primary = self.mock('primary', '--content', PRIMARY_TEXT, '--chunks', '6')
        primary.faults(cut_after=2)
        d = self.detour(config([('primary', primary.url)]))
        _, raw = stream_raw(d.port)
        self.assert_error_end(events(raw))

    def test_n_above_one_is_not_continued(self):
        primary, backup, d = self.two({'cut_after': 2}, 'rest.')
        _, raw = stream_raw(d.port, {'n': 2})
        self.assert_error_end(events(raw))
        self.assertEqual(backup.requests(CHAT), 0)

    def test_a_cut_inside_tool_arguments_is_not_continued(self):
        primary, backup, d = self.two({'cut_after': 1}, 'rest.')
        tools = [{'type': 'function', 'function': {'name': 'weather', 'parameters': {'type': 'object'}}}]
        _, raw = stream_raw(d.port, {'tools': tools})
        self.assert_error_end(events(raw))
        self.assertEqual(backup.requests(CHAT), 0)

    def test_max_continuations_is_kept(self):
        primary, backup, d = self.two({'cut_after': 2}, 'rest.')
        backup.faults(content='backup words here.', chunks=3, cut_after=1)
        _, raw = stream_raw(d.port)
        lines = events(raw)
        self.assert_error_end(lines, continued=True)
        self.assertEqual(backup.requests(CHAT), 1)

    def test_a_continuation_that_fails_before_its_first_delta_tries_the_next(self):
        primary = self.mock('primary', '--content', PRIMARY_TEXT, '--chunks', '6')
        backup = self.mock('backup')
        third = self.mock('third', '--content', 'from the third.', '--chunks', '2')
        primary.faults(content=PRIMARY_TEXT, chunks=6, cut_after=2)
        backup.faults(status=500)
        d = self.detour(config([('primary', primary.url), ('backup', backup.url), ('third', third.url)]))
        _, raw = stream_raw(d.port)
        lines = events(raw)
        self.assert_one_stream(lines)
        self.assertTrue(text_of(lines).endswith('from the third.'))
        self.assertIn(': detour continued on third', lines)

    def test_a_route_can_turn_it_off(self):
        primary, backup, d = self.two({'cut_after': 2}, 'rest.', route_streams='{ on_cut: error }')
        _, raw = stream_raw(d.port)
        self.assert_error_end(events(raw))

    def test_on_cut_error_is_byte_for_byte_todays_stream(self):
        """The same cut with on_cut: error and with no streams section: the same bytes but for ids and times."""
        outs = []
        for streams in (None, '{ on_cut: error }'):
            primary = self.mock('p', '--content', PRIMARY_TEXT, '--chunks', '6')
            backup = self.mock('b')
            primary.faults(content=PRIMARY_TEXT, chunks=6, cut_after=2)
            d = self.detour(config([('primary', primary.url), ('backup', backup.url)], streams=streams))
            _, raw = stream_raw(d.port)
            outs.append(raw)
        self.assertEqual(outs[0], outs[1])


if __name__ == '__main__':
    unittest.main()
