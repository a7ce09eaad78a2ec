// answers.test.mjs — objects that validate and headers both ways (issue 13, points 5-8): every chat.completion
// detour builds itself checked against OpenAI's schema (schema/), provider headers passed through and forwarded,
// GET /v1/models/{id}.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

import { Detour, Mock, stopAll, upstream } from './harness.mjs';
import { assertChunks, assertCompletion } from './schema.mjs';

const ask = { model: 'gpt-4o', messages: [{ role: 'user', content: 'Hello' }] };
const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];

async function route(mock, extra = '', degradation = '', env = {}) {
  const d = await Detour.start('upstreams:\n' + upstream(mock.name.replace('mock-', ''), mock.url, extra) +
    `models:\n  gpt-4o: { targets: [ { upstream: ${mock.name.replace('mock-', '')}, model: claude-3-5-haiku-latest } ] }\n` +
    degradation, env);
  return d;
}

async function collect(stream) {
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  return chunks;
}

test('a chat.completion translated from Anthropic validates against OpenAI\'s schema, plain, tools and streamed', async () => {
  const claude = await Mock.start('claude', '--mode', 'anthropic');
  const procs = [claude];
  try {
    const d = await route(claude, ', provider: anthropic');
    procs.push(d);
    const client = new OpenAI({ baseURL: d.baseURL, apiKey: 'k', maxRetries: 0 });
    assertCompletion(await client.chat.completions.create(ask), 'translated answer');
    assertCompletion(await client.chat.completions.create({ ...ask, tools }), 'translated tool call');
    const chunks = await collect(await client.chat.completions.create({ ...ask, stream: true, stream_options: { include_usage: true } }));
    assertChunks(chunks, 'translated stream');
    assert.ok(chunks.at(-1).usage, 'the usage chunk comes last');
  } finally {
    await stopAll(procs);
  }
});

test('the offline answer validates against OpenAI\'s schema', async () => {
  const down = await Mock.start('down', '--status', '500');
  const procs = [down];
  try {
    const d = await route(down, '', 'degradation:\n  cache: { entries: 100, ttl: 1h }\n  offline_message: "Unavailable."\n');
    procs.push(d);
    const client = new OpenAI({ baseURL: d.baseURL, apiKey: 'k', maxRetries: 0 });
    const { data, response } = await client.chat.completions.create(ask).withResponse();
    assert.equal(response.headers.get('x-detour-degraded'), 'offline');
    assertCompletion(data, 'offline answer');
  } finally {
    await stopAll(procs);
  }
});

test('a cached answer rebuilt from a stream validates, keeps the usage numbers, and replays the usage chunk', async () => {
  const primary = await Mock.start('primary', '--chunks', '4');
  const procs = [primary];
  try {
    const d = await route(primary, '', 'degradation:\n  cache: { entries: 100, ttl: 1h }\n');
    procs.push(d);
    const client = new OpenAI({ baseURL: d.baseURL, apiKey: 'k', maxRetries: 0 });
    const live = await collect(await client.chat.completions.create({ ...ask, stream: true, stream_options: { include_usage: true } }));
    const usage = live.at(-1).usage;
    assert.ok(usage, 'the mock sends a usage chunk');
    await d.settled();
    await primary.faults({ status: 500 });
    const { data, response } = await client.chat.completions.create(ask).withResponse();
    assert.equal(response.headers.get('x-detour-cache'), 'hit');
    assertCompletion(data, 'cached answer rebuilt from a stream');
    assert.equal(data.usage.prompt_tokens, usage.prompt_tokens);
    assert.equal(data.usage.completion_tokens, usage.completion_tokens);
    const replay = await collect(await client.chat.completions.create({ ...ask, stream: true, stream_options: { include_usage: true } }));
    assertChunks(replay, 'cached stream replay');
    assert.deepEqual(replay.at(-1).usage, data.usage);
  } finally {
    await stopAll(procs);
  }
});

test('provider headers pass through: x-ratelimit-*, openai-processing-ms, openai-version, the upstream request id', async () => {
  const primary = await Mock.start('primary',
    '--header', 'x-ratelimit-limit-requests: 500', '--header', 'x-ratelimit-remaining-tokens: 29000',
    '--header', 'openai-processing-ms: 42', '--header', 'openai-version: 2020-10-01',
    '--header', 'x-request-id: req_upstream_1', '--header', 'keep-alive: timeout=99');
  const procs = [primary];
  try {
    const d = await route(primary);
    procs.push(d);
    const client = new OpenAI({ baseURL: d.baseURL, apiKey: 'k', maxRetries: 0 });
    const { response, request_id: requestId } = await client.chat.completions.create(ask).withResponse();
    const h = response.headers;
    assert.equal(h.get('x-ratelimit-limit-requests'), '500');
    assert.equal(h.get('x-ratelimit-remaining-tokens'), '29000');
    assert.equal(h.get('openai-processing-ms'), '42');
    assert.equal(h.get('openai-version'), '2020-10-01');
    assert.equal(h.get('x-detour-upstream-request-id'), 'req_upstream_1');
    assert.notEqual(h.get('x-request-id'), 'req_upstream_1', 'x-request-id stays detour\'s own');
    assert.equal(requestId, h.get('x-request-id'));
    assert.notEqual(h.get('keep-alive'), 'timeout=99', 'hop-by-hop headers are not passed');
  } finally {
    await stopAll(procs);
  }
});

test('client headers meant for the provider reach an OpenAI-compatible upstream, forward_headers per upstream', async () => {
  const a = await Mock.start('a', '--status', '503');
  const b = await Mock.start('b');
  const procs = [a, b];
  try {
    const d = await Detour.start('upstreams:\n' + upstream('a', a.url) + upstream('b', b.url, ', forward_headers: [OpenAI-Beta, X-Custom]') +
      'models:\n  gpt-4o: { targets: [ { upstream: a }, { upstream: b } ] }\n');
    procs.push(d);
    const client = new OpenAI({ baseURL: d.baseURL, apiKey: 'k', maxRetries: 0, organization: 'org-1', project: 'proj-1' });
    const headers = { 'OpenAI-Beta': 'assistants=v2', 'Idempotency-Key': 'idem-1', 'X-Custom': 'yes' };
    await client.chat.completions.create(ask, { headers });
    const seenA = (await a.stats()).last_request.headers;
    assert.equal(seenA['openai-organization'], 'org-1');
    assert.equal(seenA['openai-project'], 'proj-1');
    assert.equal(seenA['openai-beta'], 'assistants=v2');
    assert.equal(seenA['idempotency-key'], 'idem-1');
    assert.equal(seenA['x-custom'], undefined, 'only the listed headers');
    const seenB = (await b.stats()).last_request.headers;
    assert.equal(seenB['openai-beta'], 'assistants=v2');
    assert.equal(seenB['x-custom'], 'yes');
    assert.equal(seenB['openai-organization'], undefined, 'b forwards only its own list');
  } finally {
    await stopAll(procs);
  }
});

test('anthropic-beta from the client reaches an Anthropic upstream', async () => {
  const claude = await Mock.start('claude', '--mode', 'anthropic');
  const procs = [claude];
  try {
    const d = await route(claude, ', provider: anthropic');
    procs.push(d);
    const client = new OpenAI({ baseURL: d.baseURL, apiKey: 'k', maxRetries: 0 });
    await client.chat.completions.create(ask, { headers: { 'anthropic-beta': 'prompt-caching-2024-07-31', 'OpenAI-Organization': 'org-1' } });
    const seen = (await claude.stats()).last_request.headers;
    assert.equal(seen['anthropic-beta'], 'prompt-caching-2024-07-31');
    assert.equal(seen['openai-organization'], undefined);
  } finally {
    await stopAll(procs);
  }
});

test('GET /v1/models/{id}: a route name is an OpenAI model object, anything else 404 model_not_found', async () => {
  const primary = await Mock.start('primary');
  const procs = [primary];
  try {
    const d = await route(primary);
    procs.push(d);
    const client = new OpenAI({ baseURL: d.baseURL, apiKey: 'k', maxRetries: 0 });
    const model = await client.models.retrieve('gpt-4o');
    assert.equal(model.id, 'gpt-4o');
    assert.equal(model.object, 'model');
    assert.equal(typeof model.created, 'number');
    assert.equal(typeof model.owned_by, 'string');
    const err = await client.models.retrieve('no-such-model').then(() => null, (e) => e);
    assert.ok(err instanceof OpenAI.NotFoundError, String(err));
    assert.equal(err.code, 'model_not_found');
  } finally {
    await stopAll(procs);
  }
});
