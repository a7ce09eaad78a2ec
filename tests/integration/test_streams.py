"""test_streams.py — SSE pass-through: the commit point, errors after it, backpressure, disconnects, heartbeats, shutdown."""
import concurrent.futures
import http.client
import json
import os
import resource
import signal
import socket
import sys
import time
import unittest

from harness import SANITIZED, DetourTestCase, upstream_yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'bench'))
import streams as bench_streams  # noqa: E402  (the benchmark's asyncio SSE client)

CHAT = '/v1/chat/completions'


def config(primary_url, backup_url=None, primary=None, server_extra='', workers=2):
    text = 'server:\n  workers: %d\n  request_timeout: 20s\n' % workers + server_extra
    text += 'upstreams:\n' + upstream_yaml('primary', primary_url, **(primary or {}))
    targets = '{ upstream: primary }'
    if backup_url:
        text += upstream_yaml('backup', backup_url)
        targets += ', { upstream: backup }'
    return text + 'models:\n  "*":\n    targets: [ %s ]\n' % targets


def stream_request(port, model='gpt-4o', timeout=20, headers=None):
    """Opens a streaming chat completion; returns (connection, response)."""
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=timeout)
    body = json.dumps({'model': model, 'stream': True, 'messages': [{'role': 'user', 'content': 'Hi'}]})
    conn.request('POST', CHAT, body=body, headers=dict({'Content-Type': 'application/json'}, **(headers or {})))
    return conn, conn.getresponse()


def read_events(resp):
    """Every SSE line of a response, comments included, until it ends."""
    lines = []
    for raw in resp.read().decode('utf-8').split('\n'):
        if raw:
            lines.append(raw)
    return lines


def text_of(lines):
    out = ''
    for line in lines:
        if line.startswith('data: ') and line != 'data: [DONE]':
            chunk = json.loads(line[6:])
            for choice in chunk.get('choices', []):
                out += choice.get('delta', {}).get('content') or ''
    return out


def rss_kib(pid):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    return 0


def open_fds(pid):
    return len(os.listdir('/proc/%d/fd' % pid))


class StreamTest(DetourTestCase):

    def test_stream_passes_through_with_its_headers(self):
        up = self.mock('primary', '--chunks', '4')
        d = self.detour(config(up.url))
        conn, resp = stream_request(d.port)
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.getheader('content-type'), 'text/event-stream')
        self.assertEqual(resp.getheader('cache-control'), 'no-cache')
        self.assertEqual(resp.getheader('x-detour-upstream'), 'primary')
        self.assertEqual(resp.getheader('x-detour-attempts'), '1')
        self.assertTrue(resp.getheader('x-request-id'))
        lines = read_events(resp)
        conn.close()
        self.assertEqual(lines[-1], 'data: [DONE]')
        self.assertEqual(text_of(lines), 'Hello from primary.')

    def test_a_stream_with_12_kb_of_request_headers_is_answered_with_the_upstream_headers(self):
        # A connection's memory is sized for a stream, not for the largest head: 12 KB of
        # headers must still fit, and the answer headers kept from the upstream still pass.
        up = self.mock('primary', '--chunks', '4', '--header', 'x-ratelimit-remaining-requests: 499',
                       '--header', 'openai-version: 2020-10-01')
        d = self.detour(config(up.url))
        conn, resp = stream_request(d.port, headers={'X-Trace': 't' * 6000, 'X-Baggage': 'b' * 6000})
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.getheader('x-ratelimit-remaining-requests'), '499')
        self.assertEqual(resp.getheader('openai-version'), '2020-10-01')
        lines = read_events(resp)
        conn.close()
        self.assertEqual(lines[-1], 'data: [DONE]')
        self.assertEqual(text_of(lines), 'Hello from primary.')

    def test_failures_before_the_first_content_chunk_fall_over_invisibly(self):
        for fault in (['--status', '503'], ['--cut-after', '0'], ['--stream-error-after', '0'], ['--malformed'],
                      ['--reset']):
            with self.subTest(fault=fault):
                primary = self.mock('primary', *fault)
                backup = self.mock('backup')
                d = self.detour(config(primary.url, backup.url))
                conn, resp = stream_request(d.port)
                self.assertEqual(resp.status, 200)
                self.assertEqual(resp.getheader('x-detour-upstream'), 'backup')
                lines = read_events(resp)
                conn.close()
                self.assertEqual(text_of(lines), 'Hello from backup.')
                self.assertNotIn('error', ''.join(lines))
                self.assertEqual(primary.requests(CHAT), 1)

    def test_stall_before_first_byte_falls_over_after_first_byte_timeout(self):
        primary = self.mock('primary', '--latency', '3s')
        backup = self.mock('backup')
        d = self.detour(config(primary.url, backup.url, primary={
            'timeouts': '{ connect: 500ms, first_byte: 400ms, idle: 3s, total: 10s }'}))
        started = time.monotonic()
        conn, resp = stream_request(d.port)
        lines = read_events(resp)
        conn.close()
        self.assertGreaterEqual(time.monotonic() - started, 0.35)
        self.assertEqual(resp.getheader('x-detour-upstream'), 'backup')
        self.assertEqual(text_of(lines), 'Hello from backup.')

    def test_cut_after_the_commit_point_ends_with_an_error_event_and_done(self):
        primary = self.mock('primary', '--cut-after', '2', '--chunks', '5')
        backup = self.mock('backup')
        d = self.detour(config(primary.url, backup.url))
        conn, resp = stream_request(d.port)
        self.assertEqual(resp.getheader('x-detour-upstream'), 'primary')
        lines = read_events(resp)
        conn.close()
        errors = [json.loads(l[6:]) for l in lines if l.startswith('data: {"error"')]
        self.assertEqual(len(errors), 1, lines)
        self.assertEqual(errors[0]['error']['code'], 'stream_interrupted')
        self.assertEqual(errors[0]['error']['upstream'], 'primary')
        self.assertEqual(lines[-1], 'data: [DONE]')
        self.assertEqual(backup.requests(), 0)         # no second answer spliced into the first
        c = d.request('GET', '/circuits').json()['circuits']['primary']
        self.assertEqual(c['failures_in_window'], 1)   # it counts against the breaker

    def test_an_upstream_that_echoes_its_key_never_gets_it_past_detour(self):
        # The mock puts its name in its error texts; here its name is the key detour sends it.
        key = 'sk-echoed-secret-0123456789abcdef'
        primary = self.mock(key, '--stream-error-after', '2')
        d = self.detour(config(primary.url, primary={'api_key_env': 'ECHO_KEY'}), env={'ECHO_KEY': key})
        conn, resp = stream_request(d.port)
        lines = read_events(resp)
        conn.close()
        errors = [l for l in lines if l.startswith('data: {"error"')]
        self.assertEqual(len(errors), 1, lines)
        self.assertIn('injected stream error', errors[0])     # the upstream's words do come through
        primary.faults(stream_error_after=0)                      # before the commit: in the 502's attempts
        conn, resp = stream_request(d.port)
        body = resp.read().decode()
        conn.close()
        self.assertEqual(resp.status, 502, body)
        self.assertIn('injected stream error', body)
        primary.faults(status=503)                                # a whole error answer
        r = d.chat()
        self.assertEqual(r.status, 502, r)
        self.assertIn('injected status 503', r.text)
        circuits = d.request('GET', '/circuits').text
        for text in (errors[0], body, r.text, circuits, d.output()):
            self.assertNotIn(key[:8], text)

    def test_an_answer_passed_through_never_carries_the_upstream_key(self):
        key = 'sk-echoed-secret-0123456789abcdef'
        primary = self.mock(key, '--status', '400')               # a 400 is the client's: passed through
        d = self.detour(config(primary.url, primary={'api_key_env': 'ECHO_KEY'}), env={'ECHO_KEY': key})
        r = d.chat()
        self.assertEqual(r.status, 400, r)
        self.assertIn('injected status 400', r.text)               # the upstream's words do come through
        self.assertNotIn(key[:8], r.text)

    def test_stall_after_the_commit_point_ends_at_the_idle_timeout(self):
        primary = self.mock('primary', '--stall-after', '2')
        d = self.detour(config(primary.url, primary={
            'timeouts': '{ connect: 500ms, first_byte: 2s, idle: 500ms, total: 20s }'}))
        started = time.monotonic()
        conn, resp = stream_request(d.port)
        lines = read_events(resp)
        conn.close()
        self.assertLess(time.monotonic() - started, 8)
        self.assertIn('stream_interrupted', lines[-2])
        self.assertEqual(lines[-1], 'data: [DONE]')

    def test_malformed_chunk_after_the_commit_point_is_reported(self):
        primary = self.mock('primary', '--chunks', '4')
        d = self.detour(config(primary.url))
        primary.faults(stream_error_after=2)
        conn, resp = stream_request(d.port)
        lines = read_events(resp)
        conn.close()
        self.assertEqual(text_of(lines)[:3], 'Hel')
        self.assertIn('"code":"stream_interrupted"', lines[-2])
        self.assertEqual(lines[-1], 'data: [DONE]')

    def test_200_concurrent_streams_each_get_their_own_text(self):
        up = self.mock('up', '--chunks', '6', '--chunk-delay', '10ms')
        d = self.detour(config(up.url))

        def one(i):
            conn, resp = stream_request(d.port, model='model-%d' % i, timeout=60)
            lines = read_events(resp)
            conn.close()
            models = {json.loads(l[6:])['model'] for l in lines if l.startswith('data: {')}
            return resp.status, text_of(lines), models, lines[-1]

        with concurrent.futures.ThreadPoolExecutor(max_workers=200) as pool:
            results = list(pool.map(one, range(200)))
        for i, (status, text, models, last) in enumerate(results):
            self.assertEqual(status, 200)
            self.assertEqual(text, 'Hello from up.')
            self.assertEqual(models, {'model-%d' % i})
            self.assertEqual(last, 'data: [DONE]')

    def one_worker_for_many_streams(self, chunk_delay, extra=''):
        """A one-worker detourd in front of a mock streaming 4 chunks chunk_delay apart, with this
        process's descriptor limit raised for thousands of streams (the test skipped without it)."""
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard < 4096:
            self.skipTest('needs 4096 file descriptors')
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        up = self.mock('up', '--chunks', '4', '--chunk-delay', chunk_delay)
        return self.detour(config(up.url, workers=1,
                                  primary={'timeouts': '{ connect: 5s, first_byte: 60s, idle: 60s, total: 120s }'})
                           + extra)

    def test_more_streams_than_a_worker_keeps_spare_then_a_clean_exit(self):
        # One worker keeps at most 1,024 spare exchanges and 256 spare transfers; 1,100 streams
        # at once make it free the rest, and the exit afterwards must still be clean (the
        # harness checks the exit status, and ASan's report under make check).
        d = self.one_worker_for_many_streams('200ms')
        ok, failed, _ = bench_streams.run_concurrent(d.port, 1100)
        self.assertEqual((ok, failed), (1100, 0))
        ok, failed, _ = bench_streams.run_concurrent(d.port, 300)
        self.assertEqual((ok, failed), (300, 0))

    def test_the_memory_a_burst_of_streams_held_is_given_back_after_it(self):
        # One worker, 800 streams at once, then nothing: the worker must still give the burst's
        # heap back (a trim from a timer a little after the burst ends, once libmicrohttpd has
        # freed the connections' pools). Without it RSS stays at the burst's peak for good.
        if SANITIZED:
            self.skipTest("ASan's allocator keeps freed memory in its quarantine")
        d = self.one_worker_for_many_streams('300ms', 'degradation:\n  cache: { entries: 0 }\n')
        pid = d.proc.pid
        self.assertEqual(bench_streams.run_concurrent(d.port, 10)[:2], (10, 0))
        time.sleep(0.5)
        before = rss_kib(pid)
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            burst = pool.submit(bench_streams.run_concurrent, d.port, 800)
            peak = before
            while not burst.done():
                peak = max(peak, rss_kib(pid))
                time.sleep(0.05)
            self.assertEqual(burst.result()[:2], (800, 0))
        self.assertGreater(peak - before, 8 * 1024, 'the burst should have grown RSS past 8 MiB')
        deadline = time.monotonic() + 5
        while rss_kib(pid) - before > (peak - before) / 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        after = rss_kib(pid)
        self.assertLess(after - before, (peak - before) / 2,
                        'RSS %d KiB before, %d KiB at the peak, %d KiB after' % (before, peak, after))

    def test_heartbeats_cover_long_silences(self):
        up = self.mock('up', '--chunks', '3', '--chunk-delay', '900ms')
        d = self.detour(config(up.url, server_extra='  sse_heartbeat: 200ms\n'))
        conn, resp = stream_request(d.port)
        lines = read_events(resp)
        conn.close()
        self.assertGreaterEqual(lines.count(': keep-alive'), 2)
        self.assertEqual(text_of(lines), 'Hello from up.')

    @unittest.skipIf(SANITIZED, 'RSS under ASan measures the sanitizer; the plain build runs this')
    def test_slow_reader_keeps_detour_memory_bounded(self):
        # Twelve clients, each owed 1 MiB that the mock sends as fast as it can; each reads
        # one byte a second. Without backpressure detour would hold most of the 12 MiB.
        up = self.mock('up')
        up.faults(content='x' * (1024 * 1024 - 1), chunks=256, chunk_delay_ms=0)
        # The cache's copy of an answer has its own bound (a shard's budget); this is about the relay.
        d = self.detour(config(up.url) + 'degradation:\n  cache: { entries: 0 }\n')
        pid = d.proc.pid
        self.assertEqual(d.chat().status, 200)
        before = rss_kib(pid)
        body = json.dumps({'model': 'm', 'stream': True, 'messages': [{'role': 'user', 'content': 'Hi'}]})
        clients = []
        for _ in range(12):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.connect(('127.0.0.1', d.port))
            s.sendall(('POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n'
                       'Content-Length: %d\r\n\r\n%s' % (CHAT, len(body), body)).encode())
            clients.append(s)
        peak = before
        try:
            for _ in range(6):
                for s in clients:
                    self.assertEqual(len(s.recv(1)), 1)
                peak = max(peak, rss_kib(pid))
                time.sleep(1)
        finally:
            for s in clients:
                s.close()
        self.assertLess(peak - before, 6 * 1024, 'RSS grew from %d KiB to %d KiB' % (before, peak))

    def test_client_disconnect_cancels_the_upstream_and_frees_everything(self):
        up = self.mock('up', '--chunks', '100', '--chunk-delay', '100ms')
        d = self.detour(config(up.url))
        pid = d.proc.pid
        self.assertEqual(d.chat().status, 200)       # warm up: pools and spare buffers exist
        fds_before = open_fds(pid)
        rss_before = rss_kib(pid)
        for _ in range(5):
            conn, resp = stream_request(d.port)
            self.assertEqual(resp.status, 200)
            resp.read1(100)                           # mid-stream
            # Aborted, not connections_closed: every stats() call is a connection the mock closes.
            aborted_before = up.stats()['aborted']
            left_at = time.monotonic()
            conn.sock.shutdown(socket.SHUT_RDWR)
            conn.close()
            # The mock sees detour's upstream call end unfinished within a second.
            deadline = time.monotonic() + 1.0
            while up.stats()['aborted'] <= aborted_before and time.monotonic() < deadline:
                time.sleep(0.02)
            self.assertGreater(up.stats()['aborted'], aborted_before)
            self.assertLess(time.monotonic() - left_at, 1.0)
        time.sleep(0.3)
        self.assertLessEqual(open_fds(pid), fds_before)
        if not SANITIZED:
            self.assertLess(rss_kib(pid) - rss_before, 2048)

    def test_a_client_that_leaves_a_silent_stream_is_seen_before_the_next_event(self):
        # Between two events libmicrohttpd neither reads nor writes the client's socket: only
        # detour's watch of it (from 100 ms into the exchange) sees the client go, long before
        # the next event would fail to send.
        up = self.mock('up', '--chunks', '5', '--chunk-delay', '0', '--stall-after', '1')
        d = self.detour(config(up.url, primary={'timeouts': '{ connect: 500ms, first_byte: 10s, idle: 10s, total: 20s }'}))
        conn, resp = stream_request(d.port)
        self.assertEqual(resp.status, 200)
        resp.read1(100)                               # the first event: committed, then silence
        time.sleep(0.3)
        aborted_before = up.stats()['aborted']
        left_at = time.monotonic()
        conn.sock.shutdown(socket.SHUT_RDWR)
        conn.close()
        deadline = left_at + 2.0
        while up.stats()['aborted'] <= aborted_before and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertGreater(up.stats()['aborted'], aborted_before,
                           'the upstream call was not stopped while the stream was silent')

    def test_shutdown_ends_open_streams_cleanly(self):
        up = self.mock('up', '--chunks', '50', '--chunk-delay', '200ms')
        d = self.detour(config(up.url, server_extra='  drain_timeout: 500ms\n'))
        conn, resp = stream_request(d.port)
        self.assertEqual(resp.status, 200)
        resp.read1(100)
        d.proc.send_signal(signal.SIGTERM)
        lines = read_events(resp)
        conn.close()
        self.assertIn('"code":"shutting_down"', lines[-2])
        self.assertEqual(lines[-1], 'data: [DONE]')
        d.proc.wait(timeout=10)
        self.assertEqual(d.proc.returncode, 0)
