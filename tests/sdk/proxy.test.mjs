// proxy.test.mjs — the official openai client, with its baseURL at detour, while upstreams fail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

import { Detour, Mock, stopAll, upstream, freePort } from './harness.mjs';

test('a chat completion while the primary fails gets the backup\'s answer', async () => {
  const primary = await Mock.start('primary', '--status', '503');
  const backup = await Mock.start('backup');
  const procs = [primary, backup];
  try {
    const d = await Detour.start('upstreams:\n' + upstream('primary', primary.url) + upstream('backup', backup.url) +
      'models:\n  gpt-4o:\n    targets: [ { upstream: primary }, { upstream: backup } ]\n');
    procs.push(d);
    const client = new OpenAI({ baseURL: d.baseURL, apiKey: 'client-key', maxRetries: 0 });
    const { data, response } = await client.chat.completions
      .create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hello' }] })
      .withResponse();
    assert.equal(data.choices[0].message.content, 'Hello from backup.');
    assert.equal(data.object, 'chat.completion');
    assert.equal(response.headers.get('x-detour-upstream'), 'backup');
    assert.equal(response.headers.get('x-detour-attempts'), '2');
    assert.equal((await primary.stats()).requests, 1);
    assert.equal((await backup.stats()).requests, 1);
  } finally {
    await stopAll(procs);
  }
});

test('every upstream down reaches the client as an APIError 502 with detour\'s message', async () => {
  const primary = await Mock.start('primary', '--status', '500');
  const procs = [primary];
  try {
    const dead = `http://127.0.0.1:${await freePort()}/v1`;
    const d = await Detour.start('upstreams:\n' + upstream('primary', primary.url) + upstream('backup', dead) +
      'models:\n  gpt-4o:\n    targets: [ { upstream: primary }, { upstream: backup } ]\n');
    procs.push(d);
    const client = new OpenAI({ baseURL: d.baseURL, apiKey: 'client-key', maxRetries: 0 });
    await assert.rejects(
      client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hello' }] }),
      (err) => {
        assert.ok(err instanceof OpenAI.APIError, `not an APIError: ${err}`);
        assert.equal(err.status, 502);
        assert.match(err.message, /all upstreams failed for model gpt-4o/);
        assert.equal(err.code, 'all_upstreams_failed');
        assert.equal(err.type, 'upstream_error');
        assert.equal(err.error.attempts.length, 2);
        return true;
      },
    );
  } finally {
    await stopAll(procs);
  }
});

test('models.list shows the configured model names', async () => {
  const up = await Mock.start('up');
  const procs = [up];
  try {
    const d = await Detour.start('upstreams:\n' + upstream('up', up.url) +
      'models:\n  gpt-4o:\n    targets: [ { upstream: up } ]\n  claude-haiku:\n    targets: [ { upstream: up } ]\n');
    procs.push(d);
    const client = new OpenAI({ baseURL: d.baseURL, apiKey: 'client-key', maxRetries: 0 });
    const ids = [];
    for await (const m of client.models.list()) ids.push(m.id);
    assert.deepEqual(ids, ['gpt-4o', 'claude-haiku']);
  } finally {
    await stopAll(procs);
  }
});
