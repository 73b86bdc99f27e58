import { strictEqual, throws } from "node:assert/strict";
import { WordWrapper, wrapText } from "../../lib/view/word_wrap.ts";

const TEXT = "The keeper reads the compass by lamplight while the storm keeps rising " +
  "over the rocks and the ship keeps coming, its bell ringing through the fog.";

function wrapPieces(pieces: string[], width: number, erase = false): string {
  const wrapper = new WordWrapper(width, { erase });
  return pieces.map((p) => wrapper.push(p)).join("") + wrapper.flush();
}

/** `text` cut into pieces of `size` characters, as tokens cut words anywhere. */
function pieces(text: string, size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

/** What a terminal shows for `output`: backspace moves left, text overwrites. */
function screen(output: string): string {
  const lines: string[][] = [[]];
  let x = 0;
  for (const char of output) {
    const line = lines[lines.length - 1]!;
    if (char === "\n") {
      lines.push([]);
      x = 0;
    } else if (char === "\b") x = Math.max(0, x - 1);
    else {
      line[x] = char;
      x++;
    }
  }
  return lines.map((line) => Array.from(line, (c) => c ?? " ").join("").trimEnd()).join("\n");
}

Deno.test("wrapText() breaks lines between words, never inside one", () => {
  const out = wrapText(TEXT, 80);
  const lines = out.split("\n");
  strictEqual(lines.length, 2);
  for (const line of lines) strictEqual(line.length <= 80, true, line);
  strictEqual(lines.join(" "), TEXT, "only spaces became line breaks");
  strictEqual(out.includes("compas\n"), false);
});

Deno.test("WordWrapper writes each token at once", () => {
  const wrapper = new WordWrapper(40);
  strictEqual(wrapper.push("Hello wor"), "Hello wor");
  strictEqual(wrapper.push("ld, friend"), "ld, friend");
  strictEqual(wrapper.column, 19);
  strictEqual(wrapper.flush(), "");
});

Deno.test("WordWrapper on a terminal moves a word that outgrows its line down whole", () => {
  const wrapper = new WordWrapper(10, { erase: true });
  let out = wrapper.push("The com");
  strictEqual(out, "The com", "shown at once");
  out += wrapper.push("pass points");
  strictEqual(screen(out), "The\ncompass\npoints");
  strictEqual(wrapper.flush(), "");
});

Deno.test("WordWrapper on a terminal shows the same lines however the text is cut into tokens", () => {
  for (const width of [20, 23, 40, 80]) {
    const whole = wrapText(TEXT, width);
    for (const line of whole.split("\n")) strictEqual(line.length <= width, true, line);
    for (const size of [1, 2, 3, 5, 7, 40]) {
      strictEqual(screen(wrapPieces(pieces(TEXT, size), width, true)), whole, `${width}/${size}`);
    }
  }
});

Deno.test("WordWrapper on a pipe never cuts a word: one that outgrows its line finishes on it", () => {
  const out = wrapPieces(["The com", "pass points"], 12);
  strictEqual(out, "The compass\npoints");
  for (const size of [1, 2, 3, 5, 7]) {
    const lines = wrapPieces(pieces(TEXT, size), 23).split("\n");
    strictEqual(lines.join(" "), TEXT, `pieces of ${size}`);
  }
  // Whole-word tokens (a leading space each) are placed exactly.
  const words = TEXT.split(" ").map((word, i) => (i === 0 ? word : ` ${word}`));
  strictEqual(wrapPieces(words, 23), wrapText(TEXT, 23));
});

Deno.test("WordWrapper keeps the text's own newlines and indentation", () => {
  strictEqual(wrapPieces(["One two\n  three four"], 12), "One two\n  three four");
  strictEqual(wrapPieces(["One two\n  three four"], 11), "One two\n  three\nfour");
  strictEqual(wrapPieces(["a\n\nb"], 20), "a\n\nb");
});

Deno.test("WordWrapper cuts a word longer than a line at the width", () => {
  strictEqual(wrapPieces(["ab ", "x".repeat(25)], 10), "ab\nxxxxxxxxxx\nxxxxxxxxxx\nxxxxx");
  strictEqual(
    screen(wrapPieces(["ab ", ...pieces("x".repeat(25), 4)], 10, true)),
    "ab\nxxxxxxxxxx\nxxxxxxxxxx\nxxxxx",
  );
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

Deno.test("wrapText() indents the lines after the first", () => {
  strictEqual(
    wrapText("  Goal: reach the shore by dawn", 16, { indent: "    " }),
    "  Goal: reach\n    the shore by\n    dawn",
  );
});

Deno.test("WordWrapper rejects a width below 1 and an indent as wide as a line", () => {
  throws(() => new WordWrapper(0), RangeError);
  throws(() => new WordWrapper(2.5), RangeError);
  throws(() => new WordWrapper(4, { indent: "    " }), RangeError);
});
