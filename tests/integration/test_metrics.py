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
        # The model label is the one the upstream was asked for (here the client's, passed through).
        self.assertEqual(s[('detour_tokens_total', '{kind="prompt",upstream="up",model="gpt-4o"}')],
                         3 * body['usage']['prompt_tokens'])
        self.assertEqual(s[('detour_tokens_total', '{kind="completion",upstream="up",model="gpt-4o"}')],
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


def tokens(s, upstream):
    """{model: [prompt, completion, cached]} of one upstream's detour_tokens_total samples."""
    out = {}
    kinds = ('prompt', 'completion', 'cached')
    for (name, labels), value in s.items():
        m = re.match(r'^\{kind="(\w+)",upstream="([^"]*)",model="((?:[^"\\]|\\.)*)"\}$', labels)
        if name == 'detour_tokens_total' and m and m.group(2) == upstream:
            out.setdefault(m.group(3), [0, 0, 0])[kinds.index(m.group(1))] = value
    return out


def usage_of(r):
    """[prompt, completion, cached] of the usage a whole or streamed answer showed its client."""
    if r.headers['content-type'].startswith('text/event-stream'):
        chunks = [json.loads(l[6:]) for l in r.text.split('\n') if l.startswith('data: ') and l != 'data: [DONE]']
        found = [c['usage'] for c in chunks if c.get('usage')]
        if not found:
            return [0, 0, 0]
        usage = found[-1]
    else:
        usage = json.loads(r.body)['usage']
    cached = (usage.get('prompt_tokens_details') or {}).get('cached_tokens', 0)
    return [usage['prompt_tokens'], usage['completion_tokens'], cached]


def add(a, b):
    return [x + y for x, y in zip(a, b)]


class TokensTest(DetourTestCase):
    """detour_tokens_total{upstream,model,kind}: whole and streamed answers, OpenAI and Anthropic, bounded."""

    def setUp(self):
        super().setUp()
        self.up = self.mock('up')
        self.claude = self.mock('claude', '--api-key', 'sk-ant-test', mode='anthropic')
        self.text = ('server:\n  workers: 1\n'
                     'upstreams:\n' + upstream_yaml('up', self.up.url) +
                     upstream_yaml('claude', self.claude.url, provider='anthropic', api_key_env='CLAUDE_KEY') +
                     'models:\n'
                     '  cheap: { targets: [ { upstream: up, model: gpt-4o-mini } ] }\n'
                     '  sonnet: { targets: [ { upstream: claude, model: claude-3-5-haiku-latest } ] }\n'
                     '  "*": { targets: [ { upstream: up } ] }\n')
        self.d = self.detour(self.text, env={'CLAUDE_KEY': 'sk-ant-test'})

    def scrape(self):
        r = self.d.request('GET', '/metrics')
        self.assertEqual(r.status, 200, r)
        return samples(r.text)

    def chat(self, model, stream):
        extra = {'stream': True, 'stream_options': {'include_usage': True}} if stream else {}
        r = self.d.chat(model=model, **extra)
        self.assertEqual(r.status, 200, r)
        return usage_of(r)

    def test_whole_and_streamed_answers_count_by_upstream_and_model(self):
        want_up, want_claude = {}, {}
        for model, asked, want in (('gpt-4o', 'gpt-4o', want_up), ('cheap', 'gpt-4o-mini', want_up),
                                   ('sonnet', 'claude-3-5-haiku-latest', want_claude)):
            for stream in (False, True):
                got = self.chat(model, stream)
                self.assertGreater(got[0], 0, (model, stream))
                want[asked] = add(want.get(asked, [0, 0, 0]), got)
        # A stream whose client did not ask for usage carries none, and counts nothing.
        self.assertEqual(self.d.chat(model='gpt-4o', stream=True).status, 200)
        s = self.scrape()
        self.assertEqual(tokens(s, 'up'), want_up)
        self.assertEqual(tokens(s, 'claude'), want_claude)
        # The counts survive a reload, under the same labels.
        self.assertIn('reloaded', self.d.reload(self.text))
        s = self.scrape()
        self.assertEqual(tokens(s, 'up'), want_up)
        self.assertEqual(tokens(s, 'claude'), want_claude)
        # The new workers add to what was carried.
        got = self.chat('cheap', False)
        self.assertEqual(tokens(self.scrape(), 'up')['gpt-4o-mini'], add(want_up['gpt-4o-mini'], got))

    def test_models_past_the_cap_count_as_other(self):
        per = None
        for i in range(66):
            got = self.chat('client-model-%02d' % i, i % 2 == 1)
            per = per or got
            self.assertEqual(got, per)
        s = self.scrape()
        by_model = tokens(s, 'up')
        self.assertEqual(len(by_model), 65, sorted(by_model))
        self.assertEqual(by_model['other'], add(per, per))
        self.assertEqual(sum(v[0] for v in by_model.values()), 66 * per[0])
        if PROMTOOL is not None:
            page = self.d.request('GET', '/metrics').text
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
