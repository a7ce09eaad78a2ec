"""test_logs.py — every line detourd writes parses: as logfmt (by a strict reader, per the logfmt spec) or as JSON."""
import json
import signal
import time

from harness import DetourTestCase, dead_url, upstream_yaml

# A model name with everything a logfmt value must escape.
AWKWARD = 'model with spaces "quotes" a=b back\\slash\nnew line\ttab \x01 caf\u00e9'

ACCESS_KEYS = ('method', 'path', 'model', 'route', 'upstream', 'attempts', 'status', 'answer_level', 'cache',
               'stream', 'bytes', 'duration_ms', 'ttfb_ms', 'client', 'request_id', 'upstream_request_id', 'end')

ESCAPES = {'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}


class LogfmtError(ValueError):
    pass


def parse_logfmt(line):
    """Reads one logfmt line strictly (github.com/go-logfmt/logfmt's grammar, with
    its JSON-style escapes): key=value pairs split by one space; a key is bytes
    above space other than = and "; a value is bare (the same bytes) or a quoted
    string. A key seen twice, a bare key, a stray byte: LogfmtError.
    Returns the pairs as a dict, in order."""
    pairs, i, n = {}, 0, len(line)
    while i < n:
        start = i
        while i < n and line[i] > ' ' and line[i] not in '="':
            i += 1
        key = line[start:i]
        if not key or i >= n or line[i] != '=':
            raise LogfmtError('a key without =value at %d: %r' % (start, line))
        i += 1
        if i < n and line[i] == '"':
            i += 1
            value = []
            while True:
                if i >= n:
                    raise LogfmtError('an unclosed quote: %r' % line)
                c = line[i]
                if c == '"':
                    i += 1
                    break
                if c < ' ':
                    raise LogfmtError('a raw control byte inside quotes: %r' % line)
                if c == '\\':
                    e = line[i + 1:i + 2]
                    if e == 'u':
                        value.append(chr(int(line[i + 2:i + 6], 16)))
                        i += 6
                        continue
                    if e not in ESCAPES:
                        raise LogfmtError('a bad escape \\%s: %r' % (e, line))
                    value.append(ESCAPES[e])
                    i += 2
                    continue
                value.append(c)
                i += 1
            value = ''.join(value)
        else:
            start = i
            while i < n and line[i] > ' ' and line[i] not in '="':
                i += 1
            value = line[start:i]
            if not value:
                raise LogfmtError('an empty bare value for %s: %r' % (key, line))
        if key in pairs:
            raise LogfmtError('key %s twice: %r' % (key, line))
        pairs[key] = value
        if i < n:
            if line[i] != ' ':
                raise LogfmtError('no space after %s: %r' % (key, line))
            i += 1
            if i >= n or line[i] == ' ':
                raise LogfmtError('a stray space: %r' % line)
    return pairs


def no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError('a key twice: %r' % keys)
    return dict(pairs)


class LogfmtReaderTest(DetourTestCase):
    """The reader itself refuses what is not logfmt, so the tests below can trust it."""

    def test_the_reader_is_strict(self):
        self.assertEqual(parse_logfmt('a=1 b="x \\"y\\" \\u0001"'), {'a': '1', 'b': 'x "y" \x01'})
        for bad in ('a=1 a=2', 'a', 'a=', 'a="x', 'a=1  b=2', 'a=x"y', 'a="\n"', 'a=1 b'):
            with self.assertRaises(LogfmtError, msg=bad):
                parse_logfmt(bad)


class LogFormatTest(DetourTestCase):

    def start(self, fmt):
        self.up = self.mock('up')
        self.text = ('server:\n  workers: 1\nlog:\n  level: debug\n  access: true\n  format: %s\n'
                     'upstreams:\n' % fmt +
                     upstream_yaml('dead', dead_url()) + upstream_yaml('up', self.up.url) +
                     'models:\n  "*": { targets: [ { upstream: dead }, { upstream: up } ] }\n')
        return self.detour(self.text)

    def exercise(self, d):
        r = d.chat(model=AWKWARD, headers={'x-request-id': 'logs-1'})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(d.request('GET', '/health/live', headers={'x-request-id': 'logs-2'}).status, 200)

    def lines(self, d, want):
        """detourd's lines, once the access line of request want is written."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            lines = d.output().splitlines()
            if any(want in l for l in lines):
                return lines
            time.sleep(0.02)
        self.fail('no line with %r:\n%s' % (want, d.output()[-3000:]))

    def check_access(self, records):
        access = [r for r in records if r.get('msg') == 'request' and r.get('request_id') == 'logs-1']
        self.assertEqual(len(access), 1, records)
        a = access[0]
        for key in ACCESS_KEYS:
            self.assertIn(key, a, a)
        self.assertEqual(a['model'], AWKWARD)              # round-trips, every byte
        self.assertEqual(str(a['upstream']), 'up')
        self.assertEqual(str(a['attempts']), '2')
        self.assertEqual(str(a['status']), '200')
        self.assertEqual(a['end'], 'answered')
        self.assertEqual(a['answer_level'], 'full')
        self.assertEqual(a['client'], '127.0.0.1')
        self.assertEqual(a['method'], 'POST')
        self.assertEqual(a['path'], '/v1/chat/completions')
        self.assertTrue(a['upstream_request_id'].startswith('mock-req-'), a)
        self.assertGreater(int(a['bytes']), 0)
        self.assertLessEqual(int(a['ttfb_ms']), int(a['duration_ms']))
        falling = [r for r in records if r.get('msg') == 'falling over' and r.get('request_id') == 'logs-1']
        self.assertEqual(len(falling), 1, records)
        self.assertEqual(falling[0]['upstream'], 'dead')

    def test_logfmt_lines_parse_and_round_trip(self):
        d = self.start('logfmt')
        self.exercise(d)
        records = [parse_logfmt(l) for l in self.lines(d, 'request_id=logs-2 ')]
        for r in records:
            self.assertEqual(list(r)[:3], ['ts', 'level', 'msg'], r)
        self.check_access(records)

    def test_json_lines_parse_and_round_trip(self):
        d = self.start('json')
        self.exercise(d)
        records = [json.loads(l, object_pairs_hook=no_duplicates) for l in self.lines(d, '"request_id":"logs-2"')]
        for r in records:
            self.assertEqual(list(r)[:3], ['ts', 'level', 'msg'], r)
        self.check_access(records)
        a = [r for r in records if r.get('request_id') == 'logs-1' and r['msg'] == 'request'][0]
        self.assertIs(a['stream'], False)
        self.assertIsInstance(a['status'], int)

    def test_a_reload_switches_the_format(self):
        d = self.start('logfmt')
        d.write_config(self.text.replace('format: logfmt', 'format: json'))
        d.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while '"msg":"reloaded ' not in d.output() and time.monotonic() < deadline:
            time.sleep(0.02)
        lines = d.output().splitlines()
        parse_logfmt(lines[0])                                 # before: logfmt
        said = [l for l in lines if '"msg":"reloaded ' in l]
        self.assertEqual(len(said), 1, lines)
        self.assertEqual(json.loads(said[0], object_pairs_hook=no_duplicates)['level'], 'info')
