// schema.mjs — validates detour's objects against OpenAI's published chat completion schema (tests/sdk/schema/).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import Ajv from 'ajv';

const here = path.dirname(fileURLToPath(import.meta.url));
const schema = JSON.parse(readFileSync(path.join(here, 'schema', 'chat-completion.json'), 'utf8'));
const ajv = new Ajv({ allErrors: true, strict: false });
ajv.addSchema(schema);
const completion = ajv.getSchema(`${schema.$id}#/definitions/CreateChatCompletionResponse`);
const chunk = ajv.getSchema(`${schema.$id}#/definitions/CreateChatCompletionStreamResponse`);

function check(validate, object, what) {
  const ok = validate(object);
  assert.ok(ok, `${what} does not validate: ${ajv.errorsText(validate.errors, { separator: '; ' })}\n${JSON.stringify(object)}`);
}

// Throws, naming every violation, unless object is a valid chat.completion.
export function assertCompletion(object, what = 'chat.completion') {
  check(completion, object, what);
}

// Throws unless every chunk is a valid chat.completion.chunk.
export function assertChunks(chunks, what = 'chat.completion.chunk') {
  chunks.forEach((c, i) => check(chunk, c, `${what} #${i}`));
}
