"""test_frontdoor.py — the front door holds: a full connection limit recovers, slow or greedy clients
cannot hold connections, framing is strict, paths are what they say, logs cannot be forged, and
status pages can be closed."""
import json
import socket
import time
import unittest

from harness import BUILD, DetourTestCase, Process, free_port, request, upstream_yaml, wait_for_port

CHAT = '/v1/chat/completions'


def models_yaml(up):
    return 'upstreams:\n' + upstream_yaml('up', up.url) + 'models:\n  gpt-4o:\n    targets: [ { upstream: up } ]\n'


def raw(port, data, timeout=10.0, shut=False):
    """Sends data on a fresh connection and returns every byte the server sends until it closes."""
    with socket.create_connection(('127.0.0.1', port), timeout=timeout) as s:
        s.sendall(data)
        if shut:
            s.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b''.join(chunks)


def wait_closed(s, timeout):
    """True when the peer closes s within timeout (it sends nothing meanwhile)."""
    s.settimeout(timeout)
    try:
        while True:
            data = s.recv(4096)
            if not data:
                return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


class ConnectionLimitTest(DetourTestCase):

    def test_full_connection_limit_recovers_once_idle_connections_are_closed(self):
        up = self.mock('up')
        d = self.detour('server:\n  workers: 1\n  max_connections: 2\n  client_timeout: 1s\n' + models_yaml(up))
        idle = [socket.create_connection(('127.0.0.1', d.port), timeout=10) for _ in range(2)]
        try:
            # detour closes both idle connections (client_timeout); the worker was at its limit.
            for s in idle:
                self.assertTrue(wait_closed(s, 10), 'an idle connection was never closed')
        finally:
            for s in idle:
                s.close()
        r = d.request('GET', '/health/live', timeout=8)
        self.assertEqual(r.status, 200, r)
        r = d.chat(timeout=8)
        self.assertEqual(r.status, 200, r)
        self.assertIn('at its connection limit', d.output())
        # Rate-limited: one warning, not one per refused connection.
        self.assertEqual(d.output().count('at its connection limit'), 1, d.output())


class StatusAccessTest(DetourTestCase):

    ADMIN = 'admin-token-for-status'

    def start(self, status):
        import os
        import tempfile
        up = self.mock('up')
        keys = tempfile.NamedTemporaryFile('w', delete=False)
        keys.write('client-key-one\n')
        keys.close()
        self.addCleanup(os.unlink, keys.name)
        return self.detour('auth:\n  client_keys_file: %s\n  admin_token_env: DETOUR_TEST_ADMIN\n'
                           '  status: %s\n' % (keys.name, status) + models_yaml(up),
                           env={'DETOUR_TEST_ADMIN': self.ADMIN})

    def assertRefused(self, r):
        self.assertEqual(r.status, 401, r)
        self.assertEqual(r.headers.get('www-authenticate'), 'Bearer')
        err = r.json()['error']
        self.assertEqual(err['type'], 'invalid_request_error')
        self.assertNotIn('circuits', r.text.replace('/circuits', ''))

    def test_status_client_needs_a_client_key_or_the_admin_token(self):
        d = self.start('client')
        for path in ('/circuits', '/metrics'):
            self.assertRefused(d.request('GET', path))
            self.assertRefused(d.request('GET', path, headers={'Authorization': 'Bearer wrong'}))
            r = d.request('GET', path, headers={'Authorization': 'Bearer client-key-one'})
            self.assertEqual(r.status, 200, r)
            r = d.request('GET', path, headers={'Authorization': 'Bearer ' + self.ADMIN})
            self.assertEqual(r.status, 200, r)
        self.assertEqual(d.request('GET', '/health').status, 200)
        self.assertEqual(d.request('GET', '/health/live').status, 200)

    def test_status_admin_needs_the_admin_token(self):
        d = self.start('admin')
        for path in ('/circuits', '/metrics'):
            self.assertRefused(d.request('GET', path))
            self.assertRefused(d.request('GET', path, headers={'Authorization': 'Bearer client-key-one'}))
            r = d.request('GET', path, headers={'Authorization': 'Bearer ' + self.ADMIN})
            self.assertEqual(r.status, 200, r)
        self.assertIn('"circuits"', d.request('GET', '/circuits', headers={'Authorization': 'Bearer ' + self.ADMIN}).text)
        self.assertEqual(d.request('GET', '/health').status, 200)
        self.assertEqual(d.request('GET', '/health/live').status, 200)

    def test_status_open_is_the_default(self):
        d = self.start('open')
        self.assertEqual(d.request('GET', '/circuits').status, 200)
        self.assertEqual(d.request('GET', '/metrics').status, 200)


class LogForgeryTest(DetourTestCase):

    def test_cr_lf_from_a_path_or_a_model_name_cannot_start_a_log_line(self):
        d = self.detour('server:\n  workers: 1\nlog:\n  access: true\nupstreams:\n' +
                        upstream_yaml('up', 'http://127.0.0.1:1/v1') +
                        'models:\n  "*":\n    targets: [ { upstream: up } ]\n')
        raw(d.port, b'GET /nowhere%0d%0a2026-01-01T00:00:00Z error FORGED-PATH HTTP/1.1\r\n'
                    b'Host: x\r\nConnection: close\r\n\r\n')
        r = d.chat(model='m\r\n2026-01-01T00:00:00Z error FORGED-MODEL')
        self.assertNotEqual(r.status, 200, r)
        d.request('GET', '/health/live')   # a last line, so the ones before are written
        out = d.output()
        lines = out.splitlines()
        self.assertTrue(any('FORGED-MODEL' in l for l in lines), out)
        for line in lines:
            self.assertFalse(line.startswith('2026-01-01T00:00:00Z'), out)
        self.assertNotIn('\r', out)


class ParserRefusalTest(DetourTestCase):
    """A head libmicrohttpd answers itself (past its memory, a syntax error) never reaches
    detour's handler: it is still counted and logged, so an operator sees it."""

    def test_a_head_too_big_for_the_parser_is_counted_and_logged(self):
        up = self.mock('up')
        d = self.detour('server:\n  workers: 1\nlog:\n  access: true\nupstreams:\n' + upstream_yaml('up', up.url) +
                        'models:\n  "*":\n    targets: [ { upstream: up } ]\n')
        out = raw(d.port, b'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-Big: ' + b'a' * 20000 +
                  b'\r\nContent-Length: 2\r\n\r\n{}')
        self.assertTrue(out.startswith(b'HTTP/1.1 431 '), out[:200])
        out = raw(d.port, b'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n')
        self.assertTrue(out.startswith(b'HTTP/1.1 400 '), out[:200])
        self.assertEqual(up.requests(), 0)
        text = d.request('GET', '/metrics').text
        self.assertIn('detour_requests_total{endpoint="other",code="431"} 1', text)
        self.assertIn('detour_requests_total{endpoint="other",code="400"} 1', text)
        lines = [l for l in d.output().splitlines() if 'msg="request"' in l and 'by=libmicrohttpd' in l]
        self.assertEqual(len(lines), 2, d.output()[-3000:])
        self.assertIn('status=431', lines[0])
        self.assertIn('end=refused', lines[0])
        self.assertIn('error="Request too big"', lines[0])
        self.assertIn('status=400', lines[1])


class FramingTest(DetourTestCase):
    """RFC 9112: a head that could be read two ways is refused with one 400, and the connection closed."""

    def setUp(self):
        super().setUp()
        self.up = self.mock('up')
        self.d = self.detour('server:\n  workers: 1\n  client_timeout: 20s\n' + models_yaml(self.up))

    def refused(self, head, body=b'', json_body=True):
        started = time.monotonic()
        out = raw(self.d.port, head + body, timeout=15)
        self.assertTrue(out.startswith(b'HTTP/1.1 400 '), out)
        self.assertEqual(out.count(b'HTTP/1.1 4'), 1, out)
        # Answered at once: not after client_timeout (20 s) waiting for a body.
        self.assertLess(time.monotonic() - started, 10, out)
        if json_body:
            text = out.split(b'\r\n\r\n', 1)[1]
            err = json.loads(text)['error']
            self.assertEqual(err['type'], 'invalid_request_error')
        self.assertEqual(self.up.requests(), 0)
        self.assertEqual(self.d.chat().status, 200)
        return out

    BODY = b'{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}'

    def test_two_different_content_lengths_are_refused(self):
        self.refused(b'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n'
                     b'Content-Length: %d\r\nContent-Length: 5\r\n\r\n' % len(self.BODY), self.BODY)

    def test_content_length_with_transfer_encoding_is_refused(self):
        chunked = b'%x\r\n%s\r\n0\r\n\r\n' % (len(self.BODY), self.BODY)
        self.refused(b'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n'
                     b'Content-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n' % len(chunked), chunked)

    def test_white_space_before_a_header_colon_is_refused(self):
        self.refused(b'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n'
                     b'Content-Length : %d\r\n\r\n' % len(self.BODY), self.BODY)

    def test_a_bare_cr_in_a_header_is_refused(self):
        self.refused(b'GET /v1/models HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n', json_body=False)

    def test_http11_without_host_is_refused(self):
        self.refused(b'GET /v1/models HTTP/1.1\r\nAccept: */*\r\n\r\n')

    def test_unknown_transfer_coding_is_refused_at_once(self):
        self.refused(b'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n'
                     b'Transfer-Encoding: gzip\r\n\r\n', self.BODY)

    # libmicrohttpd 0.9.75 (and 0.9.76) answers a Content-Length that is not a number
    # itself, from parse_connection_headers, then overwrites the connection's state and
    # builds the reply header a second time: two status lines. No callback runs in
    # between, so detour cannot stop it; a newer libmicrohttpd makes this pass.
    @unittest.expectedFailure
    def test_malformed_content_length_gets_one_status_line(self):
        self.refused(b'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n'
                     b'Content-Length: 12abc\r\n\r\n', self.BODY, json_body=False)


class PathTest(DetourTestCase):

    ADMIN = 'admin-token-for-paths'

    def setUp(self):
        super().setUp()
        self.up = self.mock('up')
        self.d = self.detour('auth:\n  admin_token_env: DETOUR_TEST_ADMIN\nupstreams:\n' +
                             upstream_yaml('oa', self.up.url) +
                             'models:\n  gpt-4o:\n    targets: [ { upstream: oa } ]\n',
                             env={'DETOUR_TEST_ADMIN': self.ADMIN})

    def test_a_percent_encoded_nul_does_not_cut_an_upstream_name(self):
        r = self.d.request('POST', '/admin/circuits/oa%00x', {'state': 'open'},
                           {'Authorization': 'Bearer ' + self.ADMIN})
        self.assertEqual(r.status, 404, r)
        self.assertEqual(r.json()['error']['code'], 'upstream_not_found')
        self.assertEqual(self.d.request('GET', '/circuits').json()['circuits']['oa']['mode'], 'auto')

    def test_a_percent_encoded_slash_is_not_a_slash(self):
        r = self.d.request('GET', '/health%2flive')
        self.assertEqual(r.status, 404, r)
        self.assertEqual(r.json()['error']['code'], 'unknown_url')
        self.assertEqual(self.d.request('GET', '/health/live').status, 200)

    def test_bytes_that_are_not_utf8_never_reach_a_json_body_raw(self):
        for path in ('/nowhere%ff%fe', '/nowhere\xff'):
            out = raw(self.d.port, b'GET ' + path.encode('latin-1') + b' HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
            self.assertTrue(out.startswith(b'HTTP/1.1 404 '), out)
            body = out.split(b'\r\n\r\n', 1)[1]
            err = json.loads(body.decode('utf-8'))['error']   # strict UTF-8: raises on a raw 0xff
            self.assertEqual(err['code'], 'unknown_url')
            self.assertIn('/nowhere', err['message'])


class SlowClientTest(DetourTestCase):

    def test_a_head_trickled_a_byte_a_second_is_closed_by_header_timeout(self):
        up = self.mock('up')
        d = self.detour('server:\n  workers: 1\n  header_timeout: 2s\n  client_timeout: 30s\n' + models_yaml(up))
        head = b'GET /health/live HTTP/1.1\r\nHost: x\r\nX-Slow: ' + b'a' * 20
        s = socket.create_connection(('127.0.0.1', d.port), timeout=10)
        closed = False
        try:
            for i in range(len(head)):
                try:
                    s.sendall(head[i:i + 1])
                except OSError:
                    closed = True
                    break
                # Another client is served while the slow one trickles.
                if i == 1:
                    self.assertEqual(d.request('GET', '/health/live', timeout=5).status, 200)
                if wait_closed(s, 1.0):
                    closed = True
                    break
        finally:
            s.close()
        # ~65 bytes at one a second outlast header_timeout (2 s); client_timeout (30 s) never sees silence.
        self.assertTrue(closed, 'the trickling client was never closed')
        self.assertIn('header_timeout', d.output())
        self.assertEqual(d.request('GET', '/health/live').status, 200)


class PerAddressCapTest(DetourTestCase):

    def test_one_address_gets_at_most_max_connections_per_ip_across_workers(self):
        import select
        up = self.mock('up')
        d = self.detour('server:\n  workers: 2\n  max_connections_per_ip: 2\n  header_timeout: 20s\n' +
                        models_yaml(up))
        # A connection the harness or a retry just closed may still be counted for an instant.
        for attempt in range(20):
            conns = [socket.create_connection(('127.0.0.1', d.port), timeout=10) for _ in range(3)]
            # At least one of the three is closed at once, without an answer.
            readable, _, _ = select.select(conns, [], [], 8)
            self.assertGreaterEqual(len(readable), 1, 'no connection over the cap was refused')
            # A second refusal (a count still held by the last round's connections) may follow
            # the first by a moment: look again before taking the other two as kept.
            time.sleep(0.3)
            readable, _, _ = select.select(conns, [], [], 0)
            if len(readable) == 1:
                break
            for c in conns:
                c.close()
            time.sleep(0.2)
        try:
            self.assertEqual(len(readable), 1, readable)
            refused = readable[0]
            self.assertEqual(refused.recv(100), b'')
            kept = [c for c in conns if c is not refused]
            for c in kept:
                c.sendall(b'GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n')
                self.assertTrue(c.recv(4096).startswith(b'HTTP/1.1 200 '))
            # The count is given back when a connection closes.
            kept[0].close()
            for _ in range(50):
                try:
                    r = d.request('GET', '/health/live', timeout=5)
                    break
                except (ConnectionError, OSError):
                    time.sleep(0.1)
            self.assertEqual(r.status, 200)
        finally:
            for c in conns:
                c.close()


class OutOfDescriptorsTest(DetourTestCase):

    def test_accepting_resumes_after_emfile_once_connections_close(self):
        import os
        import tempfile
        up = self.mock('up')
        port = free_port()
        conf = tempfile.NamedTemporaryFile('w', suffix='.yaml', delete=False)
        conf.write('server:\n  listen: 127.0.0.1:%d\n  workers: 1\n  client_timeout: 1s\n' % port + models_yaml(up))
        conf.close()
        self.addCleanup(os.unlink, conf.name)
        # detourd raises its soft limit to the hard one: both are 48.
        d = Process(['prlimit', '--nofile=48:48', os.path.join(BUILD, 'detourd'),
                     '-c', conf.name], 'detourd')
        self._processes.append(d)
        wait_for_port(port, d.proc, 'detourd')
        idle = []
        try:
            for _ in range(60):
                idle.append(socket.create_connection(('127.0.0.1', port), timeout=10))
            # Those accepted are closed by client_timeout; the rest wait in the backlog or are dropped.
            for s in idle:
                wait_closed(s, 5)
        finally:
            for s in idle:
                s.close()
        r = None
        for _ in range(3):
            try:
                r = request(port, 'GET', '/health/live', timeout=8)
                break
            except OSError:
                pass
        self.assertIsNotNone(r, 'detourd never accepted again after running out of descriptors')
        self.assertEqual(r.status, 200, r)
        self.assertIn('out of file descriptors', d.output())
