import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseHuJSON, HuJSONError } from '../lib/devnet/hujson.js';

test('hujson: plain JSON parses like JSON.parse', () => {
  const samples = ['{}', '[]', '0', '-1.5e3', '"a\\u00e9\\n\\"b"', 'true', 'null', '{"a":[1,{"b":false}],"c":"d"}'];
  for (const s of samples) assert.deepEqual(parseHuJSON(s), JSON.parse(s));
});

test('hujson: comments and trailing commas', () => {
  const text = `
  // a policy
  {
    /* block
       comment */
    "groups": { "group:eng": ["alice@example.com", /* inline */ "bob@example.com",], },
    "acls": [
      {"action": "accept", "src": ["*"], "dst": ["*:*"]}, // trailing comment
    ],
    "url": "http://not-a-comment//x", // the // inside a string stays
  }
  `;
  assert.deepEqual(parseHuJSON(text), {
    groups: { 'group:eng': ['alice@example.com', 'bob@example.com'] },
    acls: [{ action: 'accept', src: ['*'], dst: ['*:*'] }],
    url: 'http://not-a-comment//x',
  });
});

test('hujson: errors carry line and column', () => {
  const cases: Array<[string, RegExp]> = [
    ['{"a": 1,,}', /expected a string key at line 1, column 9/],
    ['{\n  "a": tru\n}', /invalid literal at line 2, column 8/],
    ['{"a": 1 "b": 2}', /expected "," or "}"/],
    ['[1, 2', /expected "," or "]"|unexpected end/],
    ['/* never closed', /unterminated block comment/],
    ['{"a": "x\ny"}', /control character/],
    ['{"a": 1} extra', /unexpected content after/],
    ['{"a": 1, "a": 2}', /duplicate key "a"/],
    ["{'a': 1}", /expected a string key/],
    ['{"a": 01}', /expected "," or "}"/],
    ['', /unexpected end of input/],
  ];
  for (const [text, re] of cases) {
    assert.throws(() => parseHuJSON(text), (e: unknown) => e instanceof HuJSONError && re.test(e.message), text);
  }
});

test('hujson: deep nesting is refused, not a stack overflow', () => {
  assert.throws(() => parseHuJSON('['.repeat(100000)), /nesting too deep/);
});

test('hujson: __proto__ keys are plain data', () => {
  const v = parseHuJSON('{"__proto__": {"polluted": true}}') as Record<string, unknown>;
  assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
  assert.deepEqual(Object.keys(v), ['__proto__']);
});
