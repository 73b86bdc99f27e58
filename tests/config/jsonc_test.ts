import assert from "node:assert/strict";
import { parseJsonc } from "../../lib/config/jsonc.ts";

Deno.test("parseJsonc() parses plain JSON exactly as JSON.parse does", () => {
  const text = '{"a": [1, 2.5, -3e2, true, null], "b": {"c": "d\\n\\"e\\""}, "": {}}';
  assert.deepEqual(parseJsonc(text), JSON.parse(text));
});

Deno.test("parseJsonc() ignores line and block comments", () => {
  const text = `// leading comment
{
  "a": 1, // after a value
  /* before a key */ "b": /* inside */ 2,
  /*
   * a multi-line block
   */
  "c": 3
}
// trailing comment`;
  assert.deepEqual(parseJsonc(text), { a: 1, b: 2, c: 3 });
});

Deno.test("parseJsonc() ends a line comment at a CRLF line break", () => {
  assert.deepEqual(parseJsonc('{\r\n  "a": 1, // note\r\n  "b": 2\r\n}'), { a: 1, b: 2 });
});

Deno.test("parseJsonc() accepts trailing commas in objects and arrays, nested", () => {
  const text = `{
    "list": [1, 2, 3,],
    "nested": { "deep": [{ "x": 1, }, ], },
  }`;
  assert.deepEqual(parseJsonc(text), { list: [1, 2, 3], nested: { deep: [{ x: 1 }] } });
});

Deno.test("parseJsonc() accepts a trailing comma followed by a comment", () => {
  assert.deepEqual(parseJsonc('{"a": 1, // last\n}'), { a: 1 });
  assert.deepEqual(parseJsonc("[1, /* last */ ]"), [1]);
});

Deno.test("parseJsonc() keeps comment markers and commas that are inside strings", () => {
  const text = `{
    "url": "http://127.0.0.1:11434", // a real comment
    "block": "/* not a comment */",
    "commas": "a,}b,]",
    "escaped": "quote \\" // still inside the string"
  }`;
  assert.deepEqual(parseJsonc(text), {
    url: "http://127.0.0.1:11434",
    block: "/* not a comment */",
    commas: "a,}b,]",
    escaped: 'quote " // still inside the string',
  });
});

Deno.test("parseJsonc() treats a block comment as whitespace, not as nothing", () => {
  // "1/**/2" must not turn into the number 12.
  assert.throws(() => parseJsonc("[1/**/2]"), SyntaxError);
});

Deno.test("parseJsonc() throws SyntaxError for text that is invalid once comments are removed", () => {
  assert.throws(() => parseJsonc('{"a": 1 // the closing brace is commented out }'), SyntaxError);
  assert.throws(() => parseJsonc("{a: 1}"), SyntaxError);
  assert.throws(() => parseJsonc("[1,,]"), SyntaxError);
  assert.throws(() => parseJsonc("// only a comment"), SyntaxError);
});
