import { strictEqual } from "node:assert/strict";
import { formatClock, formatDuration } from "../../lib/view/format_duration.ts";

Deno.test("formatDuration() picks a unit people read at a glance", () => {
  strictEqual(formatDuration(0), "0 ms");
  strictEqual(formatDuration(850.4), "850 ms");
  strictEqual(formatDuration(999.6), "1.0 s");
  strictEqual(formatDuration(12_345), "12.3 s");
  strictEqual(formatDuration(59_960), "1:00");
  strictEqual(formatDuration(252_000), "4:12");
  strictEqual(formatDuration(3_723_000), "1:02:03");
  strictEqual(formatDuration(-5), "0 ms");
  strictEqual(formatDuration(NaN), "0 ms");
});

Deno.test("formatClock() shows m:ss below an hour and h:mm:ss above", () => {
  strictEqual(formatClock(0), "0:00");
  strictEqual(formatClock(65), "1:05");
  strictEqual(formatClock(3599), "59:59");
  strictEqual(formatClock(3600), "1:00:00");
});
