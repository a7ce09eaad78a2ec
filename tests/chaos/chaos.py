"""chaos.py — detour under a seeded schedule of upstream faults (make chaos, and a short smoke in make check).

Three detour-mock upstreams behind one route; each changes its fault every 2-5 s
(503, 429 with Retry-After, TCP resets, hangs, slow first bytes, malformed JSON,
cut and stalled streams) while at least one stays healthy; 32 clients, half
streaming, send requests with unique prompts and classify every answer. Then a
total outage (all three down) and recovery after an upstream heals. The same
schedule runs against the Node gateway and nginx when they are installed.

Everything runs on 127.0.0.1 and is stopped at the end; the run is bounded by
the phase lengths below. Python 3 standard library only.

Environment:
  CHAOS_SECONDS          the fault schedule's length against detour (default 180)
  CHAOS_PEER_SECONDS     the same schedule's length against the other gateways (default 60)
  CHAOS_SEED             the schedule's seed (default 14)
  CHAOS_CLIENTS          concurrent clients, half of them streaming (default 32)
  CHAOS_OUTAGE_SECONDS   the total outage (default 20; 0 skips it)
  CHAOS_RECOVERY_TRIALS  heal-and-measure trials (default 3; 0 skips them)
  CHAOS_PEERS            1: also the Node gateway and nginx when installed (default 1)
  CHAOS_STRICT           1: exit 1 on a silent truncation, hang, reset or unshaped error from detour
  CHAOS_DOCS             1: write the table into docs/benchmarks.md (default 1)
  CHAOS_CUTS             1: instead of the above, the cut-streams run (make chaos-cuts): streams only, u1 and u2
                         cutting streams at random (a reset or an error event after 1-5 content chunks, or
                         healthy, changing every 0.5-2 s), u3 healthy; once with streams.on_cut: error and once
                         with continue, CHAOS_CUTS_SECONDS (default 60) each; the share of streams that end
                         whole goes to docs/benchmarks.md, section "Chaos: cut streams"
  CHAOS_TIMELINE         a file: detour's run, second by second, written there (default: none): each
                         upstream's fault, its /circuits state sampled every 100 ms (c closed, o open,
                         h half-open; + a Retry-After hold, * a probe in flight), answers and 503s
"""
import asyncio
import json
import os
import platform
import random
import re
import resource
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'bench'))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import machine  # noqa: E402
import processes  # noqa: E402
from processes import free_port  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, '..', '..'))
BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, 'build'))
PORTKEY = os.path.join(ROOT, 'tests', 'bench', 'node_modules', '@portkey-ai', 'gateway', 'build',
                       'start-server.js')


def env_int(name, default):
    return int(os.environ.get(name, str(default)))


SECONDS = env_int('CHAOS_SECONDS', 180)
PEER_SECONDS = min(SECONDS, env_int('CHAOS_PEER_SECONDS', 60))
SEED = env_int('CHAOS_SEED', 14)
CLIENTS = env_int('CHAOS_CLIENTS', 32)
OUTAGE_SECONDS = env_int('CHAOS_OUTAGE_SECONDS', 20)
RECOVERY_TRIALS = env_int('CHAOS_RECOVERY_TRIALS', 3)
PEERS = env_int('CHAOS_PEERS', 1) == 1
STRICT = env_int('CHAOS_STRICT', 0) == 1
DOCS = env_int('CHAOS_DOCS', 1) == 1
TIMELINE = os.environ.get('CHAOS_TIMELINE', '')
CUTS = env_int('CHAOS_CUTS', 0) == 1
CUTS_SECONDS = env_int('CHAOS_CUTS_SECONDS', 60)

UPSTREAMS = ('u1', 'u2', 'u3')
REQUEST_TIMEOUT = 10.0                  # detour's server.request_timeout
CLIENT_DEADLINE = REQUEST_TIMEOUT + 5   # no answer by then: a hang
RESPONSE_CAP = 4 << 20
RECOVERY_LIMIT = 20.0                   # a trial that sees no answer from the healed upstream by then gives up
CLASSES = ('full', 'degraded', 'error', 'truncation', 'hang', 'reset', 'unshaped')
CLASS_NAMES = {'full': 'full answers', 'degraded': 'degraded answers', 'error': 'honest errors',
               'truncation': 'silent truncations', 'hang': 'hangs', 'reset': 'resets',
               'unshaped': 'errors not OpenAI-shaped'}
BROKEN = ('truncation', 'hang', 'reset', 'unshaped')

workdir = tempfile.mkdtemp(prefix='detour-chaos-')


# --- processes ---------------------------------------------------------------

class Proc(processes.Child):
    """A child whose output goes to a file in workdir; stop() says what went wrong with it."""

    def __init__(self, argv, name, env=None, read_banner=False):
        super().__init__(argv, name, os.path.join(workdir, '%s-%d.log' % (name, id(self))), env,
                         subprocess.PIPE if read_banner else None)


procs = []


def wait_port(port, proc, timeout=20):
    processes.wait_port(port, timeout, proc.proc, proc.name, proc.output)


def start_mock(name):
    p = Proc([os.path.join(BUILD, 'detour-mock'), '--listen', '127.0.0.1:0', '--name', name], 'mock-' + name,
             read_banner=True)
    procs.append(p)
    ready, _, _ = select.select([p.proc.stdout], [], [], 10)
    line = p.proc.stdout.readline().decode() if ready else ''
    m = re.search(r'listening on .*:(\d+)$', line.strip())
    if not m:
        raise RuntimeError('detour-mock %s did not say where it listens: %r' % (name, line))
    p.proc.stdout.close()
    p.port = int(m.group(1))
    return p


BREAKER = '{ failures: 3, window: 10s, cooldown: 3s, half_open_probes: 1 }'
# The cut-streams run keeps breakers from opening, so every cut reaches a stream and is counted.
CUTS_BREAKER = '{ failures: 1000, window: 1s, cooldown: 1s, half_open_probes: 1 }'


def start_detour(mocks, on_cut=None):
    port = free_port()
    path = os.path.join(workdir, 'detour.yaml')
    with open(path, 'w') as f:
        f.write('server:\n  listen: 127.0.0.1:%d\n  workers: 0\n  request_timeout: %ds\n' % (
            port, REQUEST_TIMEOUT))
        if on_cut is not None:
            f.write('streams: { on_cut: %s, max_continuations: 2 }\n' % on_cut)
        f.write('log: { level: warn }\nupstreams:\n')
        for m in mocks:
            f.write('  %s: { base_url: "http://127.0.0.1:%d/v1",\n'
                    '    timeouts: { connect: 1s, first_byte: 3s, idle: 3s, total: 10s },\n'
                    '    retries: { attempts: 1, base_delay: 100ms, max_delay: 1s },\n'
                    '    breaker: %s,\n'
                    '    health_check: { interval: 1s } }\n' % (m.name[len('mock-'):], m.port,
                                                              CUTS_BREAKER if on_cut else BREAKER))
        f.write('models:\n  "*":\n    targets: [ %s ]\n' % ', '.join(
            '{ upstream: %s }' % u for u in UPSTREAMS))
    p = Proc([os.path.join(BUILD, 'detourd'), '-c', path], 'detourd')
    procs.append(p)
    wait_port(port, p)
    return port, p, {}


def start_portkey(mocks):
    if not os.path.exists(PORTKEY) or shutil.which('node') is None:
        return None
    port = free_port()
    p = Proc(['node', PORTKEY, '--port=%d' % port, '--headless'], 'portkey', env={'NODE_ENV': 'production'})
    procs.append(p)
    wait_port(port, p)
    config = json.dumps({'strategy': {'mode': 'fallback'}, 'request_timeout': int(REQUEST_TIMEOUT * 1000),
                         'targets': [{'provider': 'openai', 'api_key': 'sk-chaos',
                                      'custom_host': 'http://127.0.0.1:%d/v1' % m.port} for m in mocks]})
    return port, p, {'x-portkey-config': config}


def start_nginx(mocks):
    """nginx's own failover: next server on errors, timeouts, 429, 502 and 503; a failed
    server rests 3 s (the breaker cooldown's counterpart); no active health checks."""
    if shutil.which('nginx') is None:
        return None
    port = free_port()
    d = tempfile.mkdtemp(dir=workdir)
    servers = ' '.join('server 127.0.0.1:%d max_fails=1 fail_timeout=3s;' % m.port for m in mocks)
    conf = os.path.join(d, 'nginx.conf')
    with open(conf, 'w') as f:
        f.write('''worker_processes 1;
pid %(d)s/nginx.pid;
error_log %(d)s/error.log crit;
daemon off;
events { worker_connections 20000; }
http {
  access_log off;
  client_body_temp_path %(d)s;
  proxy_temp_path %(d)s;
  upstream up { %(servers)s keepalive 64; }
  server {
    listen 127.0.0.1:%(port)d;
    location / {
      proxy_pass http://up;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_connect_timeout 1s;
      proxy_read_timeout 3s;
      proxy_next_upstream error timeout http_429 http_502 http_503 non_idempotent;
      proxy_next_upstream_timeout %(rt)ds;
    }
  }
}
''' % {'d': d, 'servers': servers, 'port': port, 'rt': REQUEST_TIMEOUT})
    p = Proc(['nginx', '-c', conf, '-p', d], 'nginx')
    procs.append(p)
    wait_port(port, p)
    return port, p, {}


# --- the fault schedule ------------------------------------------------------

def fault_for(kind, rng):
    """The mock fault set of one kind; its parameters drawn from rng."""
    if kind == 'healthy':
        return {}
    if kind == '503':
        return {'status': 503}
    if kind == '429':
        return {'status': 429, 'retry_after': str(rng.randint(1, 30))}
    if kind == 'reset':
        return {'reset': True}
    if kind == 'hang':
        return {'hang': True}
    if kind == 'slow':
        return {'latency_ms': rng.randint(500, 5000)}
    if kind == 'malformed':
        return {'malformed': True}
    if kind == 'cut':
        return {'cut_after': rng.randint(0, 4)}
    if kind == 'stall':
        return {'stall_after': rng.randint(0, 4)}
    raise ValueError(kind)


KINDS = ('healthy', 'healthy', '503', '429', 'reset', 'hang', 'slow', 'malformed', 'cut', 'stall')


def schedule(seed, seconds):
    """[(seconds from the start, upstream index, kind, fault set)], in time order: each
    upstream changes every 2-5 s. A change that would leave no upstream healthy heals
    another one, drawn at random, at the same instant: the healthy one moves around
    instead of sticking to whichever was healthy last."""
    rng = random.Random(seed)
    changes = []
    for i in range(len(UPSTREAMS)):
        t = 0.0
        while t < seconds:
            changes.append((t, i))
            t += rng.uniform(2.0, 5.0)
    changes.sort()
    state = ['healthy'] * len(UPSTREAMS)
    out = []
    for t, i in changes:
        kind = rng.choice(KINDS)
        fault = fault_for(kind, rng)
        others = [j for j in range(len(UPSTREAMS)) if j != i]
        if kind != 'healthy' and all(state[j] != 'healthy' for j in others):
            j = rng.choice(others)
            state[j] = 'healthy'
            out.append((t, j, 'healthy', {}))
        state[i] = kind
        out.append((t, i, kind, fault))
    return out


# Every stream in the cut-streams run: 8 content chunks 10 ms apart, so a cut lands mid-answer.
CUTS_STREAM = {'chunks': 8, 'chunk_delay_ms': 10}


def cuts_schedule(seed, seconds):
    """The cut-streams run's faults: u1 and u2 change every 0.5-2 s among a reset after
    1-5 content chunks, an error event after 1-5, and healthy; u3 stays healthy."""
    rng = random.Random(seed)
    out = [(0.0, 2, 'healthy', dict(CUTS_STREAM))]
    for i in (0, 1):
        t = 0.0
        while t < seconds:
            kind = rng.choice(('cut', 'cut', 'stream_error', 'healthy'))
            fault = dict(CUTS_STREAM)
            if kind == 'cut':
                fault['cut_after'] = rng.randint(1, 5)
            elif kind == 'stream_error':
                fault['stream_error_after'] = rng.randint(1, 5)
            out.append((t, i, kind, fault))
            t += rng.uniform(0.5, 2.0)
    out.sort(key=lambda c: c[0])
    return out


# --- HTTP on raw sockets (asyncio) -------------------------------------------

async def exchange(port, raw, deadline):
    """Sends raw on a fresh connection and reads the answer until it is whole, the
    peer closes, or deadline (loop time). Returns (head or None, body, ended) with
    ended 'eof', 'reset' or 'timeout'."""
    loop = asyncio.get_running_loop()
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection('127.0.0.1', port),
                                                max(0.01, deadline - loop.time()))
    except asyncio.TimeoutError:
        return None, b'', 'timeout'
    except OSError:
        return None, b'', 'reset'
    buf = bytearray()
    head = None
    ended = 'eof'
    try:
        writer.write(raw)
        await writer.drain()
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                ended = 'timeout'
                break
            data = await asyncio.wait_for(reader.read(65536), remaining)
            if not data:
                break
            buf += data
            if head is None:
                end = buf.find(b'\r\n\r\n')
                if end >= 0:
                    head = bytes(buf[:end])
                    del buf[:end + 4]
            if head is not None and whole(head, buf):
                break
            if len(buf) > RESPONSE_CAP:
                break
    except asyncio.TimeoutError:
        ended = 'timeout'
    except OSError:
        ended = 'reset'
    finally:
        writer.transport.abort()
    return head, bytes(buf), ended


def headers_of(head):
    lines = head.decode('latin-1').split('\r\n')
    try:
        status = int(lines[0].split()[1])
    except (IndexError, ValueError):
        status = 0
    hdrs = {}
    for line in lines[1:]:
        name, _, value = line.partition(':')
        hdrs[name.strip().lower()] = value.strip()
    return status, hdrs


def whole(head, body):
    _, hdrs = headers_of(head)
    if 'chunked' in hdrs.get('transfer-encoding', '').lower():
        return body.endswith(b'\r\n0\r\n\r\n') or body == b'0\r\n\r\n'
    if 'content-length' in hdrs:
        return len(body) >= int(hdrs['content-length'])
    return False


def dechunk(body):
    out = bytearray()
    pos = 0
    while True:
        eol = body.find(b'\r\n', pos)
        if eol < 0:
            return bytes(out)
        try:
            size = int(body[pos:eol].split(b';')[0], 16)
        except ValueError:
            return bytes(out)
        if size == 0:
            return bytes(out)
        out += body[eol + 2:eol + 2 + size]
        pos = eol + 2 + size + 2


WHO = re.compile(r'Hello from (u\d)\.')


def classify(head, body, ended):
    """(class, upstream that answered or None, what the error was or None)."""
    if ended == 'timeout':
        return 'hang', None, None
    if head is None:
        return 'reset', None, None
    status, hdrs = headers_of(head)
    if 'chunked' in hdrs.get('transfer-encoding', '').lower():
        body = dechunk(body)
    text = body.decode('utf-8', 'replace')
    if status != 200:
        try:
            err = json.loads(text)['error']
            if isinstance(err, dict) and isinstance(err.get('message'), str):
                return 'error', None, '%d %s' % (status, err.get('code') or err.get('type'))
        except (ValueError, KeyError, TypeError):
            pass
        return 'unshaped', None, '%d %s' % (status, text[:80].replace('\n', ' '))
    if 'text/event-stream' in hdrs.get('content-type', ''):
        cls, content, what = classify_stream(text)
    else:
        cls, content, what = classify_json(text)
    if cls == 'full' and 'x-detour-degraded' in hdrs:
        cls = 'degraded'
    m = WHO.search(content)
    return cls, (m.group(1) if m else None), what


def classify_stream(text):
    done = finished = broken = False
    error = None
    content = []
    for line in text.split('\n'):
        line = line.rstrip('\r')
        if not line.startswith('data:'):
            continue
        data = line[5:].strip()
        if data == '[DONE]':
            done = True
            continue
        try:
            event = json.loads(data)
        except ValueError:
            broken = True
            continue
        if not isinstance(event, dict):
            broken = True
            continue
        if 'error' in event:
            e = event['error']
            error = 'stream %s' % ((e.get('code') or e.get('type')) if isinstance(e, dict) else 'error')
            continue
        for choice in event.get('choices') or []:
            if choice.get('finish_reason'):
                finished = True
            delta = choice.get('delta') or {}
            if isinstance(delta.get('content'), str):
                content.append(delta['content'])
    if error:
        return 'error', '', error
    if finished and done and not broken:
        return 'full', ''.join(content), None
    return 'truncation', '', None


def classify_json(text):
    try:
        doc = json.loads(text)
    except ValueError:
        return 'truncation', '', None
    if isinstance(doc, dict) and isinstance(doc.get('error'), dict):
        return 'error', '', '200 %s' % doc['error'].get('code')
    try:
        choice = doc['choices'][0]
        if choice['finish_reason'] and isinstance(choice['message']['content'], str):
            return 'full', choice['message']['content'], None
    except (KeyError, IndexError, TypeError):
        pass
    return 'unshaped', '', '200 not a chat completion'


async def mock_call(port, method, path, body=None):
    raw = json.dumps(body).encode() if body is not None else b''
    req = (b'%s %s HTTP/1.1\r\nHost: mock\r\nContent-Type: application/json\r\nContent-Length: %d\r\n'
           b'Connection: close\r\n\r\n' % (method.encode(), path.encode(), len(raw))) + raw
    loop = asyncio.get_running_loop()
    head, resp, _ = await exchange(port, req, loop.time() + 5)
    if head is None or headers_of(head)[0] != 200:
        raise RuntimeError('mock on %d: %s %s failed: %r %r' % (port, method, path, head, resp[:200]))
    if 'chunked' in headers_of(head)[1].get('transfer-encoding', '').lower():
        resp = dechunk(resp)
    return json.loads(resp.decode())


# --- the load ----------------------------------------------------------------

class Run:
    """One gateway under the schedule: its clients, its results, its phases."""

    def __init__(self, name, port, headers, mocks):
        self.name = name
        self.port = port
        self.headers = headers
        self.mocks = mocks
        self.phase = 'warmup'
        self.results = []        # (phase, started, ended, class, upstream, what, stream)
        self.outage = None
        self.recovery = []
        self.seconds = 0
        self.streams = True      # False: the gateway fails streams with no fault at all
        self.all_streams = False  # every client streams (the cut-streams run)
        self.chaos_t0 = None
        self.samples = []        # (loop time, {upstream: circuit letters}) when CHAOS_TIMELINE is set
        self.refusals = {}       # second of chaos -> the first 503's attempts, when CHAOS_TIMELINE is set

    def raw(self, client, seq, stream):
        body = json.dumps({'model': 'gpt-4o', 'stream': stream, 'messages': [
            {'role': 'user', 'content': 'chaos %s client %d request %d %016x' % (
                self.name, client, seq, random.getrandbits(64))}]}).encode()
        extra = ''.join('%s: %s\r\n' % kv for kv in self.headers.items()).encode()
        return (b'POST /v1/chat/completions HTTP/1.1\r\nHost: chaos\r\nContent-Type: application/json\r\n'
                b'Content-Length: %d\r\nConnection: close\r\n' % len(body)) + extra + b'\r\n' + body

    async def client(self, index):
        loop = asyncio.get_running_loop()
        stream = self.streams and (index % 2 == 1 or self.all_streams)
        seq = 0
        while self.phase != 'stop':
            seq += 1
            phase = self.phase
            started = loop.time()
            head, body, ended = await exchange(self.port, self.raw(index, seq, stream), started + CLIENT_DEADLINE)
            cls, who, what = classify(head, body, ended)
            self.results.append((phase, started, loop.time(), cls, who, what, stream))
            if TIMELINE and phase == 'chaos' and what == '503 no_upstream_available' and self.chaos_t0:
                self.refusals.setdefault(int(started - self.chaos_t0), attempts_of(body))
            if head is None and cls == 'reset':
                await asyncio.sleep(0.01)   # a refused connection must not spin

    async def sample_circuits(self):
        """Every 100 ms while the schedule runs: each upstream's breaker as /circuits shows it."""
        loop = asyncio.get_running_loop()
        while self.phase != 'stop':
            if self.phase == 'chaos':
                try:
                    doc = await mock_call(self.port, 'GET', '/circuits')
                    self.samples.append((loop.time(), {name: circuit_letters(c) for name, c in
                                                       doc['circuits'].items()}))
                except (RuntimeError, ValueError, KeyError):
                    pass
            await asyncio.sleep(0.1)

    async def set_fault(self, i, fault):
        await mock_call(self.mocks[i].port, 'POST', '/_mock/faults', fault)

    async def heal_all(self):
        for i in range(len(self.mocks)):
            await self.set_fault(i, {})

    async def chaos(self, plan, seconds):
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        self.chaos_t0 = t0
        self.phase = 'chaos'
        for t, i, _, fault in plan:
            if t >= seconds:
                break
            await asyncio.sleep(max(0.0, t0 + t - loop.time()))
            await self.set_fault(i, fault)
        await asyncio.sleep(max(0.0, t0 + seconds - loop.time()))
        self.phase = 'settle'
        self.seconds = loop.time() - t0
        await self.heal_all()

    async def total_outage(self, seconds):
        loop = asyncio.get_running_loop()
        before = [await mock_call(m.port, 'GET', '/_mock/stats') for m in self.mocks]
        for i in range(len(self.mocks)):
            await self.set_fault(i, {'status': 503})
        t0 = loop.time()
        self.phase = 'outage'
        await asyncio.sleep(seconds)
        self.phase = 'settle'
        after = [await mock_call(m.port, 'GET', '/_mock/stats') for m in self.mocks]
        elapsed = loop.time() - t0
        await self.heal_all()

        def count(stats, path):
            return stats['by_path'].get(path, 0)
        self.outage = {
            'seconds': elapsed,
            'calls': [count(a, '/v1/chat/completions') - count(b, '/v1/chat/completions')
                      for a, b in zip(after, before)],
            'checks': [count(a, '/v1/models') - count(b, '/v1/models') for a, b in zip(after, before)],
        }

    async def recover(self, kind):
        """u1 (the route's first target) broken for 5 s under load, then healed: seconds
        until an answer comes from it again (None: not within RECOVERY_LIMIT)."""
        loop = asyncio.get_running_loop()
        await self.set_fault(0, fault_for(kind, random.Random(SEED)))
        self.phase = 'recovery'
        await asyncio.sleep(5)
        await self.set_fault(0, {})
        healed = loop.time()
        seen = len(self.results)
        while loop.time() < healed + RECOVERY_LIMIT:
            for r in self.results[seen:]:
                if r[4] == 'u1' and r[2] >= healed:
                    self.phase = 'settle'
                    self.recovery.append((kind, r[2] - healed))
                    return
            await asyncio.sleep(0.02)
        self.phase = 'settle'
        self.recovery.append((kind, None))

    async def probe_streams(self):
        """One stream with every upstream healthy; a gateway that fails it is driven
        with non-streaming requests only (what it does with streams is then known)."""
        loop = asyncio.get_running_loop()
        head, body, ended = await exchange(self.port, self.raw(0, 0, True), loop.time() + CLIENT_DEADLINE)
        cls, _, what = classify(head, body, ended)
        if cls != 'full':
            self.streams = False
            self.stream_failure = '%s %s' % (cls, what or '')
            print('  %s fails a stream with no fault (%s): its clients send no streams' % (
                self.name, self.stream_failure), flush=True)

    async def drive(self, plan, seconds):
        await self.probe_streams()
        tasks = [asyncio.create_task(self.client(i)) for i in range(CLIENTS)]
        if TIMELINE and self.name == 'detour':
            tasks.append(asyncio.create_task(self.sample_circuits()))
        try:
            await asyncio.sleep(1)
            await self.chaos(plan, seconds)
            await asyncio.sleep(3)
            if OUTAGE_SECONDS > 0:
                await self.total_outage(OUTAGE_SECONDS)
                await asyncio.sleep(3)
            for kind in ('503', 'reset', 'hang')[:RECOVERY_TRIALS] if RECOVERY_TRIALS <= 3 else \
                    [('503', 'reset', 'hang')[k % 3] for k in range(RECOVERY_TRIALS)]:
                await self.recover(kind)
                await asyncio.sleep(2)
        finally:
            self.phase = 'stop'
            await asyncio.gather(*tasks, return_exceptions=True)

    def counts(self, phase):
        c = {k: 0 for k in CLASSES}
        for r in self.results:
            if r[0] == phase:
                c[r[3]] += 1
        return c

    def errors(self, phase):
        c = {}
        for r in self.results:
            if r[0] == phase and r[3] != 'full' and r[3] != 'degraded':
                key = '%s: %s' % (r[3], r[5]) if r[5] else r[3]
                key += ' (stream)' if r[6] else ''
                c[key] = c.get(key, 0) + 1
        return sorted(c.items(), key=lambda kv: -kv[1])


def run_gateway(name, starter, plan, seconds):
    """Fresh mocks, the gateway, the schedule; returns (Run, problems) or (None, [])."""
    mocks = [start_mock(u) for u in UPSTREAMS]
    started = starter(mocks)
    if started is None:
        for m in mocks:
            m.stop()
            procs.remove(m)
        return None, []
    port, gw, headers = started
    print('%s: %d s of faults, then a %d s outage and %d recovery trials' % (
        name, seconds, OUTAGE_SECONDS, RECOVERY_TRIALS), flush=True)
    run = Run(name, port, headers, mocks)
    asyncio.run(run.drive(plan, seconds))
    problems = []
    for p in [gw] + mocks:
        problems += p.stop()
        procs.remove(p)
    summarize(run)
    return run, problems


def pct(n, total):
    return '%d (%.1f %%)' % (n, 100.0 * n / total) if total else '0'


def summarize(run):
    c = run.counts('chaos')
    total = sum(c.values())
    print('  %d requests in %.0f s: %s' % (total, run.seconds, ', '.join(
        '%s %s' % (CLASS_NAMES[k], pct(c[k], total)) for k in CLASSES)), flush=True)
    for key, n in run.errors('chaos')[:8]:
        print('    %6d  %s' % (n, key), flush=True)
    if run.outage:
        o = run.counts('outage')
        print('  outage %.0f s: %d requests, %d answered; calls per upstream %s, health checks %s' % (
            run.outage['seconds'], sum(o.values()), o['full'] + o['degraded'],
            run.outage['calls'], run.outage['checks']), flush=True)
    for kind, secs in run.recovery:
        print('  recovery after %s: %s' % (kind, '%.2f s' % secs if secs is not None else
                                            'none within %.0f s' % RECOVERY_LIMIT), flush=True)


# --- the timeline (CHAOS_TIMELINE) -------------------------------------------

def attempts_of(body):
    """A 503's attempts as 'upstream:reason' words."""
    try:
        text = dechunk(body).decode() if not body.lstrip().startswith(b'{') else body.decode()
        err = json.loads(text)['error']
        return ' '.join('%s:%s' % (a.get('upstream'), (a.get('skipped') or a.get('error') or str(a.get('status'))).replace(' ', '_'))
                        for a in err.get('attempts') or [])
    except (ValueError, KeyError, TypeError, AttributeError):
        return '?'


def circuit_letters(c):
    letters = {'closed': 'c', 'open': 'o', 'half_open': 'h'}.get(c.get('state'), '?')
    if c.get('retry_after_until'):
        letters += '+'
    if c.get('probes_in_flight'):
        letters += '*'
    return letters


def timeline(run, plan):
    """Second by second: each upstream's fault and sampled circuit, answers, 503s and the first 503's attempts."""
    if run.chaos_t0 is None:
        return ''
    seconds = int(run.seconds) + 1
    full = [0] * seconds
    refused = [0] * seconds
    other = [0] * seconds
    for phase, started, _, cls, _, what, _ in run.results:
        s = int(started - run.chaos_t0)
        if phase != 'chaos' or not 0 <= s < seconds:
            continue
        if cls in ('full', 'degraded'):
            full[s] += 1
        elif what == '503 no_upstream_available':
            refused[s] += 1
        else:
            other[s] += 1
    circuits = [{u: '' for u in UPSTREAMS} for _ in range(seconds)]
    for at, c in run.samples:
        s = int(at - run.chaos_t0)
        if 0 <= s < seconds:
            for u in UPSTREAMS:
                circuits[s][u] += (c.get(u, '?') + ' ')
    kinds = ['healthy'] * len(UPSTREAMS)
    changes = iter(plan)
    pending = next(changes, None)
    lines = ['second  ' + '  '.join('%-28s' % u for u in UPSTREAMS) + '  full  503  other  first 503']
    for s in range(seconds):
        marks = ['' for _ in UPSTREAMS]
        while pending is not None and pending[0] < s + 1:
            kinds[pending[1]] = pending[2]
            marks[pending[1]] += '@%.1f' % (pending[0] - s)
            pending = next(changes, None)
        lines.append('%6d  %s  %4d %4d %6d  %s' % (s, '  '.join('%-28s' % ('%s%s %s' % (
            kinds[i], marks[i], circuits[s][u].strip()))[:28] for i, u in enumerate(UPSTREAMS)),
            full[s], refused[s], other[s], run.refusals.get(s, '')))
    healthy_refused = sum(refused)
    lines.append('503 no_upstream_available in %d of %d seconds; %d in all' % (
        sum(1 for n in refused if n), seconds, healthy_refused))
    return '\n'.join(lines) + '\n'


# --- the report --------------------------------------------------------------


def portkey_version():
    try:
        with open(os.path.join(os.path.dirname(os.path.dirname(PORTKEY)), 'package.json')) as f:
            return json.load(f).get('version', '?')
    except (OSError, ValueError):
        return '(not installed)'


def nginx_version():
    try:
        out = subprocess.run(['nginx', '-v'], capture_output=True, text=True, timeout=10).stderr
        return out.strip().split(': ', 1)[-1].replace('/', ' ')
    except (OSError, subprocess.TimeoutExpired):
        return 'nginx'


def node_version():
    try:
        return subprocess.run(['node', '--version'], capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return '(none)'


def recovery_cell(run):
    if not run.recovery:
        return '—'
    parts = ['%s %s' % (kind, '%.2f s' % s if s is not None else '> %.0f s' % RECOVERY_LIMIT)
             for kind, s in run.recovery]
    return ', '.join(parts)


def report(runs):
    heads = [r.name for r in runs]
    lines = ['## Chaos', '',
             'Written by `make chaos` (tests/chaos/chaos.py) from one run on the machine below, every process on '
             '127.0.0.1.', '', 'Machine: ' + machine.describe(), '',
             'Method: three detour-mock upstreams behind one route (fallback in order u1, u2, u3). A fault '
             'schedule seeded with %d changes each upstream\'s fault every 2–5 s among 503, 429 with Retry-After '
             '1–30 s, TCP resets, hangs, slow first bytes (0.5–5 s), malformed JSON, cut streams and stalled '
             'streams, at least one upstream healthy at every instant. %d clients (half streaming) send chat '
             'completions with unique prompts on fresh connections, so nothing comes from a cache. detour: '
             'request_timeout 10 s, per upstream connect 1 s, first_byte 3 s, idle 3 s, 1 retry, breaker of 3 '
             'failures in 10 s with a 3 s cooldown, health checks every 1 s. The Node gateway '
             '(`@portkey-ai/gateway` %s on Node %s, fallback config over the same three, request_timeout 10 s) and %s '
             '(next upstream on error, timeout, 429, 502, 503; read timeout 3 s; a failed server rests 3 s) '
             'run the first %d s of the same schedule.' % (SEED, CLIENTS, portkey_version(), node_version(),
                                                           nginx_version(), PEER_SECONDS), '',
             'Each request is one of: a full answer (whole JSON, or a stream with a finish_reason and `[DONE]`); '
             'a degraded answer (`x-detour-degraded`); an honest error (OpenAI-shaped error JSON, or a stream '
             'ending in an error event); a silent truncation (a 200 stream without finish_reason/`[DONE]` and '
             'no error event, or a 200 body that is not whole JSON); a hang (no answer within %d s); a reset '
             '(closed without an answer); an error that is not OpenAI-shaped.' % CLIENT_DEADLINE, '',
             '| | ' + ' | '.join(heads) + ' |', '|---|' + '---:|' * len(runs)]

    def row(label, cells):
        lines.append('| %s | %s |' % (label, ' | '.join(cells)))
    row('seconds of faults', ['%.0f' % r.seconds for r in runs])
    totals = [sum(r.counts('chaos').values()) for r in runs]
    row('requests', ['%d' % t for t in totals])
    for k in CLASSES:
        row(CLASS_NAMES[k], [pct(r.counts('chaos')[k], t) for r, t in zip(runs, totals)])
    if any(r.outage for r in runs):
        row('total outage: seconds', ['%.0f' % r.outage['seconds'] if r.outage else '—' for r in runs])
        row('total outage: requests, answered', ['%d, %d' % (
            sum(r.counts('outage').values()), r.counts('outage')['full'] + r.counts('outage')['degraded'])
            if r.outage else '—' for r in runs])
        row('total outage: calls to u1, u2, u3', [', '.join(str(n) for n in r.outage['calls'])
                                                  if r.outage else '—' for r in runs])
        row('total outage: health checks to u1, u2, u3', [', '.join(str(n) for n in r.outage['checks'])
                                                          if r.outage else '—' for r in runs])
    row('recovery: u1 broken 5 s, healed, until it answers again', [recovery_cell(r) for r in runs])
    for r in runs:
        if not r.streams:
            lines += ['', '%s failed a stream with every upstream healthy (%s), so its clients sent no streams.'
                      % (r.name, r.stream_failure.strip())]
    for r in runs:
        errs = r.errors('chaos')
        if errs:
            lines += ['', '%s, what was not a full answer: %s.' % (r.name, '; '.join(
                '%d %s' % (n, key) for key, n in errs[:10]))]
    return '\n'.join(lines) + '\n'


def write_docs(section, heading='## Chaos'):
    """Replaces the section under heading in docs/benchmarks.md (or appends it), keeping the others."""
    path = os.path.join(ROOT, 'docs', 'benchmarks.md')
    # newline='': other sections may quote answers with \r in them; they stay byte for byte.
    try:
        with open(path, newline='') as f:
            text = f.read()
    except FileNotFoundError:
        text = '# Benchmarks\n'
    m = re.search(r'^%s\n.*?(?=^## |\Z)' % re.escape(heading), text, flags=re.M | re.S)
    if m:
        text = text[:m.start()] + section + ('\n' if text[m.end():] else '') + text[m.end():]
    else:
        text = text.rstrip('\n') + '\n\n' + section
    with open(path, 'w', newline='') as f:
        f.write(text)


# --- the cut-streams run (CHAOS_CUTS=1) ---------------------------------------

async def cuts_drive(run, plan, seconds):
    """Streams only, under the cut schedule, no outage or recovery trials."""
    run.all_streams = True
    await run.probe_streams()
    tasks = [asyncio.create_task(run.client(i)) for i in range(CLIENTS)]
    try:
        await asyncio.sleep(1)
        await run.chaos(plan, seconds)
    finally:
        run.phase = 'stop'
        await asyncio.gather(*tasks, return_exceptions=True)
    run.metrics = await scrape(run.port)


async def scrape(port):
    """detourd's counters that explain a cut-streams run: {name{labels}: value}."""
    loop = asyncio.get_running_loop()
    head, body, _ = await exchange(port, b'GET /metrics HTTP/1.1\r\nHost: chaos\r\nConnection: close\r\n\r\n',
                                   loop.time() + 5)
    if head is None:
        return {}
    if 'chunked' in headers_of(head)[1].get('transfer-encoding', '').lower():
        body = dechunk(body)
    out = {}
    for line in body.decode('utf-8', 'replace').split('\n'):
        if line.startswith(('detour_stream_continuations_total', 'detour_retry_budget_refusals_total',
                            'detour_stream_cuts_total')):
            name, _, value = line.rpartition(' ')
            out[name] = float(value)
    return out


def metric_sum(metrics, prefix, word=''):
    return int(sum(v for k, v in metrics.items() if k.startswith(prefix) and word in k))


def cuts_run(on_cut, plan):
    """One detour under the cut schedule with streams.on_cut set; returns (Run, problems)."""
    mocks = [start_mock(u) for u in UPSTREAMS]
    port, gw, headers = start_detour(mocks, on_cut=on_cut)
    print('detour, on_cut: %s: %d s of random stream cuts on u1 and u2' % (on_cut, CUTS_SECONDS), flush=True)
    run = Run('on_cut: ' + on_cut, port, headers, mocks)
    asyncio.run(cuts_drive(run, plan, CUTS_SECONDS))
    problems = []
    for p in [gw] + mocks:
        problems += p.stop()
        procs.remove(p)
    summarize(run)
    return run, problems


def cuts_report(runs):
    lines = ['## Chaos: cut streams', '',
             'Written by `make chaos-cuts` (tests/chaos/chaos.py, `CHAOS_CUTS=1`) from one run on the machine '
             'below, every process on 127.0.0.1.', '', 'Machine: ' + machine.describe(), '',
             'Method: three detour-mock upstreams behind one route (u1, u2, u3 in order); every answer a stream of '
             '8 content chunks 10 ms apart. Seeded with %d, u1 and u2 change every 0.5–2 s among a TCP reset after '
             '1–5 content chunks (twice as likely), an error event after 1–5, and healthy; u3 stays healthy. '
             'Breakers are set not to open (1000 failures), so every cut reaches a stream. %d clients stream chat '
             'completions with unique prompts for %d s, once with `streams.on_cut: error` and once with '
             '`continue` (`max_continuations: 2`), the same schedule. A stream is whole when it has a '
             'finish_reason and `[DONE]` and no error event; ends with an error event; or is silently short '
             '(neither: never expected).' % (SEED, CLIENTS, CUTS_SECONDS), '',
             '| streams.on_cut | streams | whole | error event | silently short | other | cuts | continued ok, '
             'failed | retry budget refusals |',
             '|---|---:|---:|---:|---:|---:|---:|---:|---:|']
    for r in runs:
        c = r.counts('chaos')
        total = sum(c.values())
        other = total - c['full'] - c['degraded'] - c['error'] - c['truncation']
        m = getattr(r, 'metrics', {})
        lines.append('| %s | %d | %s | %s | %s | %s | %d | %d, %d | %d |' % (
            r.name.split(': ', 1)[1], total, pct(c['full'] + c['degraded'], total), pct(c['error'], total),
            pct(c['truncation'], total), pct(other, total), metric_sum(m, 'detour_stream_cuts_total'),
            metric_sum(m, 'detour_stream_continuations_total', 'result="ok"'),
            metric_sum(m, 'detour_stream_continuations_total', 'result="failed"'),
            metric_sum(m, 'detour_retry_budget_refusals_total')))
    shares = [(r.counts('chaos')['full'] + r.counts('chaos')['degraded']) / max(1, sum(r.counts('chaos').values()))
              for r in runs]
    if len(shares) == 2:
        lines += ['', 'With `continue`, %.1f %% of streams end whole against %.1f %% with `error`. A continuation '
                  'holds a unit of the retry budget (20 %% of the requests in flight, at least 3) from the cut to '
                  'its first delta, as a retry does until its answer: the refusals column counts the cuts the '
                  'budget kept from continuing because too many were being handed over at that moment (they end '
                  'with the error event).' % (100 * shares[1], 100 * shares[0])]
    return '\n'.join(lines) + '\n'


def cuts_main():
    plan = cuts_schedule(SEED, CUTS_SECONDS)
    runs = []
    problems = []
    try:
        for on_cut in ('error', 'continue'):
            run, probs = cuts_run(on_cut, plan)
            runs.append(run)
            problems += ['%s: %s' % (run.name, p) for p in probs]
            broken = {k: sum(1 for r in run.results if r[0] == 'chaos' and r[3] == k) for k in BROKEN}
            if STRICT and any(broken.values()):
                problems.append('%s: %s' % (run.name, ', '.join(
                    '%s %d' % (CLASS_NAMES[k], n) for k, n in broken.items() if n)))
    finally:
        for p in list(procs):
            p.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    section = cuts_report(runs)
    print('\n' + section)
    if DOCS:
        write_docs(section, '## Chaos: cut streams')
    if problems:
        print('chaos: FAILED\n' + '\n'.join(problems), file=sys.stderr)
        sys.exit(1)
    print('chaos: ok')


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if CUTS:
        cuts_main()
        return
    plan = schedule(SEED, SECONDS)
    runs = []
    problems = []
    try:
        gateways = [('detour', start_detour, SECONDS)]
        if PEERS:
            gateways += [('Node gateway', start_portkey, PEER_SECONDS), ('nginx', start_nginx, PEER_SECONDS)]
        for name, starter, seconds in gateways:
            run, probs = run_gateway(name, starter, plan, seconds)
            if run is not None:
                runs.append(run)
                if TIMELINE and name == 'detour':
                    with open(TIMELINE, 'w') as f:
                        f.write(timeline(run, plan))
            problems += ['%s: %s' % (name, p) for p in probs] if name == 'detour' else []
    finally:
        for p in list(procs):
            p.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    section = report(runs)
    print('\n' + section)
    if DOCS:
        write_docs(section)
    detour = runs[0]
    broken = {k: sum(1 for r in detour.results if r[3] == k) for k in BROKEN}
    if STRICT and any(broken.values()):
        problems.append('detour: %s' % ', '.join('%s %d' % (CLASS_NAMES[k], n) for k, n in broken.items() if n))
    if problems:
        print('chaos: FAILED\n' + '\n'.join(problems), file=sys.stderr)
        sys.exit(1)
    print('chaos: ok')


if __name__ == '__main__':
    main()
