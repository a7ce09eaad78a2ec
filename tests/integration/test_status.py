"""test_status.py — the operator's view: /health/live, /health, /circuits and /metrics."""
import time

from harness import DetourTestCase, upstream_yaml


class StatusPagesTest(DetourTestCase):

    def setUp(self):
        super().setUp()
        self.primary = self.mock('primary', '--status', '503')
        self.backup = self.mock('backup', '--api-key', 'sk-secret-of-backup')
        self.d = self.detour('upstreams:\n' + upstream_yaml('primary', self.primary.url) +
                             upstream_yaml('backup', self.backup.url, api_key_env='BACKUP_KEY') +
                             'models:\n  gpt-4o:\n    targets: [ { upstream: primary }, { upstream: backup } ]\n',
                             env={'BACKUP_KEY': 'sk-secret-of-backup'})

    def test_live(self):
        r = self.d.request('GET', '/health/live')
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json(), {'status': 'live'})

    def test_health_lists_every_upstream(self):
        r = self.d.request('GET', '/health')
        self.assertEqual(r.status, 200)
        body = r.json()
        self.assertEqual(body['status'], 'ok')     # no traffic yet, every breaker closed
        self.assertEqual(sorted(body['upstreams']), ['backup', 'primary'])

    def test_circuits_count_calls_and_keep_the_last_error_without_secrets(self):
        for _ in range(3):
            self.assertEqual(self.d.chat().status, 200)
        r = self.d.request('GET', '/circuits')
        self.assertEqual(r.status, 200)
        c = r.json()['circuits']
        self.assertEqual(c['primary']['requests'], 3)
        self.assertEqual(c['primary']['successes'], 0)
        self.assertEqual(c['primary']['last_error']['status'], 503)
        self.assertIn('injected status 503', c['primary']['last_error']['message'])
        self.assertEqual(c['backup']['successes'], 3)
        self.assertIsNone(c['backup']['last_error'])
        for page in ('/circuits', '/health', '/metrics'):
            self.assertNotIn('sk-secret-of-backup', self.d.request('GET', page).text)

    def test_metrics_in_prometheus_text(self):
        self.assertEqual(self.d.chat().status, 200)
        # A request is counted once its last byte has gone out, which may be just
        # after the client read it: a scrape on another worker can come first.
        for _ in range(40):
            r = self.d.request('GET', '/metrics')
            if 'detour_requests_total{endpoint="chat"' in r.text:
                break
            time.sleep(0.05)
        self.assertEqual(r.status, 200)
        self.assertTrue(r.headers['content-type'].startswith('text/plain'))
        self.assertIn('detour_requests_total{endpoint="chat",code="200"} 1\n', r.text)
        self.assertIn('detour_upstream_attempts_total{upstream="primary",result="fall_over"} 1\n', r.text)
        self.assertIn('detour_upstream_attempts_total{upstream="backup",result="success"} 1\n', r.text)
