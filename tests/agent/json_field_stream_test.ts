import { doesNotThrow, strictEqual } from "node:assert/strict";
import { JsonFieldStream } from "../../lib/agent/json_field_stream.ts";

const TEXTS: string[] = [
  JSON.stringify({
    message: "Hello, world!",
    sentiment: "positive",
    references: [],
  }),
  JSON.stringify(
    {
      sentiment: "neutral",
      references: ['a "quoted" ref', "{message}"],
      message: 'Line1\nLine2\t"q" \\ back/slash é 😀 \u0001 \u2028',
    },
    null,
    2,
  ),
  String.raw`{ "references" : [ {"message": "nested"} , "x" ] ,
    "meta": {"message": "deep", "a": [1, {"message": "deeper"}]},
    "n": -1.5e3, "t": true, "z": null,
    "message" : "caf\u00e9 \ud83d\ude00 \uD83D\uDE00 \"quote\" \\ \/ \b\f\n\r\t end" ,
    "sentiment":"mixed"}`,
  String.raw`{"messag": "short", "messages": "long", "mess\u0061ge2": "no",
    "m\u0065ssage": "escaped key", "x": 0}`,
  String.raw`{"x": "}{\"message\": \"fake\"}", "y": ["]", "\\"],
    "message": "{not: nested} [ok] \\\"", "z": {"s": "\\\"}"}}`,
  JSON.stringify({ message: "日本語 👩‍👩‍👧 🇫🇷 emoji only 😀😀" }),
  JSON.stringify({ message: "" }),
  '\n\t {"message":"tight","sentiment":"neutral"}  ',
];

function feed(field: JsonFieldStream, chunks: string[]): string {
  let out = "";
  for (const chunk of chunks) {
    const piece = field.push(chunk);
    strictEqual(piece.isWellFormed(), true, `half a character in ${piece}`);
    out += piece;
  }
  return out;
}

Deno.test("JsonFieldStream decodes the field whole, cut at every position", () => {
  for (const text of TEXTS) {
    const expected = JSON.parse(text).message;
    for (let cut = 0; cut <= text.length; cut++) {
      const field = new JsonFieldStream("message");
      const out = feed(field, [text.slice(0, cut), text.slice(cut)]);
      strictEqual(out, expected, `${text} cut at ${cut}`);
      strictEqual(field.done, true);
    }
  }
});

Deno.test("JsonFieldStream decodes the field fed one code unit at a time", () => {
  for (const text of TEXTS) {
    const field = new JsonFieldStream("message");
    strictEqual(feed(field, text.split("")), JSON.parse(text).message);
    strictEqual(field.done, true);
  }
});

Deno.test("JsonFieldStream decodes the field with random cuts", () => {
  let seed = 7;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  for (const text of TEXTS) {
    for (let round = 0; round < 200; round++) {
      const chunks: string[] = [];
      for (let at = 0; at < text.length;) {
        const next = at + 1 + random(12);
        chunks.push(text.slice(at, next));
        at = next;
      }
      const field = new JsonFieldStream("message");
      strictEqual(feed(field, chunks), JSON.parse(text).message);
    }
  }
});

Deno.test("JsonFieldStream emits a prefix of the value for any prefix", () => {
  for (const text of TEXTS) {
    const expected: string = JSON.parse(text).message;
    for (let end = 0; end <= text.length; end++) {
      const field = new JsonFieldStream("message");
      const out = field.push(text.slice(0, end));
      strictEqual(expected.startsWith(out), true, `${text} up to ${end}`);
      if (field.done) strictEqual(out, expected);
    }
  }
});

Deno.test("JsonFieldStream extracts any top-level string field", () => {
  const text = TEXTS[2]!;
  const field = new JsonFieldStream("sentiment");
  strictEqual(feed(field, text.split("")), "mixed");
  strictEqual(field.done, true);
});

Deno.test("JsonFieldStream ignores a field found only in nested objects", () => {
  const field = new JsonFieldStream("message");
  const text = '{"a": {"message": "deep"}, "b": [{"message": "x"}]}';
  strictEqual(feed(field, text.split("")), "");
  strictEqual(field.done, false);
});

Deno.test("JsonFieldStream keeps the first of duplicate keys", () => {
  const field = new JsonFieldStream("message");
  strictEqual(field.push('{"message": "first", "message": "second"}'), "first");
});

Deno.test("JsonFieldStream stops quietly on invalid JSON", () => {
  const cases: [input: string, shown: string][] = [
    ["garbage", ""],
    ['["message", "x"]', ""],
    ['{"message": 42}', ""],
    ['{"message": {"message": "x"}}', ""],
    ['{"message" "x"}', ""],
    ['"message": "x"', ""],
    ['{"a": 1 "message": "x"}', ""],
    ['{"a": , "message": "x"}', ""],
    ['{"message": "abc\\x def"}', "abc"],
    ['{"message": "abc\\u00zz def"}', "abc"],
    ['{"message": "ab\ncd"}', "ab"],
    ["{}", ""],
    ["", ""],
  ];
  for (const [input, shown] of cases) {
    const field = new JsonFieldStream("message");
    doesNotThrow(() => {
      strictEqual(
        field.push(input) + field.push('"more": "text"}'),
        shown,
        input,
      );
    });
    strictEqual(field.done, false, input);
  }
});

Deno.test("JsonFieldStream never throws on random input", () => {
  const alphabet = [
    '"',
    "\\",
    "{",
    "}",
    "[",
    "]",
    ":",
    ",",
    " ",
    "u",
    "0",
    "d",
    "message",
    "\ud83d",
  ];
  let seed = 3;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  for (let round = 0; round < 2000; round++) {
    const field = new JsonFieldStream("message");
    for (let i = random(40); i > 0; i--) {
      field.push(alphabet[random(alphabet.length)]!);
    }
  }
});

Deno.test("JsonFieldStream ignores input after the value closed", () => {
  const field = new JsonFieldStream("message");
  strictEqual(field.push('{"message": "hi"'), "hi");
  strictEqual(field.done, true);
  strictEqual(field.push(', "message": "again"}'), "");
});

Deno.test("JsonFieldStream handles a long message in small chunks", () => {
  const message = 'word \\ "é" 😀 '.repeat(20_000);
  const text = JSON.stringify({ sentiment: "neutral", message });
  const field = new JsonFieldStream("message");
  let out = "";
  for (let at = 0; at < text.length; at += 7) {
    out += field.push(text.slice(at, at + 7));
  }
  strictEqual(out, message);
});
