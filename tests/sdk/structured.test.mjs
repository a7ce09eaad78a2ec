// structured.test.mjs — nothing dropped without a word on an Anthropic target (issue 13, point 4): structured
// outputs through the openai SDK, the Vercel AI SDK and LangChain JS; cache tokens; thinking; 64+ streamed blocks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { zodResponseFormat } from 'openai/helpers/zod';
import { createOpenAI } from '@ai-sdk/openai';
import { generateObject } from 'ai';
import { ChatOpenAI } from '@langchain/openai';
import { z } from 'zod';

import { Detour, Mock, stopAll, upstream } from './harness.mjs';

// An Anthropic-only route: detour must translate, nothing else can answer.
async function claudeOnly(...claudeArgs) {
  const claude = await Mock.start('claude', '--mode', 'anthropic', '--api-key', 'sk-ant', ...claudeArgs);
  const procs = [claude];
  try {
    const d = await Detour.start('upstreams:\n' + upstream('claude', claude.url, ', provider: anthropic, api_key_env: CLAUDE_KEY') +
      'models:\n  gpt-4o: { targets: [ { upstream: claude, model: claude-3-5-haiku-latest } ] }\n', { CLAUDE_KEY: 'sk-ant' });
    procs.push(d);
    const client = new OpenAI({ baseURL: d.baseURL, apiKey: 'client-key', maxRetries: 0 });
    return { claude, d, client, procs };
  } catch (e) {
    await stopAll(procs);
    throw e;
  }
}

// The mock answers a forced tool with an input built from its schema: "mock" for strings, 1, true.
const Weather = z.object({ city: z.string(), temperature: z.number(), sunny: z.boolean() });
const expected = { city: 'mock', temperature: 1, sunny: true };
const ask = [{ role: 'user', content: 'Weather in Paris, as JSON.' }];

test('openai SDK chat.completions.parse() with a zod schema gets a parsed object from Claude', async () => {
  const { client, procs } = await claudeOnly();
  try {
    const completion = await client.chat.completions.parse({
      model: 'gpt-4o', messages: ask, response_format: zodResponseFormat(Weather, 'weather'),
    });
    const message = completion.choices[0].message;
    assert.deepEqual(message.parsed, expected);
    assert.deepEqual(JSON.parse(message.content), expected);
    assert.equal(message.tool_calls?.length ?? 0, 0, 'the forced tool is turned back into content');
    assert.equal(completion.choices[0].finish_reason, 'stop');
  } finally {
    await stopAll(procs);
  }
});

test('Vercel AI SDK generateObject works against an Anthropic target', async () => {
  const { d, procs } = await claudeOnly();
  try {
    const provider = createOpenAI({ baseURL: d.baseURL, apiKey: 'client-key' });
    const { object } = await generateObject({
      model: provider.chat('gpt-4o'), schema: Weather, prompt: 'Weather in Paris.', maxRetries: 0,
    });
    assert.deepEqual(object, expected);
  } finally {
    await stopAll(procs);
  }
});

test('LangChain withStructuredOutput works against an Anthropic target', async () => {
  const { d, procs } = await claudeOnly();
  try {
    const model = new ChatOpenAI({ model: 'gpt-4o', apiKey: 'client-key', maxRetries: 0, configuration: { baseURL: d.baseURL } });
    const structured = model.withStructuredOutput(Weather, { name: 'weather', method: 'jsonSchema' });
    assert.deepEqual(await structured.invoke('Weather in Paris.'), expected);
  } finally {
    await stopAll(procs);
  }
});

test('response_format json_object gets a JSON object from Claude, plain and streamed', async () => {
  const { client, procs } = await claudeOnly();
  try {
    const completion = await client.chat.completions.create({ model: 'gpt-4o', messages: ask, response_format: { type: 'json_object' } });
    const content = completion.choices[0].message.content;
    assert.equal(typeof JSON.parse(content), 'object', content);
    assert.ok(!Array.isArray(JSON.parse(content)) && JSON.parse(content) !== null, content);
    const stream = await client.chat.completions.create({ model: 'gpt-4o', messages: ask, stream: true, response_format: { type: 'json_object' } });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    assert.equal(typeof JSON.parse(text), 'object', text);
  } finally {
    await stopAll(procs);
  }
});

test('Anthropic cache reads appear as usage.prompt_tokens_details.cached_tokens', async () => {
  const { client, procs } = await claudeOnly('--cache-read-tokens', '7', '--cache-creation-tokens', '3');
  try {
    const completion = await client.chat.completions.create({ model: 'gpt-4o', messages: ask });
    assert.equal(completion.usage.prompt_tokens_details?.cached_tokens, 7);
    assert.ok(completion.usage.prompt_tokens >= 7 + 3, JSON.stringify(completion.usage));
    const stream = await client.chat.completions.create({ model: 'gpt-4o', messages: ask, stream: true, stream_options: { include_usage: true } });
    let usage = null;
    for await (const chunk of stream) usage = chunk.usage ?? usage;
    assert.equal(usage?.prompt_tokens_details?.cached_tokens, 7, JSON.stringify(usage));
  } finally {
    await stopAll(procs);
  }
});

test('Anthropic thinking blocks arrive as reasoning_content, plain and streamed', async () => {
  const { client, procs } = await claudeOnly('--thinking', 'First, the forecast.');
  try {
    const completion = await client.chat.completions.create({ model: 'gpt-4o', messages: ask });
    const message = completion.choices[0].message;
    assert.equal(message.reasoning_content, 'First, the forecast.');
    assert.equal(message.content, 'Hello from claude.');
    const stream = await client.chat.completions.create({ model: 'gpt-4o', messages: ask, stream: true });
    let reasoning = '';
    let text = '';
    for await (const chunk of stream) {
      reasoning += chunk.choices[0]?.delta?.reasoning_content ?? '';
      text += chunk.choices[0]?.delta?.content ?? '';
    }
    assert.equal(reasoning, 'First, the forecast.');
    assert.equal(text, 'Hello from claude.');
  } finally {
    await stopAll(procs);
  }
});

test('a streamed answer of 71 content blocks (70 tool calls) streams whole', async () => {
  const { client, procs } = await claudeOnly('--tool-calls', '70');
  try {
    const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
    const stream = await client.chat.completions.create({ model: 'gpt-4o', messages: ask, tools, stream: true });
    const calls = new Map();
    let finish = null;
    for await (const chunk of stream) {
      for (const t of chunk.choices[0]?.delta?.tool_calls ?? []) {
        const call = calls.get(t.index) ?? { id: '', name: '', args: '' };
        call.id += t.id ?? '';
        call.name += t.function?.name ?? '';
        call.args += t.function?.arguments ?? '';
        calls.set(t.index, call);
      }
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    assert.equal(calls.size, 70);
    assert.equal(finish, 'tool_calls');
    for (const [i, call] of calls) {
      assert.equal(call.id, `toolu_mock_${i + 1}`);
      assert.equal(call.name, 'get_weather');
      assert.deepEqual(JSON.parse(call.args), { city: 'Paris' });
    }
  } finally {
    await stopAll(procs);
  }
});
