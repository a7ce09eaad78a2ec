// errors.test.mjs — detour's unhappy paths in the SDKs' language (issue 13, points 1-3): statuses and retry signals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

import { Detour, Mock, stopAll, upstream } from './harness.mjs';

const ask = { model: 'gpt-4o', messages: [{ role: 'user', content: 'Hello' }] };

async function twoUpstreams(faultsA, faultsB, serverYaml = '', upstreamExtra = '') {
  const a = await Mock.start('a', ...faultsA);
  const b = await Mock.start('b', ...faultsB);
  const procs = [a, b];
  const d = await Detour.start(serverYaml + 'upstreams:\n' + upstream('a', a.url, upstreamExtra) +
    upstream('b', b.url, upstreamExtra) + 'models:\n  gpt-4o: { targets: [ { upstream: a }, { upstream: b } ] }\n');
  procs.push(d);
  return { a, b, d, procs };
}

test('every target answering 429 is a RateLimitError with Retry-After and retry-after-ms', async () => {
  const { a, b, d, procs } = await twoUpstreams(['--status', '429', '--retry-after', '5'], ['--status', '429', '--retry-after', '3']);
  try {
    const client = new OpenAI({ baseURL: d.baseURL, apiKey: 'k', maxRetries: 0 });
    for (const round of ['tried', 'held']) {
      // the second call finds both targets in their Retry-After hold: still a rate limit
      const err = await client.chat.completions.create(ask).then(() => null, (e) => e);
      assert.ok(err instanceof OpenAI.RateLimitError, `${round}: ${err?.constructor?.name} ${err?.status} ${err?.message}`);
      assert.equal(err.status, 429);
      assert.equal(err.code, 'rate_limit_exceeded');
      const seconds = Number(err.headers.get('retry-after'));
      const ms = Number(err.headers.get('retry-after-ms'));
      // the earliest moment any target takes calls again: b's 3 s, not a's 5 s
      assert.ok(seconds >= 1 && seconds <= 3, `${round}: Retry-After ${err.headers.get('retry-after')}`);
      assert.ok(ms > 0 && ms <= 3000, `${round}: retry-after-ms ${err.headers.get('retry-after-ms')}`);
    }
    assert.equal((await a.stats()).requests, 1);
    assert.equal((await b.stats()).requests, 1);
  } finally {
    await stopAll(procs);
  }
});

test('a 502 after detour tried every target says x-should-retry: false, so the SDK does not redo the chain', async () => {
  const { a, b, d, procs } = await twoUpstreams(['--status', '500'], ['--status', '500']);
  try {
    // maxRetries 2: without the header the SDK would send the request three times
    const client = new OpenAI({ baseURL: d.baseURL, apiKey: 'k', maxRetries: 2 });
    const err = await client.chat.completions.create(ask).then(() => null, (e) => e);
    assert.ok(err instanceof OpenAI.APIError, String(err));
    assert.equal(err.status, 502);
    assert.equal(err.code, 'all_upstreams_failed');
    assert.equal(err.headers.get('x-should-retry'), 'false');
    assert.equal((await a.stats()).requests, 1);
    assert.equal((await b.stats()).requests, 1);
  } finally {
    await stopAll(procs);
  }
});

test('a 503 with every breaker open carries Retry-After capped by server.max_retry_after', async () => {
  const { d, procs } = await twoUpstreams(['--status', '500'], ['--status', '500'], '  max_retry_after: 2s\n',
    ', breaker: { failures: 1, window: 60s, cooldown: 4s, half_open_probes: 1 }');
  try {
    const client = new OpenAI({ baseURL: d.baseURL, apiKey: 'k', maxRetries: 0 });
    await assert.rejects(client.chat.completions.create(ask), (e) => e.status === 502);
    const err = await client.chat.completions.create(ask).then(() => null, (e) => e);
    assert.equal(err?.status, 503, String(err));
    const seconds = Number(err.headers.get('retry-after'));
    assert.ok(seconds >= 1 && seconds <= 2, `Retry-After ${err.headers.get('retry-after')} (cooldown 4s, cap 2s)`);
  } finally {
    await stopAll(procs);
  }
});

test('a request no target of the route can serve is a BadRequestError naming the parameter', async () => {
  const claude = await Mock.start('claude', '--mode', 'anthropic');
  const procs = [claude];
  try {
    const d = await Detour.start('upstreams:\n' + upstream('claude', claude.url, ', provider: anthropic') +
      'models:\n  gpt-4o: { targets: [ { upstream: claude, model: claude-3-5-haiku-latest } ] }\n');
    procs.push(d);
    const client = new OpenAI({ baseURL: d.baseURL, apiKey: 'k', maxRetries: 0 });
    const err = await client.chat.completions.create({ ...ask, n: 2 }).then(() => null, (e) => e);
    assert.ok(err instanceof OpenAI.BadRequestError, `${err?.constructor?.name} ${err?.status} ${err?.message}`);
    assert.equal(err.type, 'invalid_request_error');
    assert.equal(err.param, 'n');
    assert.equal((await claude.stats()).requests, 0);
  } finally {
    await stopAll(procs);
  }
});
