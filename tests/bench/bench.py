"""bench.py — detour against going direct, nginx and a Node gateway, in one run (make bench).

Every process runs on 127.0.0.1 and is stopped at the end; the run takes a few
minutes. The table goes to stdout and to docs/benchmarks.md.
"""
import json
import os
import platform
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, '..', '..'))
BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, 'build'))
SECONDS = int(os.environ.get('BENCH_SECONDS', '5'))
CONNECTIONS = int(os.environ.get('BENCH_CONNECTIONS', '64'))
STREAMS = [int(n) for n in os.environ.get('BENCH_STREAMS', '1000,5000').split(',') if n]
PORTKEY = os.path.join(HERE, 'node_modules', '@portkey-ai', 'gateway', 'build', 'start-server.js')

sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, '..'))
import machine  # noqa: E402
import processes  # noqa: E402
import streams  # noqa: E402
from processes import free_port  # noqa: E402

procs = []
workdir = tempfile.mkdtemp(prefix='detour-bench-')


def wait_port(port, timeout=15):
    processes.wait_port(port, timeout)


def start(argv, port, env=None, name=None):
    log = open(os.path.join(workdir, (name or os.path.basename(argv[0])) + '-%d.log' % port), 'w')
    p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ, **(env or {})))
    procs.append(p)
    wait_port(port)
    return p


def stop(p):
    # The bench measures; how a process ended is not its concern.
    processes.stop(p, os.path.basename(p.args[0]), 15)
    if p in procs:
        procs.remove(p)


def mock(*args):
    port = free_port()
    start([os.path.join(BUILD, 'detour-mock'), '--listen', '127.0.0.1:%d' % port] + list(args), port, name='mock')
    return port


def detour(primary_url, backup_url, extra='', workers=0, upstream_extra='', wrapper=()):
    port = free_port()
    path = os.path.join(workdir, 'detour-%d.yaml' % port)
    with open(path, 'w') as f:
        f.write('server:\n  listen: 127.0.0.1:%d\n  workers: %d\n  max_connections: 40000\n' % (port, workers))
        f.write('  max_body: 8MiB\n')
        f.write('auth:\n  admin_token_env: BENCH_ADMIN\n')
        f.write('upstreams:\n')
        for name, url in (('primary', primary_url), ('backup', backup_url)):
            f.write('  %s: { base_url: "%s", retries: { attempts: 0 }, '
                    'timeouts: { connect: 1s, first_byte: 30s, idle: 30s, total: 60s }%s }\n' % (name, url, upstream_extra))
        f.write('models:\n  "*":\n    targets: [ { upstream: primary }, { upstream: backup } ]\n' + extra)
    p = start(list(wrapper) + [os.path.join(BUILD, 'detourd'), '-c', path], port, env={'BENCH_ADMIN': 'bench'},
              name='detourd')
    return port, p


def force_closed(port, upstream='primary'):
    import http.client
    c = http.client.HTTPConnection('127.0.0.1', port, timeout=5)
    c.request('POST', '/admin/circuits/' + upstream, body='{"state":"closed"}',
              headers={'Authorization': 'Bearer bench', 'Content-Type': 'application/json'})
    assert c.getresponse().status == 200
    c.close()


def nginx(primary_port, backup_port=None):
    """nginx as a reverse proxy with upstream keep-alive; with backup_port, the backup
    takes over on connection errors and 503s (nginx's own fallback)."""
    if shutil.which('nginx') is None:
        return None, None
    port = free_port()
    d = tempfile.mkdtemp(dir=workdir)
    servers = 'server 127.0.0.1:%d max_fails=1 fail_timeout=10s;' % primary_port
    if backup_port:
        servers += ' server 127.0.0.1:%d backup;' % backup_port
    conf = os.path.join(d, 'nginx.conf')
    with open(conf, 'w') as f:
        f.write('''worker_processes auto;
pid %(d)s/nginx.pid;
error_log %(d)s/error.log crit;
daemon off;
events { worker_connections 20000; }
http {
  access_log off;
  client_body_temp_path %(d)s;
  proxy_temp_path %(d)s;
  client_max_body_size 8m;
  client_body_buffer_size 1m;
  upstream up { %(servers)s keepalive 256; }
  server {
    listen 127.0.0.1:%(port)d;
    location / {
      proxy_pass http://up;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_next_upstream error timeout http_503 non_idempotent;
    }
  }
}
''' % {'d': d, 'servers': servers, 'port': port})
    p = start(['nginx', '-c', conf, '-p', d], port, name='nginx')
    return port, p


def portkey(primary_url, backup_url):
    if not os.path.exists(PORTKEY) or shutil.which('node') is None:
        return None, None, None
    port = free_port()
    p = start(['node', PORTKEY, '--port=%d' % port, '--headless'], port, env={'NODE_ENV': 'production'},
              name='portkey')
    config = json.dumps({'strategy': {'mode': 'fallback'}, 'targets': [
        {'provider': 'openai', 'api_key': 'sk-bench', 'custom_host': primary_url},
        {'provider': 'openai', 'api_key': 'sk-bench', 'custom_host': backup_url}]})
    time.sleep(0.5)
    return port, p, config


def to_ms(text):
    value, unit = re.match(r'([\d.]+)(\w+)', text).groups()
    return float(value) * {'us': 0.001, 'ms': 1.0, 's': 1000.0, 'm': 60000.0}[unit]


def wrk(port, body_file=None, portkey_config=None, connections=None, threads=None, seconds=None,
        path='/v1/chat/completions'):
    env = dict(os.environ)
    if body_file:
        env['BODY_FILE'] = body_file
    if portkey_config:
        env['PORTKEY_CONFIG'] = portkey_config
    c = connections or CONNECTIONS
    secs = seconds or SECONDS
    out = subprocess.run(['wrk', '-t%d' % (threads or min(2, c)), '-c%d' % c, '-d%ds' % secs, '--latency', '-s',
                          os.path.join(HERE, 'post.lua'), 'http://127.0.0.1:%d%s' % (port, path)],
                         capture_output=True, text=True, env=env, timeout=secs + 60).stdout
    try:
        rps = float(re.search(r'Requests/sec:\s+([\d.]+)', out).group(1))
        p50 = to_ms(re.search(r'^\s*50%\s+(\S+)', out, re.M).group(1))
        p99 = to_ms(re.search(r'^\s*99%\s+(\S+)', out, re.M).group(1))
        total = int(re.search(r'(\d+) requests in', out).group(1))
    except (AttributeError, ValueError):
        raise RuntimeError('could not read wrk output:\n' + out)
    errors = 0
    m = re.search(r'Non-2xx or 3xx responses: (\d+)', out)
    if m:
        errors += int(m.group(1))
    m = re.search(r'Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)', out)
    if m:
        errors += sum(int(g) for g in m.groups())
    return {'rps': rps, 'p50': p50, 'p99': p99, 'errors': errors, 'total': total}


rows = []
latency = {}
# What a fallback adds to one request's p50, by the primary's failure: the median of each round's difference.
fallback_added = {}
FALLBACK_ROUNDS = int(os.environ.get('BENCH_FALLBACK_ROUNDS', '5'))
FALLBACK_SECONDS = 3
ROUNDS = int(os.environ.get('BENCH_ROUNDS', '3'))


def median_result(results):
    """The run with the median requests a second (its latencies come with it)."""
    ordered = sorted(results, key=lambda r: r['rps'])
    return ordered[len(ordered) // 2]


def record(scenario, who, result):
    rows.append((scenario, who, result))
    print('  %-34s %-28s %10.0f req/s  p50 %7.2f ms  p99 %8.2f ms  errors %d' %
          (scenario, who, result['rps'], result['p50'], result['p99'], result['errors']), flush=True)


def body_file(size):
    path = os.path.join(workdir, 'body-%d.json' % size)
    filler = 'x' * max(0, size - 80)
    with open(path, 'w') as f:
        json.dump({'model': 'gpt-4o', 'messages': [{'role': 'user', 'content': filler}]}, f)
    return path


def rss_kib(pid):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    return 0


def streams_with_peak_rss(port, pid, n):
    """n concurrent streams through port, with pid's peak RSS (KiB) sampled every 50 ms meanwhile:
    (complete, failed, seconds, peak)."""
    peak = [rss_kib(pid)]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], rss_kib(pid))
            time.sleep(0.05)

    t = threading.Thread(target=sample)
    t.start()
    try:
        ok, failed, secs = streams.run_concurrent(port, n)
    finally:
        done.set()
        t.join()
    return ok, failed, secs, peak[0]



def http_scenarios():
    healthy = mock('--name', 'healthy')
    healthy_url = 'http://127.0.0.1:%d/v1' % healthy
    unavailable = mock('--name', 'unavailable', '--status', '503')
    refused = free_port()

    print('healthy primary (%d rounds, medians)' % ROUNDS, flush=True)
    nport, np_ = nginx(healthy)
    dport, dp = detour(healthy_url, healthy_url)
    runs = {'direct (detour-mock)': [], 'nginx': [], 'detour': []}
    for _ in range(ROUNDS):
        runs['direct (detour-mock)'].append(wrk(healthy))
        if nport:
            runs['nginx'].append(wrk(nport))
        runs['detour'].append(wrk(dport))
    for who, results in runs.items():
        if results:
            record('healthy', who, median_result(results))
    if np_:
        stop(np_)
    stop(dp)
    pport, pp, pcfg = portkey(healthy_url, healthy_url)
    if pport:
        record('healthy', 'portkey (Node)', wrk(pport, portkey_config=pcfg))
        stop(pp)

    # What a fallback costs one request: one connection, so no queueing hides or inflates it.
    # A difference of some 0.05 ms between two runs is within one run's noise on a shared
    # machine, so the three run in turn, FALLBACK_ROUNDS times: each row is its median round by
    # p50, and what a fallback adds is the median of each round's difference from the healthy
    # run just before it, which a machine that slows for a while moves much less.
    print('latency of one request at a time (%d rounds)' % FALLBACK_ROUNDS, flush=True)
    cases = [('healthy', 'detour, healthy primary', healthy_url),
             ('refused', 'detour, fallback over a refused primary', 'http://127.0.0.1:%d/v1' % refused),
             ('503', 'detour, fallback over a 503 primary', 'http://127.0.0.1:%d/v1' % unavailable)]
    servers = [detour(primary_url, healthy_url) for _key, _what, primary_url in cases]
    one = {key: [] for key, _what, _url in cases}
    for _ in range(FALLBACK_ROUNDS):
        for (key, _what, _url), (dport, _dp) in zip(cases, servers):
            force_closed(dport)
            one[key].append(wrk(dport, connections=1, seconds=FALLBACK_SECONDS))
    for (key, what, _url), (_dport, dp) in zip(cases, servers):
        latency[key] = sorted(one[key], key=lambda r: r['p50'])[len(one[key]) // 2]
        fallback_added[key] = statistics.median(r['p50'] - h['p50'] for r, h in zip(one[key], one['healthy']))
        record('one connection', what, latency[key])
        stop(dp)

    for name, primary_port in (('primary refuses connections', refused), ('primary answers 503', unavailable)):
        print(name, flush=True)
        primary_url = 'http://127.0.0.1:%d/v1' % primary_port
        nport, np_ = nginx(primary_port, healthy)
        if nport:
            record(name, 'nginx (backup server)', wrk(nport))
            stop(np_)
        dport, dp = detour(primary_url, healthy_url)
        record(name, 'detour (breaker opens)', wrk(dport))
        stop(dp)
        dport, dp = detour(primary_url, healthy_url)
        force_closed(dport)
        record(name, 'detour (fallback every request)', wrk(dport))
        stop(dp)
        pport, pp, pcfg = portkey(primary_url, healthy_url)
        if pport:
            record(name, 'portkey (Node)', wrk(pport, portkey_config=pcfg))
            stop(pp)

    for size in (1024, 10 * 1024, 100 * 1024):
        name = 'body %d KB' % (size // 1024)
        print(name, flush=True)
        path = body_file(size)
        record(name, 'direct (detour-mock)', wrk(healthy, body_file=path))
        nport, np_ = nginx(healthy)
        if nport:
            record(name, 'nginx', wrk(nport, body_file=path))
            stop(np_)
        dport, dp = detour(healthy_url, healthy_url)
        record(name, 'detour', wrk(dport, body_file=path))
        stop(dp)
        pport, pp, pcfg = portkey(healthy_url, healthy_url)
        if pport:
            record(name, 'portkey (Node)', wrk(pport, body_file=path, portkey_config=pcfg))
            stop(pp)


# --- one worker against one nginx worker ------------------------------------------------------

# The static upstream's answers: what a chat completion and a Responses API answer look like.
STATIC_CHAT = json.dumps({
    'id': 'chatcmpl-bench', 'object': 'chat.completion', 'created': 1700000000, 'model': 'gpt-4o',
    'choices': [{'index': 0, 'message': {'role': 'assistant', 'content': 'Hello! How can I help you today?'},
                 'finish_reason': 'stop', 'logprobs': None}],
    'usage': {'prompt_tokens': 9, 'completion_tokens': 9, 'total_tokens': 18}}, separators=(',', ':'))
STATIC_RESPONSE = json.dumps({
    'id': 'resp_bench', 'object': 'response', 'created_at': 1700000000, 'status': 'completed', 'model': 'gpt-4o',
    'output': [{'type': 'message', 'id': 'msg_bench', 'status': 'completed', 'role': 'assistant',
                'content': [{'type': 'output_text', 'text': 'Hello! How can I help you today?', 'annotations': []}]}],
    'usage': {'input_tokens': 9, 'output_tokens': 9, 'total_tokens': 18}}, separators=(',', ':'))
ONE_CONNECTIONS = 32
STREAMED = 'chat completion, streamed (%d chunks)'
one_rows = []
one_stream_rows = []


def nginx_conf(d, body):
    conf = os.path.join(d, 'nginx.conf')
    with open(conf, 'w') as f:
        f.write('worker_processes 1;\npid %(d)s/nginx.pid;\nerror_log %(d)s/error.log crit;\ndaemon off;\n'
                'events { worker_connections 20000; }\n'
                'http {\n  access_log off;\n  client_body_temp_path %(d)s;\n  proxy_temp_path %(d)s;\n'
                '  client_max_body_size 8m;\n  client_body_buffer_size 1m;\n  keepalive_requests 1000000;\n'
                '%(body)s\n}\n' % {'d': d, 'body': body})
    return conf


STREAM_CHUNKS = 8


def static_stream(n=STREAM_CHUNKS):
    """A streamed chat completion of n chat.completion.chunk events (the role, n - 2 pieces of text, the
    finish) and data: [DONE], as an nginx return string (nginx turns \\n into a newline)."""
    words = ['Hello!', ' How', ' can', ' I', ' help', ' you', ' today', '?']

    def chunk(delta, finish=None):
        return 'data: ' + json.dumps({
            'id': 'chatcmpl-bench', 'object': 'chat.completion.chunk', 'created': 1700000000, 'model': 'gpt-4o',
            'system_fingerprint': 'fp_bench',
            'choices': [{'index': 0, 'delta': delta, 'logprobs': None, 'finish_reason': finish}]},
            separators=(',', ':')) + '\\n\\n'
    events = [chunk({'role': 'assistant', 'content': '', 'refusal': None})]
    events += [chunk({'content': words[i % len(words)]}) for i in range(n - 2)]
    events.append(chunk({}, 'stop'))
    return ''.join(events) + 'data: [DONE]\\n\\n'


def nginx_static():
    """One nginx worker answering every chat completion and Responses call with a fixed body, and a
    second server (the returned stream_port) answering every chat completion with a fixed
    text/event-stream of STREAM_CHUNKS chunks. Returns (port, stream_port, process)."""
    port, stream_port = free_port(), free_port()
    d = tempfile.mkdtemp(dir=workdir)
    body = ('  server {\n    listen 127.0.0.1:%d;\n'
            "    location /v1/chat/completions { default_type application/json; return 200 '%s'; }\n"
            "    location /v1/responses { default_type application/json; return 200 '%s'; }\n  }\n"
            '  server {\n    listen 127.0.0.1:%d;\n'
            "    location /v1/chat/completions { default_type text/event-stream; return 200 '%s'; }\n  }"
            % (port, STATIC_CHAT, STATIC_RESPONSE, stream_port, static_stream()))
    p = start(['nginx', '-c', nginx_conf(d, body), '-p', d], port, name='nginx-static')
    wait_port(stream_port)
    return port, stream_port, p


def nginx_one(upstream_port):
    """One nginx worker proxying to upstream_port with upstream keep-alive."""
    port = free_port()
    d = tempfile.mkdtemp(dir=workdir)
    body = ('  upstream up { server 127.0.0.1:%d; keepalive 256; }\n'
            '  server {\n    listen 127.0.0.1:%d;\n    location / {\n      proxy_pass http://up;\n'
            '      proxy_http_version 1.1;\n      proxy_set_header Connection "";\n      proxy_buffering off;\n'
            '    }\n  }' % (upstream_port, port))
    p = start(['nginx', '-c', nginx_conf(d, body), '-p', d], port, name='nginx-one')
    return port, p


def worker_pid(p):
    """The process doing the work: nginx's one worker (the master's child), or detourd itself."""
    try:
        with open('/proc/%d/task/%d/children' % (p.pid, p.pid)) as f:
            children = f.read().split()
    except OSError:
        children = []
    return int(children[0]) if children else p.pid


def cpu_split(pid):
    """(utime, stime) of pid in clock ticks: fields 14 and 15 of /proc/PID/stat."""
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return int(fields[11]), int(fields[12])


def cpu_ticks(pid):
    return sum(cpu_split(pid))


def measured(pid, port, path, body):
    """One wrk run, with the CPU time pid spent during it, per request (and its user and kernel parts)."""
    before = cpu_split(pid)
    r = wrk(port, body_file=body, connections=ONE_CONNECTIONS, threads=1, path=path)
    after = cpu_split(pid)
    per = 1e6 / os.sysconf('SC_CLK_TCK') / max(1, r['total'])
    r['user_us'] = (after[0] - before[0]) * per
    r['sys_us'] = (after[1] - before[1]) * per
    r['cpu_us'] = r['user_us'] + r['sys_us']
    return r


def strace_counts(pid, run):
    """Syscalls of pid (every thread) while run() runs, counted by strace -c -f: (run's result, calls by
    name, failed calls by name), or None without strace."""
    if shutil.which('strace') is None:
        return None
    out = os.path.join(workdir, 'strace-%d.txt' % pid)
    tracer = subprocess.Popen(['strace', '-c', '-f', '-o', out, '-p', str(pid)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    result = run()
    time.sleep(0.2)
    tracer.send_signal(signal.SIGINT)
    tracer.wait(timeout=30)
    calls, errors = {}, {}
    with open(out) as f:
        for line in f:
            # % time, seconds, usecs/call, calls, [errors,] syscall: the errors column is blank when none failed.
            cols = line.split()
            if len(cols) >= 5 and cols[-1] != 'total' and cols[0][0].isdigit() and cols[3].isdigit():
                calls[cols[-1]] = int(cols[3])
                errors[cols[-1]] = int(cols[4]) if len(cols) >= 6 and cols[4].isdigit() else 0
    return result, calls, errors


def syscalls(pid, port, path, body):
    """Syscalls per request of pid (every thread) over a short extra run under strace -c."""
    traced = strace_counts(pid, lambda: wrk(port, body_file=body, connections=ONE_CONNECTIONS, threads=1,
                                            path=path, seconds=2))
    if traced is None:
        return None
    r, calls, errors = traced
    n = max(1, r['total'])
    per = {name: c / n for name, c in calls.items()}
    return {'total': sum(per.values()), 'calls': per, 'errors': {k: v / n for k, v in errors.items()}}


def library_fixed(s):
    """Of a detour row's syscalls per request, those libmicrohttpd and libcurl make whatever detour
    does (traced to their callers with strace -k): (epoll_ctl, poll, failed recvfrom)."""
    c, e = s['calls'], s.get('errors', {})
    return c.get('epoll_ctl', 0), c.get('poll', 0), e.get('recvfrom', 0)


def syscall_text(s):
    if not s:
        return '—'
    top = sorted(((v, k) for k, v in s['calls'].items() if v >= 0.05), reverse=True)
    return '%.1f: %s' % (s['total'], ', '.join('%s %.1f' % (k, v) for v, k in top))


def one_worker_scenarios():
    """detour with workers: 1 against nginx with worker_processes 1, in front of one static nginx."""
    if shutil.which('nginx') is None:
        return
    print('one worker against one nginx worker (%d rounds, wrk -t1 -c%d)' % (ROUNDS, ONE_CONNECTIONS), flush=True)
    sport, stream_port, sp = nginx_static()
    static_url = 'http://127.0.0.1:%d/v1' % sport
    stream_url = 'http://127.0.0.1:%d/v1' % stream_port
    responses_body = os.path.join(workdir, 'responses.json')
    with open(responses_body, 'w') as f:
        json.dump({'model': 'gpt-4o', 'input': 'Say hello.', 'store': False}, f)
    stream_body = os.path.join(workdir, 'stream.json')
    with open(stream_body, 'w') as f:
        json.dump({'model': 'gpt-4o', 'messages': [{'role': 'user', 'content': 'Say hello.'}], 'stream': True}, f)
    chat = '/v1/chat/completions'
    streamed = STREAMED % STREAM_CHUNKS
    servers = [('nginx', 'chat completion', chat, None) + nginx_one(sport),
               ('detour', 'chat completion', chat, None) + detour(static_url, static_url, workers=1),
               ('detour', 'Responses API, translated to chat', '/v1/responses', responses_body) +
               detour(static_url, static_url, workers=1),
               ('detour', 'Responses API, native', '/v1/responses', responses_body) +
               detour(static_url, static_url, workers=1, upstream_extra=', responses: native'),
               ('nginx', streamed, chat, stream_body) + nginx_one(stream_port),
               ('detour', streamed, chat, stream_body) + detour(stream_url, stream_url, workers=1)]
    for _who, _what, path, body, port, _p in servers:
        wrk(port, body_file=body, connections=ONE_CONNECTIONS, threads=1, path=path, seconds=1)  # warm up
    runs = [[] for _ in servers]
    for _ in range(ROUNDS):
        for i, (_who, _what, path, body, port, p) in enumerate(servers):
            runs[i].append(measured(worker_pid(p), port, path, body))
    for i, (who, what, path, body, port, p) in enumerate(servers):
        r = median_result(runs[i])
        r['cpu_us'] = statistics.median(x['cpu_us'] for x in runs[i])
        r['user_us'] = statistics.median(x['user_us'] for x in runs[i])
        r['sys_us'] = statistics.median(x['sys_us'] for x in runs[i])
        r['syscalls'] = syscalls(worker_pid(p), port, path, body)
        one_rows.append((who, what, r))
        print('  %-8s %-34s %8.0f req/s  p99 %6.2f ms  CPU %5.1f us/request  errors %d  syscalls %s' % (
            who, what, r['rps'], r['p99'], r['cpu_us'], r['errors'], syscall_text(r['syscalls'])), flush=True)
    for _who, _what, _path, _body, _port, p in servers:
        stop(p)
    stop(sp)

    # Concurrent streams through one worker: two descriptors each (the client's and the upstream's).
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    n = 10000 if hard == resource.RLIM_INFINITY or hard >= 2 * 10000 + 256 else 9000
    n = int(os.environ.get('BENCH_ONE_STREAMS', n))
    slow = mock('--name', 'slow1', '--chunks', '10', '--chunk-delay', '300ms')
    slow_url = 'http://127.0.0.1:%d/v1' % slow
    dport, dp = detour(slow_url, slow_url, 'degradation:\n  cache: { entries: 0 }\n', workers=1)
    streams.run_concurrent(dport, 10)
    time.sleep(0.5)
    base = rss_kib(dp.pid)
    ok, failed, secs, peak = streams_with_peak_rss(dport, dp.pid, n)
    time.sleep(2)
    after = rss_kib(dp.pid)
    stop(dp)
    per_stream = (peak - base) / n
    one_stream_rows.append((n, ok, failed, secs, base, peak, per_stream, after, hard))
    print('  %d concurrent streams through one worker: %d complete, %d failed, %.1f s, RSS %d KiB idle, '
          '%d KiB peak, %.1f KiB per stream, %d KiB after' % (n, ok, failed, secs, base, peak, per_stream, after),
          flush=True)
    per_chunk_syscalls()
    stream_memory_owners()


# Streamed answers as they come from a model: one chunk at a time. What a chunk costs is the slope
# between streams of two lengths, so what every stream pays once (connect, head, end) drops out.
CHUNK_COUNTS = (4, 20)
CHUNK_STREAMS = 30
# Short enough that the longer stream ends before detour starts watching its client (100 ms).
CHUNK_DELAY_MS = 4
chunk_rows = []


def per_chunk_syscalls():
    """Syscalls the proxy (nginx's one worker, detour's one worker) makes for each upstream chunk that
    arrives on its own (detour-mock, CHUNK_DELAY_MS apart), CHUNK_STREAMS streams one after another."""
    mocks = {c: mock('--name', 'chunks%d' % c, '--chunks', str(c), '--chunk-delay', '%dms' % CHUNK_DELAY_MS)
             for c in CHUNK_COUNTS}
    for who in ('nginx', 'detour'):
        counts = {}
        for c, mport in mocks.items():
            url = 'http://127.0.0.1:%d/v1' % mport
            port, p = nginx_one(mport) if who == 'nginx' else detour(url, url, workers=1)
            streams.time_to_first_chunk(port, 3)  # warm up
            traced = strace_counts(worker_pid(p), lambda: streams.time_to_first_chunk(port, CHUNK_STREAMS))
            stop(p)
            if traced is None or len(traced[0]) != CHUNK_STREAMS:
                return
            counts[c] = traced[1]
        extra = (CHUNK_COUNTS[1] - CHUNK_COUNTS[0]) * CHUNK_STREAMS
        names = set(counts[CHUNK_COUNTS[0]]) | set(counts[CHUNK_COUNTS[1]])
        per = {k: (counts[CHUNK_COUNTS[1]].get(k, 0) - counts[CHUNK_COUNTS[0]].get(k, 0)) / extra for k in names}
        per = {k: v for k, v in per.items() if v >= 0.05}
        chunk_rows.append((who, {'total': sum(per.values()), 'calls': per}))
        print('  %-8s syscalls per upstream chunk: %s' % (who, syscall_text(chunk_rows[-1][1])), flush=True)


# Where an open stream's memory goes, by whose allocation it is: detourd under valgrind's massif.
MASSIF_STREAMS = 300
massif_rows = []


def massif_snapshots(path):
    """The detailed snapshots of a massif file: [(time, heap bytes, is peak, tree)], a tree being
    [(bytes, frame, children)] below the root."""
    snaps, stack, cur = [], [], None
    with open(path) as f:
        for line in f:
            if line.startswith('snapshot='):
                cur = {'time': 0, 'heap': 0, 'peak': False, 'tree': None}
                snaps.append(cur)
            elif cur is None:
                continue
            elif line.startswith('time='):
                cur['time'] = int(line[5:])
            elif line.startswith('mem_heap_B='):
                cur['heap'] = int(line[11:])
            elif line.startswith('heap_tree='):
                cur['peak'] = line.strip() == 'heap_tree=peak'
                if line.strip() != 'heap_tree=empty':
                    cur['tree'], stack = [], []
            else:
                m = re.match(r'^( *)n\d+: (\d+) (.*)$', line.rstrip('\n'))
                if m and cur['tree'] is not None:
                    depth, node = len(m.group(1)), (int(m.group(2)), m.group(3), [])
                    del stack[depth:]
                    if depth == 0:
                        cur['tree'].append(node)
                        stack.append(node)
                        continue
                    stack[depth - 1][2].append(node)
                    stack.append(node)
    return [(s['time'], s['heap'], s['peak'], s['tree'][0][2]) for s in snaps if s['tree']]


def massif_owner(frame):
    """Whose code an allocation site is: a library's name, 'detour' for a frame in src/, else None."""
    m = re.search(r'\(in [^)]*/(lib[a-z0-9+_-]*?)(?:-[0-9.]+)?\.so', frame)
    if m:
        return m.group(1)
    m = re.search(r'\(([a-z_0-9]+\.c):\d+\)', frame)
    if m and any(os.path.exists(os.path.join(ROOT, 'src', d, m.group(1))) for d in os.listdir(os.path.join(ROOT, 'src'))):
        return 'detour'
    return None


def massif_by_owner(tree, into):
    """Adds each site's bytes to its owner in into; libc's sites (strdup and the like) count for whoever
    called them."""
    for size, frame, children in tree:
        owner = massif_owner(frame)
        if owner in ('libc', 'ld') and children:
            massif_by_owner(children, into)
            size -= sum(c[0] for c in children)
            owner = 'other'
        into[owner or 'other'] = into.get(owner or 'other', 0) + size


def source_define_kib(path, name):
    """A size #defined in detour's source as a product of integers, in KiB (0 when not found)."""
    with open(os.path.join(ROOT, path)) as f:
        m = re.search(r'^#define %s \(?([\d\s*]+)\)?' % name, f.read(), re.M)
    value = 1
    for factor in (m.group(1).split('*') if m else ['0']):
        value *= int(factor)
    return value // 1024


def stream_memory_owners():
    """Heap per open stream by owner: MASSIF_STREAMS streams at once through detourd (one worker) under
    massif, the peak's heap against the last snapshot before the streams began."""
    if shutil.which('valgrind') is None:
        return
    slow = mock('--name', 'massif', '--chunks', '10', '--chunk-delay', '1000ms')
    url = 'http://127.0.0.1:%d/v1' % slow
    out = os.path.join(workdir, 'massif.out')
    started = time.monotonic()  # about when massif's clock starts
    dport, dp = detour(url, url, 'degradation:\n  cache: { entries: 0 }\n', workers=1,
                       wrapper=('valgrind', '--tool=massif', '--massif-out-file=' + out, '--time-unit=ms',
                                '--threshold=0.1', '--depth=10', '--detailed-freq=1', '--max-snapshots=1000',
                                '--alloc-fn=strdup', '--alloc-fn=strndup'))
    streams.run_concurrent(dport, 5)
    time.sleep(1)
    burst_ms = (time.monotonic() - started) * 1000
    ok, failed, secs = streams.run_concurrent(dport, MASSIF_STREAMS)
    stop(dp)
    snaps = massif_snapshots(out) if os.path.exists(out) else []
    peak = next((s for s in snaps if s[2]), None)
    before = [s for s in snaps if s[0] < burst_ms - 200]
    if failed or peak is None or not before:
        return
    at_peak, at_start = {}, {}
    massif_by_owner(peak[3], at_peak)
    massif_by_owner(before[-1][3], at_start)
    per = {k: (at_peak.get(k, 0) - at_start.get(k, 0)) / MASSIF_STREAMS / 1024 for k in at_peak}
    massif_rows.append({'streams': MASSIF_STREAMS, 'total': (peak[1] - before[-1][1]) / MASSIF_STREAMS / 1024,
                        'owners': per})
    print('  heap per open stream (massif, %d streams): %.1f KiB: %s' % (
        MASSIF_STREAMS, massif_rows[-1]['total'],
        ', '.join('%s %.1f' % (k, v) for k, v in sorted(per.items(), key=lambda kv: -kv[1]))), flush=True)


# --- shared state through Redis: the same detour with and without `shared` -----------------------

shared_rows = []
SHARED_TITLE = '## Shared state through Redis'


def redis_server():
    """A redis-server on 127.0.0.1 for the shared rows (no persistence); (port, process) or (None, None)."""
    if shutil.which('redis-server') is None:
        return None, None
    port = free_port()
    p = start(['redis-server', '--port', str(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
              port, name='redis')
    return port, p


def shared_scenarios():
    """One worker, a cache on: without `shared`, and with it (every answer is a SET and a PUBLISH)."""
    rport, rp = redis_server()
    if rport is None:
        print('shared: redis-server is not installed (make deps); no row', flush=True)
        return
    print('shared state through Redis (%d rounds, wrk -t1 -c%d)' % (ROUNDS, ONE_CONNECTIONS), flush=True)
    healthy_url = 'http://127.0.0.1:%d/v1' % mock('--name', 'healthy')
    cache = 'degradation:\n  cache: { entries: 10000, ttl: 1h }\n'
    shared = 'shared:\n  redis: "redis://127.0.0.1:%d"\n  prefix: "bench:"\n  timeout: 50ms\n' % rport
    servers = [('without shared',) + detour(healthy_url, healthy_url, extra=cache, workers=1),
               ('with shared (Redis on 127.0.0.1)',) + detour(healthy_url, healthy_url, extra=cache + shared,
                                                              workers=1)]
    for _who, port, _p in servers:
        wrk(port, connections=ONE_CONNECTIONS, threads=1, seconds=1)  # warm up
    runs = [[] for _ in servers]
    for _ in range(ROUNDS):
        for i, (_who, port, p) in enumerate(servers):
            before = cpu_ticks(rp.pid)
            r = measured(p.pid, port, '/v1/chat/completions', None)
            r['redis_cpu_us'] = (cpu_ticks(rp.pid) - before) * 1e6 / os.sysconf('SC_CLK_TCK') / max(1, r['total'])
            runs[i].append(r)
    for i, (who, port, p) in enumerate(servers):
        r = median_result(runs[i])
        r['cpu_us'] = statistics.median(x['cpu_us'] for x in runs[i])
        r['user_us'] = statistics.median(x['user_us'] for x in runs[i])
        r['sys_us'] = statistics.median(x['sys_us'] for x in runs[i])
        r['redis_cpu_us'] = statistics.median(x['redis_cpu_us'] for x in runs[i])
        shared_rows.append((who, r))
        print('  %-34s %8.0f req/s  p99 %6.2f ms  CPU %5.1f us/request  Redis %5.1f us/request  errors %d' % (
            who, r['rps'], r['p99'], r['cpu_us'], r['redis_cpu_us'], r['errors']), flush=True)
    for _who, _port, p in servers:
        stop(p)
    stop(rp)


def shared_report():
    """The shared section: detour with `shared` as a ratio to the same detour without, same run."""
    if len(shared_rows) < 2:
        return ''
    base = shared_rows[0][1]
    lines = [SHARED_TITLE, '',
             'detour `workers: 1` with a response cache (`entries: 10000`), in front of detour-mock, with and '
             'without a `shared` section naming a redis-server on 127.0.0.1 started by the bench. wrk `-t1 -c%d`, '
             '%d s per cell, %d rounds alternating between the two; the row shows the round with the median '
             'requests a second, CPU is the median over rounds of detourd\'s CPU time (every thread, the shared '
             'one included) per request, and Redis\'s own beside it. wrk sends the same request every time, so '
             'every answer is stored again: one SET and one PUBLISH per request, the most `shared` costs on the '
             'request path (a local hit needs no Redis; a miss asks Redis only at the cached level).'
             % (ONE_CONNECTIONS, SECONDS, ROUNDS), '',
             '| detour | req/s | p99 ms | CPU µs/request | Redis CPU µs/request | errors | CPU vs without |',
             '|---|---:|---:|---:|---:|---:|---:|']
    for who, r in shared_rows:
        lines.append('| %s | %.0f | %.2f | %.1f | %.1f | %d | %s |' % (
            who, r['rps'], r['p99'], r['cpu_us'], r['redis_cpu_us'], r['errors'], ratio(r['cpu_us'], base['cpu_us'])))
    return '\n'.join(lines) + '\n'


def splice_section(text, title, section):
    """text with the section named title replaced by section (or put before ## Chaos, or at the end)."""
    pattern = r'^' + re.escape(title) + r'\n.*?(?=^## |\Z)'
    if re.search(pattern, text, flags=re.M | re.S):
        return re.sub(pattern, lambda m: section.rstrip('\n') + '\n\n', text, count=1, flags=re.M | re.S).rstrip('\n') + '\n'
    chaos = re.search(r'^## Chaos\n', text, flags=re.M)
    if chaos:
        return text[:chaos.start()] + section.rstrip('\n') + '\n\n' + text[chaos.start():]
    return text.rstrip('\n') + '\n\n' + section


def write_shared_section():
    """BENCH_ONLY=shared: this run's shared section into docs/benchmarks.md, every other section kept."""
    section = shared_report()
    if not section:
        return
    path = os.path.join(ROOT, 'docs', 'benchmarks.md')
    # newline='': the Chaos section quotes raw answers, carriage returns included.
    try:
        with open(path, newline='') as f:
            text = f.read()
    except FileNotFoundError:
        text = '# Benchmarks\n'
    with open(path, 'w', newline='') as f:
        f.write(splice_section(text, SHARED_TITLE, section))
    print('\n' + section)


stream_rows = []


def stream_scenarios():
    # Time to first content chunk, one stream at a time: what detour adds to a stream's start.
    quick = mock('--name', 'quick', '--chunks', '4', '--chunk-delay', '0')
    quick_url = 'http://127.0.0.1:%d/v1' % quick
    dport, dp = detour(quick_url, quick_url)
    streams.time_to_first_chunk(quick, 20)
    streams.time_to_first_chunk(dport, 20)
    direct = streams.time_to_first_chunk(quick, 300)
    through = streams.time_to_first_chunk(dport, 300)
    stop(dp)
    ttfc = (statistics.median(direct) * 1000, statistics.median(through) * 1000)
    print('  time to first content chunk: direct %.3f ms, through detour %.3f ms, added %.3f ms' %
          (ttfc[0], ttfc[1], ttfc[1] - ttfc[0]), flush=True)

    # Many streams at once: each lasts about 3 s (10 chunks, 300 ms apart).
    slow = mock('--name', 'slow', '--chunks', '10', '--chunk-delay', '300ms')
    slow_url = 'http://127.0.0.1:%d/v1' % slow
    for n in STREAMS:
        dport, dp = detour(slow_url, slow_url, 'degradation:\n  cache: { entries: 0 }\n')
        base = rss_kib(dp.pid)
        ok, failed, secs, peak = streams_with_peak_rss(dport, dp.pid, n)
        stop(dp)
        per_stream = (peak - base) / n
        stream_rows.append((n, ok, failed, secs, base, peak, per_stream))
        print('  %d concurrent streams: %d complete, %d failed, %.1f s, detourd RSS %d KiB idle, %d KiB peak, '
              '%.1f KiB per stream' % (n, ok, failed, secs, base, peak, per_stream), flush=True)
    return ttfc



def ratio(a, b):
    return '%.2f×' % (a / b) if b else '—'


def curl_version():
    try:
        out = subprocess.run(['curl-config', '--version'], capture_output=True, text=True).stdout.split()
        return out[-1] if out else ''
    except OSError:
        return ''


def mhd_version():
    try:
        out = subprocess.run(['dpkg-query', '-W', '-f', '${Version}', 'libmicrohttpd12'],
                             capture_output=True, text=True).stdout
        return out.split('-')[0]
    except OSError:
        return ''


def same_request_nginx(what):
    """nginx's one-worker result for the same request (the streamed row has its own), else its first."""
    return next((r for who, w, r in one_rows if who == 'nginx' and w == what), one_rows[0][2])


def one_worker_report():
    """The one-worker section: each figure as a ratio to nginx's in the same run."""
    if not one_rows:
        return ''
    n = one_rows[0][2]
    chat = next((r for who, what, r in one_rows if who == 'detour' and what == 'chat completion'), None)
    lines = ['## One worker against one nginx worker', '',
             'detour `workers: 1` and nginx `worker_processes 1` (proxy_pass, upstream keep-alive, no buffering) '
             'in front of the same static upstream: a second nginx answering `return 200` with a fixed chat '
             'completion (or Responses API answer). wrk `-t1 -c%d`, %d s per cell, %d rounds alternating between '
             'the servers; the row shows the round with the median requests a second. CPU is the proxy process\'s '
             'utime + stime from `/proc/PID/stat` over each run divided by the requests it answered (median of the '
             'rounds; for nginx, its one worker), shown with its user and kernel parts. Syscalls are counted by `strace -c -f` attached to the proxy '
             'during a separate 2 s run and divided by that run\'s requests (epoll_wait included), so tracing '
             'does not touch the other figures.' % (ONE_CONNECTIONS, SECONDS, ROUNDS), '',
             '| server | request | req/s | p99 ms | CPU µs/request (user + kernel) | syscalls/request | errors | '
             'req/s vs nginx | p99 vs nginx | CPU vs nginx | syscalls vs nginx |',
             '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|']
    for who, what, r in one_rows:
        base = same_request_nginx(what)
        s, ns = r.get('syscalls'), base.get('syscalls')
        lines.append('| %s | %s | %.0f | %.2f | %.1f (%.1f + %.1f) | %s | %d | %s | %s | %s | %s |' % (
            who, what, r['rps'], r['p99'], r['cpu_us'], r['user_us'], r['sys_us'], syscall_text(s), r['errors'],
            ratio(r['rps'], base['rps']), ratio(r['p99'], base['p99']), ratio(r['cpu_us'], base['cpu_us']),
            ratio(s['total'], ns['total']) if s and ns else '—'))
    if chat is not None:
        lines += ['']
        for who, what, r in one_rows:
            if who == 'detour' and what != 'chat completion' and not what.startswith('chat completion, streamed'):
                lines.append('- %s: %.2f × the chat path\'s CPU per request.' % (what, r['cpu_us'] / chat['cpu_us']))
        if any(what == STREAMED % STREAM_CHUNKS for who, what, r in one_rows):
            lines.append('- %s: a second server of the static nginx answers every chat completion with a fixed '
                         '`text/event-stream` of %d `chat.completion.chunk` events and `data: [DONE]`, wrk posts '
                         '`"stream": true`, and each figure is against nginx relaying the same stream (its own row).'
                         % (STREAMED % STREAM_CHUNKS, STREAM_CHUNKS))
    if chat is not None:
        lines += ['', 'Where the chat row\'s CPU goes against nginx\'s: **user space %.1f µs against %.1f** (%.1f × '
                  'nginx\'s), **kernel %.1f µs against %.1f** (%.1f ×). The kernel part is the same loopback TCP both '
                  'pay plus the five calls per request the libraries make (below) and the wake-ups they cause; the '
                  'user part is libcurl\'s and libmicrohttpd\'s work per request (a transfer\'s state machine, the '
                  'request head printed a field at a time, the connection pool zeroed per request) beside '
                  'detour\'s own.' % (chat['user_us'], n['user_us'], chat['user_us'] / max(0.1, n['user_us']),
                                      chat['sys_us'], n['sys_us'], chat['sys_us'] / max(0.1, n['sys_us']))]
    d = chat.get('syscalls') if chat is not None else None
    if d:
        c = d['calls']
        epoll_ctl, poll, eagain = library_fixed(d)
        own = d['total'] - epoll_ctl - poll - eagain
        lines += ['', 'Where detour\'s syscalls per request go (chat row; each call was traced to its caller with '
                  '`strace -f -k`). Five of them are made by the libraries whatever their caller does, and no '
                  'option of their API removes them:', '',
                  '- **epoll_ctl %.1f** (libmicrohttpd %s): `MHD_suspend_connection` takes the connection out of '
                  'its epoll set (EPOLL_CTL_DEL) and the run after `MHD_resume_connection` puts it back '
                  '(EPOLL_CTL_ADD). Suspending is the only way its API lets a request wait for an answer '
                  'that comes from elsewhere: a handler that returns without a response and without suspending '
                  'is not called again until its socket has an event.' % (epoll_ctl, mhd_version()),
                  '- **recvfrom that fails with EAGAIN %.1f** (libmicrohttpd): a resumed connection is marked '
                  'ready to read and write, "as we might have missed the edge poll event during suspension" '
                  '(daemon.c); once the answer is sent, the keep-alive connection reads for its next request '
                  'and finds nothing.' % eagain,
                  '- **poll %.1f** (libcurl %s): before reusing a cached connection, `ConnectionExists` checks that '
                  'it is alive with a zero-timeout poll (`extract_if_dead`, url.c); right after the request is '
                  'sent, `Curl_readwrite` polls the socket because a transfer driven by the timer, not by a socket '
                  'event, has no readiness bits (transfer.c). Neither has an option.' % (poll, curl_version()),
                  '', 'The rest, **%.1f per request against nginx\'s %.1f**, is detour\'s own: one read of the '
                  'request and one write of the answer (libmicrohttpd, head and body in one `sendmsg`), one write '
                  'of the request upstream and one read of its answer (curl), and a share of `epoll_wait`.'
                  % (own, n['syscalls']['total'] if n.get('syscalls') else 0)]
    lines += ['', '| concurrent streams, one worker | complete | failed | seconds | RSS idle | peak | per stream | '
              'RSS after they end |', '|---:|---:|---:|---:|---:|---:|---:|---:|']
    for count, ok, failed, secs, base, peak, per, after, hard in one_stream_rows:
        lines.append('| %d | %d | %d | %.1f | %.1f MiB | %.1f MiB | %.1f KiB | %.1f MiB |' % (
            count, ok, failed, secs, base / 1024, peak / 1024, per, after / 1024))
    for count, ok, failed, secs, base, peak, per, after, hard in one_stream_rows:
        lines += ['', 'Each stream lasts about 3 s (10 chunks 300 ms apart from detour-mock) on its own client '
                  'connection and holds two descriptors in detourd (client and upstream); the descriptor hard limit '
                  'here is %d, so %d streams run at once (10,000 where the limit allows 2 × 10,000 and some). '
                  'Per stream is (peak − idle) / streams; "after" is read 2 s after the last stream ended, once '
                  'the worker has given the burst\'s freed memory back (spares past 64 freed, then `malloc_trim`, '
                  'once more when the burst\'s last stream has ended); what stays is curl\'s cache of idle '
                  'upstream connections (at most 2,048 a worker) and the spares kept.'
                  % (hard, count)]
    lines += stream_costs_report()
    return '\n'.join(lines) + '\n'


def stream_costs_report():
    """What an open stream costs beyond its first bytes: syscalls per chunk, heap by owner."""
    lines = []
    rows = dict(chunk_rows)
    if 'nginx' in rows and 'detour' in rows:
        n, d = rows['nginx'], rows['detour']
        lines += ['', 'Syscalls per upstream chunk when a model\'s chunks arrive one at a time (detour-mock, %d ms '
                  'apart; the slope between streams of %d and %d chunks, %d streams each one after another, so what '
                  'a stream pays once drops out): **nginx %s; detour %s** (%s). Two of detour\'s '
                  'are the libraries\': after every read libcurl polls the socket to see whether more is waiting '
                  '(`readwrite_data` asks `data_pending`, transfer.c), and `MHD_run`, which the worker calls to send '
                  'what it queued on the resumed connection, waits on libmicrohttpd\'s own epoll set once more '
                  '(one of the two `epoll_wait`). The rest, the worker\'s wait, the read from the upstream and the '
                  'write to the client, is what nginx does.'
                  % (CHUNK_DELAY_MS, CHUNK_COUNTS[0], CHUNK_COUNTS[1], CHUNK_STREAMS, syscall_text(n),
                     syscall_text(d), ratio(d['total'], n['total']))]
    for m in massif_rows:
        o = m['owners']
        libs = o.get('libmicrohttpd', 0) + o.get('libcurl', 0)
        lines += ['', 'Heap per open stream by whose code allocated it (detourd, one worker, under valgrind\'s '
                  'massif: %d streams at once, the peak against the last snapshot before they began): **%.1f KiB**, '
                  'of which libmicrohttpd %.1f KiB, libcurl %.1f KiB, detour %.1f KiB and %.1f KiB elsewhere. '
                  'libmicrohttpd\'s is mostly its pool per connection, which detour sizes at %d KiB so that 12 KB '
                  'of request headers fit: version %s allocates a pool whole when it accepts a connection and '
                  'cannot grow it later, and zeroes the part of its read buffer it gives back once the request is '
                  'in. libcurl\'s is an easy handle per transfer running at once, its receive buffer (%d KiB '
                  'for a stream) and the connection. The two libraries alone hold %.1f KiB per stream, more than '
                  'the target of 20 KiB for the whole.'
                  % (m['streams'], m['total'], o.get('libmicrohttpd', 0), o.get('libcurl', 0), o.get('detour', 0),
                     m['total'] - libs - o.get('detour', 0),
                     source_define_kib('src/serve/server.c', 'SERVER_CONNECTION_MEMORY'), mhd_version(),
                     source_define_kib('src/serve/stream.h', 'STREAM_RECEIVE_BUFFER'),
                     libs)]
    return lines


def report(ttfc):
    lines = ['# Benchmarks', '',
             'Written by `make bench` (tests/bench/bench.py) from one run: every figure below comes from the',
             'same run on the same machine, with every server and the load generator on 127.0.0.1.',
             '', 'Machine: ' + machine.describe(), '',
             'Load: wrk, %d connections, 2 threads, %d s per cell, a short chat completion (or the body named) '
             'per request; the healthy rows are the median of %d alternating rounds, and the one-connection rows '
             '(one wrk connection, %d s each, the three in turn for %d rounds, the round with the median p50 shown) '
             'measure what a fallback adds to a single request. The upstream is detour-mock; nginx 1.22 proxies to it with upstream keep-alive; '
             'detour has a two-target route; portkey is `@portkey-ai/gateway` (one Node process, '
             'NODE_ENV=production) with a fallback config. Load generator, proxy and mock share the same cores, so '
             'absolute numbers are lower than on a dedicated machine; the ratios are what to read.'
             % (CONNECTIONS, SECONDS, ROUNDS, FALLBACK_SECONDS, FALLBACK_ROUNDS), '',
             '## Every worker, shared cores', '',
             '| scenario | server | req/s | p50 ms | p99 ms | errors | vs nginx | vs Node gateway |',
             '|---|---|---:|---:|---:|---:|---:|---:|']
    ref = {}
    for scenario, who, r in rows:
        if who.startswith('nginx'):
            ref.setdefault(scenario, {})['nginx'] = r
        if who.startswith('portkey'):
            ref.setdefault(scenario, {})['node'] = r
    for scenario, who, r in rows:
        n = ref.get(scenario, {}).get('nginx')
        p = ref.get(scenario, {}).get('node')
        vs_nginx = vs_node = ''
        if who.startswith('detour'):
            if n:
                vs_nginx = '%s req/s, %s p99' % (ratio(r['rps'], n['rps']), ratio(r['p99'], n['p99']))
            if p:
                vs_node = ratio(r['rps'], p['rps'])
        lines.append('| %s | %s | %.0f | %.2f | %.2f | %d | %s | %s |' % (
            scenario, who, r['rps'], r['p50'], r['p99'], r['errors'], vs_nginx, vs_node))
    healthy = {who: r for s, who, r in rows if s == 'healthy'}
    one = one_worker_report()
    if one:
        lines += ['', one.rstrip('\n')]
    shared = shared_report()
    if shared:
        lines += ['', shared.rstrip('\n')]
    lines += ['', '## Streams', '',
              'Time to the first content chunk, 300 streams one after another (median): direct %.3f ms, through '
              'detour %.3f ms: **%.3f ms added**.' % (ttfc[0], ttfc[1], ttfc[1] - ttfc[0]), '',
              '| concurrent streams | complete | failed | seconds | detourd RSS idle | peak | per stream |',
              '|---:|---:|---:|---:|---:|---:|---:|']
    for n, ok, failed, secs, base, peak, per in stream_rows:
        lines.append('| %d | %d | %d | %.1f | %.1f MiB | %.1f MiB | %.1f KiB |' % (
            n, ok, failed, secs, base / 1024, peak / 1024, per))
    lines += ['', '## Targets', '']
    if 'detour' in healthy and 'nginx' in healthy:
        d, n = healthy['detour'], healthy['nginx']
        lines.append('- Healthy, requests a second: detour %.2f × nginx (target ≥ 0.8).' % (d['rps'] / n['rps']))
        lines.append('- Healthy, p99: detour %.2f × nginx (target ≤ 1.5).' % (d['p99'] / n['p99']))
    if 'detour' in healthy and 'portkey (Node)' in healthy:
        lines.append('- Healthy, requests a second: detour %.1f × the Node gateway (target ≥ 20).' % (
            healthy['detour']['rps'] / healthy['portkey (Node)']['rps']))
    if 'refused' in fallback_added and '503' in fallback_added:
        lines.append('- A fallback over a refused primary adds %.3f ms at p50, one request at a time (target ≤ 0.05 ms); '
                     'over a primary answering 503, %.3f ms (each the median over %d rounds of the difference from '
                     'the healthy run of the same round).' % (
                         fallback_added['refused'], fallback_added['503'], FALLBACK_ROUNDS))
    for n, ok, failed, secs, base, peak, per in stream_rows:
        lines.append('- %d concurrent streams: detourd peak RSS %.1f MiB (target for 5,000: ≤ 200 MB).' % (
            n, peak / 1024))
    if one_rows:
        for who, what, r in one_rows:
            if who != 'detour':
                continue
            n = same_request_nginx(what)
            s = r.get('syscalls')
            lines.append('- One worker, %s: %.2f × nginx\'s req/s (target ≥ 0.85), %.2f × its p99 (target ≤ 1.5), '
                         '%.2f × its CPU per request (target ≤ 1.25), %s syscalls per request (target ≤ 7)%s.' % (
                             what, r['rps'] / n['rps'], r['p99'] / n['p99'], r['cpu_us'] / n['cpu_us'],
                             '%.1f' % s['total'] if s else '—',
                             ', %.1f of them detour\'s own' % (s['total'] - sum(library_fixed(s))) if s else ''))
    for count, ok, failed, secs, base, peak, per, after, hard in one_stream_rows:
        lines.append('- %d concurrent streams through one worker: %d complete, %.1f KiB per stream (target ≤ 20), '
                     'RSS %.1f MiB after they end against %.1f MiB idle.' % (count, ok, per, after / 1024, base / 1024))
    text = '\n'.join(lines) + '\n'
    path = os.path.join(ROOT, 'docs', 'benchmarks.md')
    # make chaos and make chaos-cuts own the sections titled "Chaos...": they stay, after this
    # run's. newline='': they quote raw answers, carriage returns included.
    try:
        with open(path, newline='') as f:
            chaos = [m.group(0).rstrip('\n') for m in
                     re.finditer(r'^## Chaos[^\n]*\n.*?(?=^## |\Z)', f.read(), flags=re.M | re.S)]
    except FileNotFoundError:
        chaos = []
    for section in chaos:
        text += '\n' + section + '\n'
    with open(path, 'w', newline='') as f:
        f.write(text)
    print('\n' + text)


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if shutil.which('wrk') is None:
        sys.exit('bench: wrk is not installed (make deps)')
    only = os.environ.get('BENCH_ONLY', '')
    try:
        if only == 'one':
            one_worker_scenarios()
            print(one_worker_report())
            return
        if only == 'shared':
            shared_scenarios()
            write_shared_section()
            return
        one_worker_scenarios()
        shared_scenarios()
        http_scenarios()
        ttfc = stream_scenarios()
        report(ttfc)
    finally:
        for p in list(procs):
            stop(p)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == '__main__':
    main()
