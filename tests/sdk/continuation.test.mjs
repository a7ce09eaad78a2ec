// continuation.test.mjs — with streams.on_cut: continue, the clients people use read one whole answer when the primary cuts mid-stream.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { createOpenAI } from '@ai-sdk/openai';
import { streamText } from 'ai';

import { Detour, Mock, stopAll, upstream } from './harness.mjs';

const PRIMARY_TEXT = 'The quick brown fox jumps over the lazy dog and runs far away.';
const BACKUP_TEXT = 'and the rest of the answer.';

// A primary that cuts after cutAfter content chunks (of 6), and a backup that continues.
async function cutAndContinue(cutAfter = 2) {
  const primary = await Mock.start('primary', '--content', PRIMARY_TEXT, '--chunks', '6', '--cut-after', cutAfter);
  const backup = await Mock.start('backup', '--content', BACKUP_TEXT, '--chunks', '3');
  const d = await Detour.start('streams: { on_cut: continue, max_continuations: 1 }\n' +
    'upstreams:\n' + upstream('primary', primary.url) + upstream('backup', backup.url) +
    'models:\n  gpt-4o:\n    targets: [ { upstream: primary }, { upstream: backup } ]\n');
  return { primary, backup, d, procs: [primary, backup, d] };
}

// What the primary delivered before its cut, as the backup was told it (the trailing assistant message).
async function partialSentToBackup(backup) {
  const stats = await backup.stats();
  assert.equal(stats.requests, 1);
  const messages = stats.last_request.body.messages;
  const assistant = messages.filter((m) => m.role === 'assistant');
  assert.equal(assistant.length, 1, JSON.stringify(messages));
  return assistant[0].content;
}

// The answer is the primary's first part, then the backup's words: nothing lost, nothing repeated.
async function assertOneAnswer(text, primary, backup) {
  const partial = await partialSentToBackup(backup);
  assert.ok(partial.length > 0 && partial.length < PRIMARY_TEXT.length, `partial: ${partial}`);
  assert.ok(PRIMARY_TEXT.startsWith(partial), `partial: ${partial}`);
  assert.equal(text, partial + BACKUP_TEXT);
  assert.equal((await primary.stats()).requests, 1);
}

test('the openai client reads one whole chat stream when the primary cuts and the backup continues', async () => {
  const { primary, backup, d, procs } = await cutAndContinue();
  try {
    const client = new OpenAI({ baseURL: d.baseURL, apiKey: 'client-key', maxRetries: 0 });
    const { data: stream, response } = await client.chat.completions.create({
      model: 'gpt-4o', stream: true, stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'Hello' }],
    }).withResponse();
    // Headers went out at the commit point: they name the upstream the stream began on.
    assert.equal(response.headers.get('x-detour-upstream'), 'primary');
    let text = '';
    const ids = new Set();
    const finishes = [];
    let usage = null;
    for await (const chunk of stream) {
      ids.add(chunk.id);
      for (const choice of chunk.choices) {
        text += choice.delta?.content ?? '';
        if (choice.finish_reason) finishes.push(choice.finish_reason);
      }
      if (chunk.usage) usage = chunk.usage;
    }
    assert.equal(ids.size, 1);
    assert.deepEqual(finishes, ['stop']);
    assert.ok(usage !== null && usage.completion_tokens > 0);
    await assertOneAnswer(text, primary, backup);
  } finally {
    await stopAll(procs);
  }
});

test('the AI SDK streamText over chat reads one whole answer when the primary cuts and the backup continues', async () => {
  const { primary, backup, d, procs } = await cutAndContinue(3);
  try {
    const openai = createOpenAI({ baseURL: d.baseURL, apiKey: 'client-key' });
    const errors = [];
    const result = streamText({
      model: openai.chat('gpt-4o'), prompt: 'Hello', maxRetries: 0,
      onError: ({ error }) => errors.push(error),
    });
    let text = '';
    for await (const piece of result.textStream) text += piece;
    assert.deepEqual(errors, []);
    assert.equal(await result.finishReason, 'stop');
    await assertOneAnswer(text, primary, backup);
  } finally {
    await stopAll(procs);
  }
});

test('a Responses stream over chat upstreams continues: one response id, deltas going on, one response.completed', async () => {
  const { primary, backup, d, procs } = await cutAndContinue();
  try {
    const client = new OpenAI({ baseURL: d.baseURL, apiKey: 'client-key', maxRetries: 0 });
    const stream = await client.responses.create({ model: 'gpt-4o', input: 'Hello', stream: true });
    const types = [];
    const ids = new Set();
    let text = '';
    let completed = null;
    for await (const event of stream) {
      types.push(event.type);
      if (event.response?.id) ids.add(event.response.id);
      if (event.type === 'response.output_text.delta') text += event.delta;
      if (event.type === 'response.completed') completed = event.response;
    }
    assert.equal(types.filter((t) => t === 'response.completed').length, 1, types.join(' '));
    assert.equal(types.filter((t) => t === 'response.created').length, 1, types.join(' '));
    assert.ok(!types.includes('response.failed') && !types.includes('error'), types.join(' '));
    assert.equal(ids.size, 1);
    assert.equal(completed.status, 'completed');
    assert.equal(completed.output_text ?? completed.output[0].content[0].text, text);
    await assertOneAnswer(text, primary, backup);
  } finally {
    await stopAll(procs);
  }
});

test('the AI SDK streamText over the Responses API reads one whole continued answer', async () => {
  const { primary, backup, d, procs } = await cutAndContinue();
  try {
    const errors = [];
    const result = streamText({
      model: createOpenAI({ baseURL: d.baseURL, apiKey: 'client-key' })('gpt-4o'), prompt: 'Hello', maxRetries: 0,
      onError: ({ error }) => errors.push(error),
    });
    let text = '';
    for await (const piece of result.textStream) text += piece;
    assert.deepEqual(errors, []);
    await assertOneAnswer(text, primary, backup);
  } finally {
    await stopAll(procs);
  }
});
