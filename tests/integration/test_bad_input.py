"""test_bad_input.py — every wrong input gets a clear OpenAI-shaped error, and the daemon goes on serving."""
import socket

from harness import DetourTestCase, upstream_yaml

CHAT = '/v1/chat/completions'


class BadInputTest(DetourTestCase):

    def setUp(self):
        super().setUp()
        self.up = self.mock('up')
        self.d = self.detour('server:\n  workers: 2\n  max_body: 4KiB\n  client_timeout: 2s\n' +
                             'upstreams:\n' + upstream_yaml('up', self.up.url) +
                             'models:\n  gpt-4o:\n    targets: [ { upstream: up } ]\n')

    def assertOpenAIError(self, r, status, type_, code=None):
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.headers['content-type'], 'application/json')
        err = r.json()['error']
        self.assertEqual(err['type'], type_)
        self.assertIsInstance(err['message'], str)
        self.assertTrue(err['message'])
        if code is not None:
            self.assertEqual(err['code'], code)
        return err

    def assertStillServing(self):
        r = self.d.chat()
        self.assertEqual(r.status, 200, r)

    def test_malformed_json_is_400(self):
        r = self.d.request('POST', CHAT, '{"model": "gpt-4o", "messages": [', {'Content-Type': 'application/json'})
        self.assertOpenAIError(r, 400, 'invalid_request_error', 'invalid_json')
        self.assertStillServing()
        self.assertEqual(self.up.requests(), 1)  # only the good request reached the upstream

    def test_body_that_is_not_an_object_is_400(self):
        r = self.d.request('POST', CHAT, '[1, 2]')
        self.assertOpenAIError(r, 400, 'invalid_request_error')

    def test_missing_model_is_400(self):
        r = self.d.request('POST', CHAT, {'messages': [{'role': 'user', 'content': 'hi'}]})
        err = self.assertOpenAIError(r, 400, 'invalid_request_error', 'missing_required_parameter')
        self.assertEqual(err['param'], 'model')

    def test_missing_messages_is_400(self):
        r = self.d.request('POST', CHAT, {'model': 'gpt-4o'})
        err = self.assertOpenAIError(r, 400, 'invalid_request_error', 'missing_required_parameter')
        self.assertEqual(err['param'], 'messages')
        self.assertStillServing()

    def test_unknown_model_without_catch_all_is_404(self):
        r = self.d.chat(model='no-such-model')
        err = self.assertOpenAIError(r, 404, 'invalid_request_error', 'model_not_found')
        self.assertIn('no-such-model', err['message'])
        self.assertEqual(self.up.requests(), 0)

    def test_body_over_max_body_is_413_without_reading_the_rest(self):
        # Announce 1 MiB but send only the headers: the answer must come without the body.
        with socket.create_connection(('127.0.0.1', self.d.port), timeout=5) as s:
            s.sendall(b'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n'
                      b'Content-Length: 1048576\r\n\r\n')
            data = b''
            while b'\r\n\r\n' not in data or b'}}' not in data:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        self.assertTrue(data.startswith(b'HTTP/1.1 413'), data[:200])
        self.assertIn(b'request_too_large', data)
        self.assertStillServing()

    def test_chunked_body_over_max_body_is_413(self):
        big = '{"model":"gpt-4o","messages":[{"role":"user","content":"%s"}]}' % ('x' * 8000)

        def chunks():
            for i in range(0, len(big), 1000):
                yield big[i:i + 1000].encode()

        import http.client
        conn = http.client.HTTPConnection('127.0.0.1', self.d.port, timeout=5)
        try:
            conn.request('POST', CHAT, body=chunks(), headers={'Content-Type': 'application/json'},
                         encode_chunked=True)
            r = conn.getresponse()
            body = r.read()
        except (BrokenPipeError, ConnectionResetError):
            self.fail('detour closed the connection without a 413')
        finally:
            conn.close()
        self.assertEqual(r.status, 413, body)
        self.assertIn(b'request_too_large', body)
        self.assertEqual(self.up.requests(), 0)
        self.assertStillServing()

    def test_unknown_path_is_404(self):
        r = self.d.request('GET', '/v2/nothing')
        self.assertOpenAIError(r, 404, 'invalid_request_error', 'unknown_url')

    def test_wrong_method_is_405_with_allow(self):
        r = self.d.request('GET', CHAT)
        self.assertOpenAIError(r, 405, 'invalid_request_error', 'method_not_allowed')
        self.assertEqual(r.headers['allow'], 'POST')
        r = self.d.request('POST', '/health', {})
        self.assertOpenAIError(r, 405, 'invalid_request_error')
        self.assertStillServing()

    def test_slow_client_does_not_stop_others(self):
        # A client that sends half its headers and stalls holds only its own connection.
        with socket.create_connection(('127.0.0.1', self.d.port), timeout=5) as slow:
            slow.sendall(b'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n')
            for _ in range(3):
                self.assertStillServing()
            # client_timeout (2 s) closes the idle connection (the bound is loose: machines are shared).
            slow.settimeout(15)
            try:
                data = slow.recv(1024)
            except ConnectionResetError:
                data = b''
            self.assertEqual(data, b'')

    def test_garbage_bytes_get_an_error_and_the_daemon_lives(self):
        with socket.create_connection(('127.0.0.1', self.d.port), timeout=5) as s:
            s.sendall(b'\x00\x01\x02 not http at all\r\n\r\n')
            try:
                s.recv(1024)
            except ConnectionResetError:
                pass
        self.assertStillServing()


class ClientKeysTest(DetourTestCase):

    def test_client_keys_are_checked_and_never_forwarded(self):
        import tempfile, os
        up = self.mock('up')
        keys = tempfile.NamedTemporaryFile('w', delete=False)
        keys.write('# team keys\nclient-key-one\n\nclient-key-two\n')
        keys.close()
        self.addCleanup(os.unlink, keys.name)
        d = self.detour('auth:\n  client_keys_file: %s\n' % keys.name + 'upstreams:\n' +
                        upstream_yaml('up', up.url) + 'models:\n  "*":\n    targets: [ { upstream: up } ]\n')
        r = d.chat()
        self.assertEqual(r.status, 401, r)
        self.assertEqual(r.json()['error']['code'], 'invalid_api_key')
        r = d.chat(headers={'Authorization': 'Bearer client-key-thre'})
        self.assertEqual(r.status, 401, r)
        self.assertNotIn('client-key', r.text)
        r = d.chat(headers={'Authorization': 'Bearer client-key-two'})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(up.requests(), 1)
        self.assertNotIn('authorization', up.last_request()['headers'])
        # Status pages stay open to the operator's probes.
        self.assertEqual(d.request('GET', '/health/live').status, 200)


class LargeHeadersTest(DetourTestCase):

    def test_large_headers_and_body_fit_a_connection(self):
        up = self.mock('up')
        d = self.detour('upstreams:\n' + upstream_yaml('up', up.url) +
                        'models:\n  "*":\n    targets: [ { upstream: up } ]\n')
        headers = {'Authorization': 'Bearer ' + 'k' * 8000, 'X-Trace': 't' * 2000}
        r = d.chat(content='x' * 50000, headers=headers)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len(up.last_request()['body']['messages'][0]['content']), 50000)
