import { strictEqual } from "node:assert/strict";
import { sanitizeText, StreamSanitizer } from "../../lib/base/sanitize.ts";

/** Anything a terminal could act on: C0 but \n and \t, DEL, C1, bidi. */
const UNSAFE =
  // deno-lint-ignore no-control-regex -- control characters are what is tested
  /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

const HOSTILE: [name: string, input: string, expected: string][] = [
  ["clear screen and home", "\x1b[2J\x1b[Hhello", "hello"],
  ["cursor moves", "a\x1b[1A\x1b[10Cb\x1b[5;10Hc", "abc"],
  ["private modes", "\x1b[?1049h\x1b[?25lhidden?", "hidden?"],
  ["SGR colours", "\x1b[31;1mred\x1b[0m", "red"],
  ["OSC 52 clipboard, BEL", "\x1b]52;c;cm0gLXJmIH4=\x07text", "text"],
  ["OSC 52 clipboard, ST", "\x1b]52;c;cm0gLXJmIH4=\x1b\\text", "text"],
  [
    "OSC 8 hyperlink",
    "\x1b]8;;https://evil.example/\x1b\\click me\x1b]8;;\x1b\\",
    "click me",
  ],
  ["window title", "\x1b]0;pwned\x07ok\x1b]2;again\x1b\\!", "ok!"],
  ["bell", "ding\x07dong", "dingdong"],
  ["backspace overwrite", "safe\b\b\b\bevil", "safeevil"],
  ["carriage return overwrite", "rm -rf ~\rls", "rm -rf ~ls"],
  ["8-bit CSI with parameters", "\u009b2J\u009b1;1Hhi", "hi"],
  ["8-bit OSC with 8-bit ST", "\u009d0;title\u009cX", "X"],
  ["other C1 controls", "a\u0085b\u008dc\u0084", "abc"],
  ["DCS sixel", "\x1bPq#0;2;0;0;0#0~~\x1b\\x", "x"],
  ["APC kitty graphics", "\x1b_Gf=100;AAAA\x1b\\y", "y"],
  ["SOS and PM", "\x1bXsos\x1b\\\x1b^pm\x1b\\z", "z"],
  ["reset, save, align, charset", "\x1bc\x1b7\x1b#8\x1b(0z\x1b8", "z"],
  ["bidi override and isolate", "abc\u202edcba\u2066x\u2069\u202a", "abcdcbax"],
  ["DEL and NUL", "a\x7fb\x00c", "abc"],
  ["ESC before non-ASCII", "\x1bé", "é"],
  ["double ESC", "\x1b\x1b[2Jq", "q"],
  ["CAN cancels a string", "\x1b]0;t\x18r", "r"],
  ["lone surrogates", "a\ud800b\udc00", "a\ufffdb\ufffd"],
];

Deno.test("sanitizeText() makes hostile samples inert", () => {
  for (const [name, input, expected] of HOSTILE) {
    const out = sanitizeText(input);
    strictEqual(out, expected, name);
    strictEqual(UNSAFE.test(out), false, name);
  }
});

Deno.test("sanitizeText() leaves ordinary text unchanged", () => {
  const text = "Héllo wörld — naïve café, Ærøskøbing\n" +
    "emoji 😀 👩‍👩‍👧 🇫🇷 ❤️ 日本語 עברית العربية\n\tindented [1] (a) {b} ~`^\\";
  strictEqual(sanitizeText(text), text);
});

Deno.test("sanitizeText() turns newlines and tabs into spaces when asked", () => {
  strictEqual(sanitizeText("a\nb\tc\r\n", { keepNewlines: false }), "a b c ");
  strictEqual(sanitizeText("a\r\nb\tc"), "a\nb\tc");
});

Deno.test("sanitizeText() leaves no escape in a cut-short sequence", () => {
  for (
    const input of ["\x1b[2\nJ", "\x1b[", "\x1b]0;never ends", "\u009b", "\x1b"]
  ) {
    strictEqual(UNSAFE.test(sanitizeText(input)), false, JSON.stringify(input));
  }
});

Deno.test("StreamSanitizer removes a sequence split at any position", () => {
  for (const [name, input] of HOSTILE) {
    const whole = sanitizeText(input);
    for (let cut = 0; cut <= input.length; cut++) {
      const s = new StreamSanitizer();
      const out = s.push(input.slice(0, cut)) + s.push(input.slice(cut)) +
        s.flush();
      strictEqual(out, whole, `${name} cut at ${cut}`);
    }
    const s = new StreamSanitizer();
    let out = "";
    for (const ch of input.split("")) out += s.push(ch);
    strictEqual(out + s.flush(), whole, `${name} one code unit at a time`);
  }
});

Deno.test("StreamSanitizer keeps a surrogate pair split across chunks", () => {
  const s = new StreamSanitizer();
  strictEqual(s.push("a\ud83d"), "a");
  strictEqual(s.push("\ude00b"), "😀b");
  strictEqual(s.push("\ud83d"), "");
  strictEqual(s.flush(), "\ufffd");
});

Deno.test("StreamSanitizer.flush() drops an unfinished sequence and resets", () => {
  const s = new StreamSanitizer();
  strictEqual(s.push("ok\x1b["), "ok");
  strictEqual(s.flush(), "");
  strictEqual(s.push("2Jx"), "2Jx");
});

Deno.test("StreamSanitizer gives up on a sequence longer than 64 code units", () => {
  const s = new StreamSanitizer();
  const out = s.push("\x1b]52;c;" + "A".repeat(200)) + s.push("\x07 next");
  strictEqual(/^A+ next$/.test(out), true, out);
  strictEqual(out.length < 200, true);
  strictEqual(s.push("\x1b[2Jclean"), "clean");
});

Deno.test("StreamSanitizer output is never unsafe for random input", () => {
  const alphabet = [
    "\x1b",
    "[",
    "]",
    "P",
    "_",
    "\\",
    "\x07",
    "\u009b",
    "\u009c",
    "\u009d",
    "0",
    "2",
    ";",
    "J",
    "m",
    "?",
    " ",
    "a",
    "é",
    "\n",
    "\r",
    "\b",
    "\t",
    "\u202e",
    "\ud83d",
    "\ude00",
    "😀",
  ];
  let seed = 42;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  for (let round = 0; round < 2000; round++) {
    let input = "";
    for (let i = random(80); i > 0; i--) {
      input += alphabet[random(alphabet.length)];
    }
    const whole = sanitizeText(input);
    strictEqual(UNSAFE.test(whole), false, JSON.stringify(input));
    const s = new StreamSanitizer();
    let out = "";
    for (let at = 0; at < input.length;) {
      const next = at + 1 + random(6);
      out += s.push(input.slice(at, next));
      at = next;
    }
    strictEqual(out + s.flush(), whole, JSON.stringify(input));
  }
});
