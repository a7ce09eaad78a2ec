// responses_anthropic.test.mjs — the Responses API through detour when the answer comes from an Anthropic upstream (translated twice: Responses → chat → Messages), after the OpenAI target fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

import { Detour, Mock, stopAll, upstream } from './harness.mjs';

async function chain(claudeArgs = []) {
  const openai = await Mock.start('openai', '--status', '503');
  const claude = await Mock.start('claude', '--mode', 'anthropic', '--api-key', 'sk-ant', ...claudeArgs);
  const d = await Detour.start('upstreams:\n' + upstream('openai', openai.url) +
    upstream('claude', claude.url, ', provider: anthropic, api_key_env: CLAUDE_KEY') +
    'models:\n  gpt-4o:\n    targets: [ { upstream: openai }, { upstream: claude, model: claude-3-5-haiku-latest } ]\n',
  { CLAUDE_KEY: 'sk-ant' });
  const client = new OpenAI({ baseURL: d.baseURL, apiKey: 'client-key', maxRetries: 0 });
  return { openai, claude, d, client, procs: [openai, claude, d] };
}

test('responses.create falls over from a failing OpenAI target to Claude and answers as a response', async () => {
  const { openai, claude, client, procs } = await chain();
  try {
    const { data: r, response } = await client.responses.create({
      model: 'gpt-4o', instructions: 'Be brief.', input: 'Hello',
    }).withResponse();
    assert.match(r.id, /^resp_/);
    assert.equal(r.status, 'completed');
    assert.equal(r.output_text, 'Hello from claude.');
    assert.ok(r.usage.input_tokens > 0 && r.usage.output_tokens > 0);
    assert.equal(response.headers.get('x-detour-upstream'), 'claude');
    assert.equal(response.headers.get('x-detour-attempts'), '2');
    // The Messages API got the instructions as its system prompt, never the Responses shape.
    const seen = (await claude.stats()).last_request.body;
    assert.equal(seen.system, 'Be brief.');
    assert.equal(seen.model, 'claude-3-5-haiku-latest');
    assert.equal(seen.input, undefined);
    assert.equal((await openai.stats()).requests, 1);
  } finally {
    await stopAll(procs);
  }
});

test('a streamed response from Claude arrives as the Responses events, ending in response.completed', async () => {
  const { client, procs } = await chain(['--chunks', '3']);
  try {
    const stream = await client.responses.create({ model: 'gpt-4o', input: 'Hello', stream: true });
    let text = '';
    const types = [];
    for await (const ev of stream) {
      types.push(ev.type);
      if (ev.type === 'response.output_text.delta') text += ev.delta;
    }
    assert.equal(text, 'Hello from claude.');
    assert.equal(types[0], 'response.created');
    assert.equal(types.at(-1), 'response.completed');
  } finally {
    await stopAll(procs);
  }
});

test('a second turn with previous_response_id reaches Claude with the first turn in its messages', async () => {
  const { claude, client, procs } = await chain();
  try {
    const first = await client.responses.create({ model: 'gpt-4o', input: 'My name is Ada.' });
    const second = await client.responses.create({ model: 'gpt-4o', input: 'What is my name?', previous_response_id: first.id });
    assert.equal(second.status, 'completed');
    const seen = (await claude.stats()).last_request.body;
    const said = seen.messages.map((m) => (typeof m.content === 'string' ? m.content
      : m.content.map((c) => c.text || '').join('')));
    assert.deepEqual(said, ['My name is Ada.', 'Hello from claude.', 'What is my name?']);
  } finally {
    await stopAll(procs);
  }
});
