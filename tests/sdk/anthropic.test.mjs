// anthropic.test.mjs — the official openai client gets Claude's answers, through detour, while OpenAI fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

import { Detour, Mock, stopAll, upstream } from './harness.mjs';

async function chain(claudeArgs = [], withGroq = false) {
  const openai = await Mock.start('openai', '--status', '503');
  const claude = await Mock.start('claude', '--mode', 'anthropic', '--api-key', 'sk-ant', ...claudeArgs);
  const procs = [openai, claude];
  let yaml = 'upstreams:\n' + upstream('openai', openai.url) +
    upstream('claude', claude.url, ', provider: anthropic, api_key_env: CLAUDE_KEY');
  let targets = '{ upstream: openai }, { upstream: claude, model: claude-3-5-haiku-latest }';
  let groq = null;
  if (withGroq) {
    groq = await Mock.start('groq');
    procs.push(groq);
    yaml += upstream('groq', groq.url);
    targets += ', { upstream: groq }';
  }
  const d = await Detour.start(yaml + `models:\n  gpt-4o:\n    targets: [ ${targets} ]\n`, { CLAUDE_KEY: 'sk-ant' });
  procs.push(d);
  const client = new OpenAI({ baseURL: d.baseURL, apiKey: 'client-key', maxRetries: 0 });
  return { openai, claude, groq, d, client, procs };
}

const tools = [{
  type: 'function',
  function: { name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } } } },
}];

test('a plain answer from Claude arrives in OpenAI shape', async () => {
  const { client, procs } = await chain();
  try {
    const { data, response } = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hello' }],
    }).withResponse();
    assert.equal(response.headers.get('x-detour-upstream'), 'claude');
    assert.equal(data.object, 'chat.completion');
    assert.equal(data.choices[0].message.content, 'Hello from claude.');
    assert.equal(data.choices[0].finish_reason, 'stop');
    assert.equal(typeof data.usage.total_tokens, 'number');
  } finally {
    await stopAll(procs);
  }
});

test('a streamed answer from Claude iterates like an OpenAI stream', async () => {
  const { client, procs } = await chain();
  try {
    const stream = await client.chat.completions.create({
      model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'Hello' }],
    });
    let text = '';
    let finish = null;
    for await (const chunk of stream) {
      assert.equal(chunk.object, 'chat.completion.chunk');
      text += chunk.choices[0]?.delta?.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    assert.equal(text, 'Hello from claude.');
    assert.equal(finish, 'stop');
  } finally {
    await stopAll(procs);
  }
});

test('a tool call from Claude, whole and streamed', async () => {
  const { client, procs } = await chain();
  try {
    const whole = await client.chat.completions.create({
      model: 'gpt-4o', tools, messages: [{ role: 'user', content: 'Weather in Paris?' }],
    });
    const call = whole.choices[0].message.tool_calls[0];
    assert.equal(whole.choices[0].finish_reason, 'tool_calls');
    assert.equal(call.function.name, 'get_weather');
    assert.deepEqual(JSON.parse(call.function.arguments), { city: 'Paris' });

    const stream = client.chat.completions.stream({
      model: 'gpt-4o', tools, messages: [{ role: 'user', content: 'Weather in Paris?' }],
    });
    const final = await stream.finalChatCompletion();
    const streamed = final.choices[0].message.tool_calls[0];
    assert.equal(streamed.function.name, 'get_weather');
    assert.deepEqual(JSON.parse(streamed.function.arguments), { city: 'Paris' });
    assert.equal(final.choices[0].finish_reason, 'tool_calls');
  } finally {
    await stopAll(procs);
  }
});

test('an overloaded_error before Claude\'s first chunk falls over to the third target', async () => {
  const { claude, client, procs } = await chain(['--stream-error-after', '0'], true);
  try {
    const { data: stream, response } = await client.chat.completions.create({
      model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'Hello' }],
    }).withResponse();
    assert.equal(response.headers.get('x-detour-upstream'), 'groq');
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    assert.equal(text, 'Hello from groq.');
    assert.equal((await claude.stats()).requests, 1);
  } finally {
    await stopAll(procs);
  }
});
