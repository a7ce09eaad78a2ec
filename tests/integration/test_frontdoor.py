"""test_frontdoor.py — the front door holds: a full connection limit recovers, slow or greedy clients
cannot hold connections, framing is strict, paths are what they say, logs cannot be forged, and
status pages can be closed."""
import json
import socket
import time

from harness import DetourTestCase, upstream_yaml

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
