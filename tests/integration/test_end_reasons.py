"""test_end_reasons.py — every request ends with one reason: end=... on its access log line and detour_request_ends_total."""
import http.client
import json
import re
import signal
import socket
import time

from harness import DetourTestCase, dead_url, upstream_yaml

CHAT = '/v1/chat/completions'


class EndReasonTest(DetourTestCase):

    def setUp(self):
        super().setUp()
        self.good = self.mock('good')
        self.rejecting = self.mock('rejecting', '--status', '400')
        self.cutting = self.mock('cutting', '--cut-after', '2', '--chunks', '5')
        self.slow = self.mock('slow', '--chunks', '100', '--chunk-delay', '100ms')
        self.hanging = self.mock('hanging', '--hang')
        self.d = self.detour(
            'server:\n  workers: 2\n  request_timeout: 2s\n'
            'log:\n  access: true\n'
            'upstreams:\n' +
            upstream_yaml('good', self.good.url) +
            upstream_yaml('rejecting', self.rejecting.url) +
            upstream_yaml('dead', dead_url()) +
            upstream_yaml('cutting', self.cutting.url) +
            upstream_yaml('slow', self.slow.url) +
            upstream_yaml('hanging', self.hanging.url) +
            'models:\n'
            '  gpt-4o: { targets: [ { upstream: good } ] }\n'
            '  rejected: { targets: [ { upstream: rejecting } ] }\n'
            '  dead: { targets: [ { upstream: dead } ] }\n'
            '  cut: { targets: [ { upstream: cutting } ] }\n'
            '  slow: { targets: [ { upstream: slow } ] }\n'
            '  stalled: { targets: [ { upstream: hanging } ] }\n')

    def chat(self, request_id, model, **extra):
        return self.d.chat(model=model, headers={'x-request-id': request_id}, **extra)

    def stream(self, request_id, model):
        conn = http.client.HTTPConnection('127.0.0.1', self.d.port, timeout=20)
        body = json.dumps({'model': model, 'stream': True, 'messages': [{'role': 'user', 'content': 'Hi'}]})
        conn.request('POST', CHAT, body=body, headers={'Content-Type': 'application/json', 'x-request-id': request_id})
        return conn, conn.getresponse()

    def end_of(self, request_id, timeout=10.0):
        """The end= word of request_id's access log line (written once the exchange is over)."""
        pattern = re.compile(r'request_id=%s path=\S+ status=\d+ .* end=(\w+)' % re.escape(request_id))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = pattern.search(self.d.output())
            if m:
                return m.group(1)
            time.sleep(0.02)
        self.fail('no access log line for %s:\n%s' % (request_id, self.d.output()[-3000:]))

    def test_each_scenario_logs_its_reason_and_counts_it(self):
        self.assertEqual(self.chat('answered-1', 'gpt-4o').status, 200)
        self.assertEqual(self.chat('passed-1', 'rejected').status, 400)
        self.assertEqual(self.chat('failed-1', 'dead').status, 502)
        self.assertEqual(self.chat('refused-1', 'no-such-model').status, 404)
        self.assertEqual(self.chat('deadline-1', 'stalled').status, 504)
        live = self.d.request('GET', '/health/live', headers={'x-request-id': 'local-1'})
        self.assertEqual(live.status, 200)

        conn, resp = self.stream('cut-1', 'cut')
        self.assertEqual(resp.status, 200)
        self.assertIn('stream_interrupted', resp.read().decode())
        conn.close()

        conn, resp = self.stream('gone-1', 'slow')
        self.assertEqual(resp.status, 200)
        resp.read1(100)                               # mid-stream, then the client leaves
        conn.sock.shutdown(socket.SHUT_RDWR)
        conn.close()

        expected = {
            'answered-1': 'answered',
            'passed-1': 'passed_through',
            'failed-1': 'all_failed',
            'refused-1': 'refused',
            'deadline-1': 'deadline',
            'local-1': 'local',
            'cut-1': 'stream_cut',
            'gone-1': 'client_gone',
        }
        for request_id, reason in expected.items():
            self.assertEqual(self.end_of(request_id), reason, request_id)

        text = self.d.request('GET', '/metrics').text
        self.assertIn('# TYPE detour_request_ends_total counter\n', text)
        for reason in ('answered', 'passed_through', 'all_failed', 'refused', 'deadline', 'local', 'stream_cut',
                       'client_gone'):
            self.assertIn('detour_request_ends_total{reason="%s"} 1\n' % reason, text)
        self.assertIn('detour_request_ends_total{reason="shutdown"} 0\n', text)



class ShutdownEndTest(DetourTestCase):

    def test_a_stream_open_past_the_drain_timeout_ends_as_shutdown(self):
        up = self.mock('up', '--chunks', '50', '--chunk-delay', '200ms')
        d = self.detour('server:\n  workers: 1\n  request_timeout: 30s\n  drain_timeout: 500ms\n'
                        'log:\n  access: true\n'
                        'upstreams:\n' + upstream_yaml('up', up.url) +
                        'models:\n  "*": { targets: [ { upstream: up } ] }\n')
        conn = http.client.HTTPConnection('127.0.0.1', d.port, timeout=20)
        body = json.dumps({'model': 'gpt-4o', 'stream': True, 'messages': [{'role': 'user', 'content': 'Hi'}]})
        conn.request('POST', CHAT, body=body, headers={'Content-Type': 'application/json', 'x-request-id': 'drained-1'})
        resp = conn.getresponse()
        self.assertEqual(resp.status, 200)
        resp.read1(100)
        d.proc.send_signal(signal.SIGTERM)
        self.assertIn('shutting_down', resp.read().decode())
        conn.close()
        d.proc.wait(timeout=10)
        self.assertEqual(d.proc.returncode, 0)
        self.assertRegex(d.output(), r'request_id=drained-1 path=\S+ status=200 .* end=shutdown')
