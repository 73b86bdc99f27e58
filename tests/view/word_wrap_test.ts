import { strictEqual, throws } from "node:assert/strict";
import { WordWrapper } from "../../lib/view/word_wrap.ts";

const TEXT = "The keeper reads the compass by lamplight while the storm keeps rising " +
  "over the rocks and the ship keeps coming, its bell ringing through the fog.";

function wrapPieces(pieces: string[], width: number): string {
  const wrapper = new WordWrapper(width);
  return pieces.map((p) => wrapper.push(p)).join("") + wrapper.flush();
}

/** `text` cut into pieces of `size` characters, as tokens cut words anywhere. */
function pieces(text: string, size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

Deno.test("WordWrapper breaks lines between words, never inside one", () => {
  const out = wrapPieces(pieces(TEXT, 3), 80);
  const lines = out.split("\n");
  strictEqual(lines.length, 2);
  for (const line of lines) strictEqual(Array.from(line).length <= 80, true, line);
  strictEqual(lines.join(" "), TEXT, "only spaces became line breaks");
  strictEqual(out.includes("compas\n"), false);
});

Deno.test("WordWrapper gives the same lines however the text is cut into tokens", () => {
  const whole = wrapPieces([TEXT], 23);
  for (const size of [1, 2, 5, 7, 40]) strictEqual(wrapPieces(pieces(TEXT, size), 23), whole);
});

Deno.test("WordWrapper holds back only the word in progress", () => {
  const wrapper = new WordWrapper(40);
  strictEqual(wrapper.push("Hello wor"), "Hello");
  strictEqual(wrapper.push("ld, friend"), " world,");
  strictEqual(wrapper.column, 12);
  strictEqual(wrapper.flush(), " friend");
});

Deno.test("WordWrapper keeps the text's own newlines and indentation", () => {
  strictEqual(wrapPieces(["One two\n  three four"], 12), "One two\n  three four");
  strictEqual(wrapPieces(["One two\n  three four"], 11), "One two\n  three\nfour");
  strictEqual(wrapPieces(["a\n\nb"], 20), "a\n\nb");
});

Deno.test("WordWrapper cuts a word longer than a line at the width", () => {
  strictEqual(wrapPieces(["ab ", "x".repeat(25)], 10), "ab\nxxxxxxxxxx\nxxxxxxxxxx\nxxxxx");
});

Deno.test("WordWrapper counts wide characters as two columns and combining marks as none", () => {
  strictEqual(wrapPieces(["🙂🙂🙂 🙂🙂"], 6), "🙂🙂🙂\n🙂🙂");
  strictEqual(wrapPieces(["字字 字"], 7), "字字 字");
  strictEqual(wrapPieces(["cafe\u0301 au lait"], 12), "cafe\u0301 au lait");
  strictEqual(wrapPieces(["cafe\u0301 au lait"], 11), "cafe\u0301 au\nlait");
});

Deno.test("WordWrapper drops spaces at a wrap and at the end", () => {
  strictEqual(wrapPieces(["aaaa    bbbb   "], 6), "aaaa\nbbbb");
});

Deno.test("WordWrapper rejects a width below 1", () => {
  throws(() => new WordWrapper(0), RangeError);
  throws(() => new WordWrapper(2.5), RangeError);
});
