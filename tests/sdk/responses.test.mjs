// responses.test.mjs — the official openai client's responses methods, and the Vercel AI SDK's default OpenAI provider, through detour over chat upstreams.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { createOpenAI } from '@ai-sdk/openai';
import { generateText, streamText, generateObject, tool, jsonSchema } from 'ai';

import { Detour, Mock, stopAll, upstream } from './harness.mjs';

async function oneTarget(mockArgs = []) {
  const mock = await Mock.start('chatty', ...mockArgs);
  const d = await Detour.start('upstreams:\n' + upstream('chatty', mock.url) +
    'models:\n  gpt-4o:\n    targets: [ { upstream: chatty } ]\n');
  const client = new OpenAI({ baseURL: d.baseURL, apiKey: 'client-key', maxRetries: 0 });
  return { mock, d, client, procs: [mock, d] };
}

const weather = {
  type: 'function', name: 'get_weather', description: 'The weather in a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

test('responses.create answers a string input with a response object and detour\'s own id', async () => {
  const { client, procs } = await oneTarget();
  try {
    const { data: r, response } = await client.responses.create({ model: 'gpt-4o', input: 'Hello' }).withResponse();
    assert.match(r.id, /^resp_[0-9a-f]{48}$/);
    assert.equal(r.object, 'response');
    assert.equal(r.status, 'completed');
    assert.equal(r.output_text, 'Hello from chatty.');
    assert.ok(r.usage.total_tokens > 0);
    assert.equal(response.headers.get('x-detour-upstream'), 'chatty');
  } finally {
    await stopAll(procs);
  }
});

test('stream: true gives the Responses events, the text deltas adding up to the answer', async () => {
  const { client, procs } = await oneTarget(['--chunks', '4']);
  try {
    const stream = await client.responses.create({ model: 'gpt-4o', input: 'Hello', stream: true });
    const types = [];
    let text = '';
    let seq = -1;
    for await (const ev of stream) {
      types.push(ev.type);
      assert.equal(ev.sequence_number, seq + 1);
      seq = ev.sequence_number;
      if (ev.type === 'response.output_text.delta') text += ev.delta;
    }
    assert.equal(text, 'Hello from chatty.');
    assert.deepEqual(types.slice(0, 4), ['response.created', 'response.in_progress', 'response.output_item.added',
      'response.content_part.added']);
    assert.equal(types.at(-1), 'response.completed');
  } finally {
    await stopAll(procs);
  }
});

test('the .stream() helper\'s final response is the whole answer', async () => {
  const { client, procs } = await oneTarget();
  try {
    const stream = client.responses.stream({ model: 'gpt-4o', input: 'Hello' });
    const final = await stream.finalResponse();
    assert.equal(final.status, 'completed');
    assert.equal(final.output_text, 'Hello from chatty.');
  } finally {
    await stopAll(procs);
  }
});

test('a function tool round trip continues the conversation by previous_response_id', async () => {
  const { mock, client, procs } = await oneTarget();
  try {
    const first = await client.responses.create({ model: 'gpt-4o', input: 'Weather in Paris?', tools: [weather] });
    const call = first.output.find((item) => item.type === 'function_call');
    assert.equal(call.name, 'get_weather');
    assert.deepEqual(JSON.parse(call.arguments), { city: 'Paris' });
    const second = await client.responses.create({
      model: 'gpt-4o', previous_response_id: first.id, tools: [weather],
      input: [{ type: 'function_call_output', call_id: call.call_id, output: 'sunny' }],
    });
    assert.equal(second.previous_response_id, first.id);
    // The mock calls the tool again unless the last message it got is the tool's
    // output: a text answer proves detour sent the expanded conversation.
    assert.equal(second.output_text, 'Hello from chatty.');
    assert.equal((await mock.stats()).requests, 2);
  } finally {
    await stopAll(procs);
  }
});

test('text.format json_schema comes back as JSON the client parses', async () => {
  const { client, procs } = await oneTarget(['--content', '{"city":"Paris"}']);
  try {
    const r = await client.responses.create({
      model: 'gpt-4o', input: 'Which city?',
      text: { format: { type: 'json_schema', name: 'city', strict: true,
        schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false } } },
    });
    assert.equal(r.text.format.type, 'json_schema');
    assert.deepEqual(JSON.parse(r.output_text), { city: 'Paris' });
  } finally {
    await stopAll(procs);
  }
});

test('a stream cut after its first delta ends in response.failed, not a silent end', async () => {
  const mock = await Mock.start('primary', '--cut-after', '2', '--chunks', '6');
  const backup = await Mock.start('backup');
  const d = await Detour.start('upstreams:\n' + upstream('primary', mock.url) + upstream('backup', backup.url) +
    'models:\n  gpt-4o:\n    targets: [ { upstream: primary }, { upstream: backup } ]\n');
  const client = new OpenAI({ baseURL: d.baseURL, apiKey: 'client-key', maxRetries: 0 });
  try {
    const stream = await client.responses.create({ model: 'gpt-4o', input: 'Hello', stream: true });
    let last = null;
    let deltas = 0;
    for await (const ev of stream) {
      last = ev;
      if (ev.type === 'response.output_text.delta') deltas++;
    }
    assert.ok(deltas >= 1);
    assert.equal(last.type, 'response.failed');
    assert.equal(last.response.status, 'failed');
    assert.equal(last.response.error.code, 'stream_interrupted');
    // Committed: the backup was never called.
    assert.equal((await backup.stats()).requests, 0);
  } finally {
    await stopAll([mock, backup, d]);
  }
});

// The Vercel AI SDK's default provider: openai('gpt-4o') calls POST /v1/responses.
function aiModel(d) {
  return createOpenAI({ baseURL: d.baseURL, apiKey: 'client-key' })('gpt-4o');
}

test('AI SDK generateText and streamText go through /v1/responses', async () => {
  const { mock, d, procs } = await oneTarget();
  try {
    const { text } = await generateText({ model: aiModel(d), prompt: 'Hello', maxRetries: 0 });
    assert.equal(text, 'Hello from chatty.');
    const result = streamText({ model: aiModel(d), prompt: 'Hello', maxRetries: 0 });
    let streamed = '';
    for await (const piece of result.textStream) streamed += piece;
    assert.equal(streamed, 'Hello from chatty.');
    assert.equal((await mock.stats()).requests, 2);
  } finally {
    await stopAll(procs);
  }
});

test('AI SDK tool call and generateObject', async () => {
  const { d, procs } = await oneTarget(['--content', '{"city":"Paris"}']);
  try {
    const { toolCalls } = await generateText({
      model: aiModel(d), prompt: 'Weather in Paris?', maxRetries: 0,
      tools: { get_weather: tool({ description: 'The weather', inputSchema: jsonSchema(weather.parameters) }) },
    });
    assert.equal(toolCalls.length, 1);
    assert.equal(toolCalls[0].toolName, 'get_weather');
    assert.deepEqual(toolCalls[0].input, { city: 'Paris' });
    const { object } = await generateObject({
      model: aiModel(d), prompt: 'Which city?', maxRetries: 0,
      schema: jsonSchema({ type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false }),
    });
    assert.deepEqual(object, { city: 'Paris' });
  } finally {
    await stopAll(procs);
  }
});

// A route of a native Responses upstream and a chat-only one.
async function mixedRoute() {
  const native = await Mock.start('native', '--content', 'Hello from native.');
  const chat = await Mock.start('chatty');
  const d = await Detour.start('upstreams:\n' + upstream('native', native.url, ', responses: native') +
    upstream('chatty', chat.url) +
    'models:\n  gpt-4o:\n    targets: [ { upstream: native }, { upstream: chatty } ]\n');
  const client = new OpenAI({ baseURL: d.baseURL, apiKey: 'client-key', maxRetries: 0 });
  return { native, chat, d, client, procs: [native, chat, d] };
}

test('a second turn falls over from a native upstream to a chat-only one and keeps its context', async () => {
  const { native, chat, client, procs } = await mixedRoute();
  try {
    const { data: first, response } = await client.responses.create({ model: 'gpt-4o', input: 'My name is Ada.' }).withResponse();
    assert.equal(response.headers.get('x-detour-upstream'), 'native');
    assert.equal(first.output_text, 'Hello from native.');
    assert.match(first.id, /^resp_[0-9a-f]{48}$/);
    await native.faults({ status: 503 });
    const { data: second, response: r2 } = await client.responses.create({
      model: 'gpt-4o', input: 'What is my name?', previous_response_id: first.id,
    }).withResponse();
    assert.equal(r2.headers.get('x-detour-upstream'), 'chatty');
    assert.equal(r2.headers.get('x-detour-attempts'), '2');
    assert.equal(second.output_text, 'Hello from chatty.');
    assert.equal(second.previous_response_id, first.id);
    // The chat upstream got the whole conversation: the first turn, the native answer, the question.
    const stats = await chat.stats();
    const body = JSON.stringify(stats);
    assert.ok(body.includes('My name is Ada.'), 'the first turn reached the chat upstream');
    assert.ok(body.includes('Hello from native.'), 'the native answer reached the chat upstream');
    assert.ok(body.includes('What is my name?'));
  } finally {
    await stopAll(procs);
  }
});

test('a native stream passes the upstream\'s events through under detour\'s id', async () => {
  const { client, procs } = await mixedRoute();
  try {
    const stream = client.responses.stream({ model: 'gpt-4o', input: 'Hello' });
    const final = await stream.finalResponse();
    assert.equal(final.output_text, 'Hello from native.');
    assert.match(final.id, /^resp_[0-9a-f]{48}$/);
  } finally {
    await stopAll(procs);
  }
});

test('a native upstream\'s response.failed before the first delta falls over invisibly', async () => {
  const { native, client, procs } = await mixedRoute();
  try {
    await native.faults({ stream_error_after: 0 });
    const stream = client.responses.stream({ model: 'gpt-4o', input: 'Hello' });
    const final = await stream.finalResponse();
    assert.equal(final.output_text, 'Hello from chatty.');
  } finally {
    await stopAll(procs);
  }
});

test('a native stream cut after its first delta ends in response.failed', async () => {
  const { native, chat, client, procs } = await mixedRoute();
  try {
    await native.faults({ cut_after: 2 });
    const stream = await client.responses.create({ model: 'gpt-4o', input: 'Hello', stream: true });
    let last = null;
    for await (const ev of stream) last = ev;
    assert.equal(last.type, 'response.failed');
    assert.equal(last.response.status, 'failed');
    assert.equal((await chat.stats()).requests, 0);
  } finally {
    await stopAll(procs);
  }
});
