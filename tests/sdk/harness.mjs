// harness.mjs — real detourd and detour-mock processes on 127.0.0.1 for the SDK tests.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const build = path.resolve(process.env.DETOUR_BUILD || path.join(root, 'build'));
const sanitizerEnv = {
  ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=0:exitcode=23',
  UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1:exitcode=24',
};
const sanitizerWords = ['AddressSanitizer', 'LeakSanitizer', 'UndefinedBehaviorSanitizer', 'runtime error:'];

export async function freePort() {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  server.close();
  await once(server, 'close');
  return port;
}

async function waitForPort(port, child, what) {
  const deadline = Date.now() + 10000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}`);
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`${what} did not listen on ${port}`);
}

class Proc {
  constructor(argv, name, env = {}, stdout = 'ignore') {
    this.name = name;
    this.stderr = '';
    this.child = spawn(argv[0], argv.slice(1), {
      env: { ...process.env, ...sanitizerEnv, ...env },
      stdio: ['ignore', stdout, 'pipe'],
    });
    this.child.stderr.on('data', (d) => { this.stderr += d.toString(); });
  }

  // Stops with SIGTERM; throws when the process failed or a sanitizer spoke.
  async stop() {
    if (this.child.exitCode === null) {
      const exited = once(this.child, 'exit');
      this.child.kill('SIGTERM');
      await exited;
    }
    const problems = [];
    if (this.child.exitCode !== 0) problems.push(`${this.name} exited with ${this.child.exitCode}`);
    if (sanitizerWords.some((w) => this.stderr.includes(w))) problems.push(`${this.name}: ${this.stderr.slice(-4000)}`);
    if (problems.length) throw new Error(problems.join('\n'));
  }
}

export class Mock extends Proc {
  // The mock binds port 0 and prints where it listens: no race for a port.
  static async start(name, ...args) {
    const m = new Mock([path.join(build, 'detour-mock'), '--listen', '127.0.0.1:0', '--name', name, ...args.map(String)],
      `mock-${name}`, {}, 'pipe');
    m.port = await new Promise((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`${m.name} did not start`)), 10000);
      m.child.stdout.on('data', (d) => {
        out += d.toString();
        const match = out.match(/listening on .*:(\d+)\n/);
        if (match) {
          clearTimeout(timer);
          resolve(Number(match[1]));
        }
      });
      m.child.once('exit', (code) => reject(new Error(`${m.name} exited with ${code}`)));
    });
    m.url = `http://127.0.0.1:${m.port}/v1`;
    return m;
  }

  async stats() {
    const r = await fetch(`http://127.0.0.1:${this.port}/_mock/stats`);
    return r.json();
  }

  async faults(faults) {
    const r = await fetch(`http://127.0.0.1:${this.port}/_mock/faults`, { method: 'POST', body: JSON.stringify(faults) });
    return r.json();
  }
}

export class Detour extends Proc {
  // yaml: the configuration without server.listen, which is added here.
  static async start(yaml, env = {}) {
    const port = await freePort();
    const dir = mkdtempSync(path.join(tmpdir(), 'detour-sdk-'));
    const file = path.join(dir, 'detour.yaml');
    writeFileSync(file, `server:\n  listen: 127.0.0.1:${port}\n  workers: 2\n${yaml}`);
    const d = new Detour([path.join(build, 'detourd'), '-c', file], 'detourd', env);
    d.port = port;
    d.dir = dir;
    d.baseURL = `http://127.0.0.1:${port}/v1`;
    await waitForPort(port, d.child, 'detourd');
    return d;
  }

  // Waits (2 s at most) until no request is left in detour's attempt loop: a
  // streamed answer is stored in the cache when its upstream call ends, which
  // can be just after the client has read its [DONE].
  async settled() {
    const deadline = Date.now() + 2000;
    while (Date.now() < deadline) {
      const text = await (await fetch(`http://127.0.0.1:${this.port}/metrics`)).text();
      if (/^detour_requests_in_flight 0$/m.test(text)) return;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async stop() {
    try {
      await super.stop();
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }
}

// One entry under upstreams:, flow style. extra adds keys (", api_key_env: X"); a
// "timeouts:" in extra replaces the short default timeouts.
export function upstream(name, url, extra = '') {
  const timeouts = extra.includes('timeouts:') ? '' : ', timeouts: { connect: 500ms, first_byte: 2s, idle: 2s, total: 5s }';
  return `  ${name}: { base_url: "${url}", retries: { attempts: 0 }${timeouts}${extra} }\n`;
}

// Stops everything, reporting every failure.
export async function stopAll(procs) {
  const errors = [];
  for (const p of procs.reverse()) {
    try { await p.stop(); } catch (e) { errors.push(e.message); }
  }
  if (errors.length) throw new Error(errors.join('\n'));
}

export { readFileSync };
