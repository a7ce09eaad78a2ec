// stream.test.mjs — the official openai client iterating streams through detour while upstreams fail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

import { Detour, Mock, stopAll, upstream } from './harness.mjs';

async function twoTargets(primaryArgs, primaryExtra = '') {
  const primary = await Mock.start('primary', ...primaryArgs);
  const backup = await Mock.start('backup');
  const d = await Detour.start('upstreams:\n' + upstream('primary', primary.url, primaryExtra) +
    upstream('backup', backup.url) +
    'models:\n  gpt-4o:\n    targets: [ { upstream: primary }, { upstream: backup } ]\n');
  const client = new OpenAI({ baseURL: d.baseURL, apiKey: 'client-key', maxRetries: 0 });
  return { primary, backup, d, client, procs: [primary, backup, d] };
}

async function collect(stream) {
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
  return text;
}

const request = { model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'Hello' }] };

test('a stream whose primary fails before its first byte arrives whole from the backup', async () => {
  const { primary, backup, client, procs } = await twoTargets(['--status', '503']);
  try {
    const { data: stream, response } = await client.chat.completions.create(request).withResponse();
    assert.equal(response.headers.get('x-detour-upstream'), 'backup');
    assert.equal(await collect(stream), 'Hello from backup.');
    assert.equal((await primary.stats()).requests, 1);
    assert.equal((await backup.stats()).requests, 1);
  } finally {
    await stopAll(procs);
  }
});

test('a primary that cuts after two chunks makes the iteration throw, not end normally', async () => {
  const { backup, client, procs } = await twoTargets(['--cut-after', '2', '--chunks', '6']);
  try {
    const stream = await client.chat.completions.create(request);
    let text = '';
    await assert.rejects(async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    }, (err) => {
      assert.ok(err instanceof OpenAI.APIError, `not an APIError: ${err}`);
      assert.match(err.message, /broke off the stream/);
      return true;
    });
    assert.ok(text.length > 0, 'the first chunks arrived before the error');
    assert.notEqual(text, 'Hello from primary.');
    assert.equal((await backup.stats()).requests, 0);
  } finally {
    await stopAll(procs);
  }
});

test('a primary that stalls longer than first_byte is fallen over', async () => {
  const { client, procs } = await twoTargets(['--latency', '3s'],
    ', timeouts: { connect: 500ms, first_byte: 400ms, idle: 2s, total: 5s }');
  try {
    const { data: stream, response } = await client.chat.completions.create(request).withResponse();
    assert.equal(response.headers.get('x-detour-upstream'), 'backup');
    assert.equal(await collect(stream), 'Hello from backup.');
  } finally {
    await stopAll(procs);
  }
});
