"""test_metrics.py — /metrics carries the upstream, flow, reload and process metrics; promtool accepts it,
and the shipped alerting rules and Grafana dashboard only name metrics detourd exports."""
import json
import os
import re
import shutil
import subprocess
import time
import unittest

from harness import DetourTestCase, dead_url, upstream_yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
PROMTOOL = shutil.which('promtool')
HISTOGRAM_SUFFIXES = ('_bucket', '_sum', '_count')


def samples(text):
    """{(name, labels text): value} of a Prometheus text page."""
    out = {}
    for line in text.splitlines():
        if line.startswith('#') or not line:
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$', line)
        if m is None:
            raise AssertionError('not a sample line: %r' % line)
        out[(m.group(1), m.group(2) or '')] = float(m.group(3))
    return out


def families(text):
    """The metric names a page declares with # TYPE, and each name a series may carry."""
    names = set()
    for line in text.splitlines():
        m = re.match(r'^# TYPE (\S+) (\S+)$', line)
        if m:
            names.add(m.group(1))
            if m.group(2) == 'histogram':
                names.update(m.group(1) + s for s in HISTOGRAM_SUFFIXES)
    return names


class MetricsTest(DetourTestCase):

    def setUp(self):
        super().setUp()
        self.up = self.mock('up')
        self.text = ('server:\n  workers: 2\n  request_timeout: 5s\n'
                     'upstreams:\n' + upstream_yaml('dead', dead_url()) + upstream_yaml('up', self.up.url) +
                     'models:\n  "*": { targets: [ { upstream: dead }, { upstream: up } ] }\n')
        self.d = self.detour(self.text)

    def metrics(self):
        r = self.d.request('GET', '/metrics')
        self.assertEqual(r.status, 200, r)
        return r.text

    def test_upstream_histograms_tokens_and_flow(self):
        for _ in range(3):
            self.assertEqual(self.d.chat().status, 200)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            s = samples(self.metrics())
            if s.get(('detour_requests_total', '{endpoint="chat",code="200"}')) == 3:
                break
            time.sleep(0.02)
        count = s[('detour_upstream_attempt_duration_seconds_count', '{upstream="up"}')]
        self.assertEqual(count, 3)
        self.assertEqual(s[('detour_upstream_attempt_duration_seconds_count', '{upstream="dead"}')], 3)
        self.assertEqual(s[('detour_upstream_attempt_duration_seconds_bucket', '{upstream="up",le="+Inf"}')], 3)
        self.assertEqual(s[('detour_upstream_attempt_duration_seconds_bucket', '{upstream="up",le="600"}')], 3)
        self.assertEqual(s[('detour_upstream_ttfb_seconds_count', '{upstream="up"}')], 3)
        self.assertEqual(s[('detour_upstream_ttfb_seconds_count', '{upstream="dead"}')], 0)  # refused: no byte
        # The request histogram reaches past request_timeout (5 s) and past the default 120 s.
        self.assertIn(('detour_request_duration_seconds_bucket', '{endpoint="chat",le="300"}'), s)
        body = json.loads(self.up_answer())
        self.assertEqual(s[('detour_tokens_total', '{kind="prompt",upstream="up"}')],
                         3 * body['usage']['prompt_tokens'])
        self.assertEqual(s[('detour_tokens_total', '{kind="completion",upstream="up"}')],
                         3 * body['usage']['completion_tokens'])
        self.assertEqual(s[('detour_requests_in_flight', '')], 0)
        self.assertEqual(s[('detour_streams_open', '')], 0)
        self.assertEqual(s[('detour_build_info', '{version="%s"}' % self.version())], 1)
        self.assertGreater(s[('process_start_time_seconds', '')], 1.6e9)
        self.assertGreater(s[('process_resident_memory_bytes', '')], 0)
        self.assertGreater(s[('process_open_fds', '')], 3)
        self.assertIn(('process_cpu_seconds_total', ''), s)
        self.assertEqual(s[('detour_circuit_transitions_total', '{upstream="up",from="closed",to="open"}')], 0)

    def up_answer(self):
        """The mock's own answer body, asked directly (its usage is what detour counts)."""
        import http.client
        host, port = self.up.url.split('//')[1].split('/')[0].split(':')
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        try:
            conn.request('POST', '/v1/chat/completions',
                         body=json.dumps({'model': 'gpt-4o', 'messages': [{'role': 'user', 'content': 'Hello'}]}),
                         headers={'Content-Type': 'application/json'})
            return conn.getresponse().read()
        finally:
            conn.close()

    def version(self):
        from harness import DETOURD
        out = subprocess.run([DETOURD, '--version'], capture_output=True, text=True).stdout
        return out.split()[-1]

    def test_reloads_are_counted_by_result(self):
        self.assertIn('reloaded', self.d.reload(self.text))
        self.assertIn('reload refused', self.d.reload('upstreams: [\n'))
        s = samples(self.metrics())
        self.assertEqual(s[('detour_reloads_total', '{result="ok"}')], 1)
        self.assertEqual(s[('detour_reloads_total', '{result="refused"}')], 1)
        self.assertGreater(s[('detour_last_reload_timestamp_seconds', '')], 1.6e9)

    def test_breaker_transitions_are_counted(self):
        d = self.detour('upstreams:\n' + upstream_yaml('dead', dead_url(), breaker='{ failures: 2 }') +
                        upstream_yaml('up', self.up.url) +
                        'models:\n  "*": { targets: [ { upstream: dead }, { upstream: up } ] }\n')
        for _ in range(3):
            self.assertEqual(d.chat().status, 200)
        s = samples(d.request('GET', '/metrics').text)
        self.assertEqual(s[('detour_circuit_transitions_total', '{upstream="dead",from="closed",to="open"}')], 1)
        self.assertEqual(s[('detour_circuit_state', '{upstream="dead"}')], 2)
        self.assertEqual(s[('detour_circuit_transitions_total', '{upstream="up",from="closed",to="open"}')], 0)

    @unittest.skipIf(PROMTOOL is None, 'promtool is not installed (make deps installs it)')
    def test_promtool_accepts_the_page(self):
        self.assertEqual(self.d.chat().status, 200)
        page = self.metrics()
        r = subprocess.run([PROMTOOL, 'check', 'metrics'], input=page, capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual((r.stdout + r.stderr).strip(), '', 'promtool lint findings')


class ShippedRulesTest(DetourTestCase):

    def exported(self):
        up = self.mock('up')
        d = self.detour('upstreams:\n' + upstream_yaml('up', up.url) +
                        'models:\n  "*": { targets: [ { upstream: up } ] }\n')
        self.assertEqual(d.chat().status, 200)
        return families(d.request('GET', '/metrics').text)

    def named_metrics(self, expr):
        """The metric names an expression reads (identifiers followed by { or [ or a space, not functions)."""
        stripped = re.sub(r'"[^"]*"', '""', expr)
        names = set(re.findall(r'\b((?:detour|process)_[a-zA-Z0-9_]+)\b', stripped))
        return names

    @unittest.skipIf(PROMTOOL is None, 'promtool is not installed (make deps installs it)')
    def test_promtool_accepts_the_alerting_rules(self):
        r = subprocess.run([PROMTOOL, 'check', 'rules', os.path.join(ROOT, 'docs/prometheus/alerts.yml')],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_rules_and_dashboard_name_only_exported_metrics(self):
        exported = self.exported()
        with open(os.path.join(ROOT, 'docs/grafana/detour.json')) as f:
            dashboard = json.load(f)
        exprs = [t['expr'] for p in dashboard['panels'] for t in p['targets']]
        self.assertGreaterEqual(len(exprs), 10)
        with open(os.path.join(ROOT, 'docs/prometheus/alerts.yml')) as f:
            exprs += re.findall(r'expr: \|?\s*\n?((?:.+\n)+?)\s*(?:for|labels):', f.read())
        used = set()
        for e in exprs:
            names = self.named_metrics(e)
            self.assertTrue(names, e)
            used |= names
        self.assertEqual(used - exported, set())
        titles = ' '.join(p['title'] for p in dashboard['panels']).lower()
        for want in ('status', 'failover', 'breaker', 'latency', 'tokens'):
            self.assertIn(want, titles)
        ids = [p['id'] for p in dashboard['panels']]
        self.assertEqual(len(ids), len(set(ids)))
