import assert from "node:assert/strict";
import {
  alignRows,
  escapeMarkdown,
  formatInt,
  formatMs,
  formatPercent,
  formatSigned,
  markdownTable,
  textTable,
} from "../../lib/view/text_table.ts";

Deno.test("textTable() and alignRows() align columns by code points", () => {
  assert.deepEqual(alignRows([["▁▂", "1"], ["abc", "22"]], [false, true]), [
    ["▁▂ ", " 1"],
    ["abc", "22"],
  ]);
  assert.deepEqual(textTable([["a", "x"], ["bb", ""]], [false, false]), ["a   x", "bb"]);
});

Deno.test("markdownTable() writes a header rule with alignment colons", () => {
  assert.deepEqual(markdownTable([["Name", "N"], ["a", "10"]], [false, true]), [
    "| Name |   N |",
    "| :--- | --: |",
    "| a    |  10 |",
  ]);
  assert.equal(escapeMarkdown("*x*|`y`"), "\\*x\\*\\|\\`y\\`");
});

Deno.test("the number formats give the report's forms", () => {
  assert.equal(formatInt(1234567), "1,234,567");
  assert.equal(formatPercent(0.125), "13%");
  assert.equal(formatMs(850), "850 ms");
  assert.equal(formatMs(12_500), "12.5 s");
  assert.equal(formatMs(7_800_000), "2h 10m");
  assert.equal(formatSigned(0.4219), "+0.42");
  assert.equal(formatSigned(-0.1), "-0.10");
  assert.equal(formatSigned(-0.001), "0.00");
});
