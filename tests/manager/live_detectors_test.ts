import { assertEquals } from "../helpers/assert.ts";
import { parseConfig } from "../../lib/config/config.ts";
import { LiveDetectors } from "../../lib/manager/live_detectors.ts";

const varied = [
  "The lamp failed an hour ago and the ship is close.",
  "Then we climb the tower now, before the storm gets worse.",
  "I brought the spare lens from the cellar, it might still work.",
];
const looping = [
  ...varied,
  "Thank you so much, goodbye my friend!",
  "Thank you, goodbye to you too, my friend!",
  "Thank you so much, goodbye my friend!",
  "Thank you, goodbye to you too, my friend!",
  "Thank you so much, goodbye my friend!",
  "Thank you, goodbye to you too, my friend!",
];

function detectors(overrides: Record<string, string>): LiveDetectors {
  return new LiveDetectors(parseConfig({ conversation: overrides }).conversation);
}

/** Feeds every turn; returns the first turn at which the run must stop, and every notice. */
function feed(live: LiveDetectors, texts: string[]): { stopAt?: number; notices: string[] } {
  const notices: string[] = [];
  for (const [i, text] of texts.entries()) {
    const check = live.check(text, i + 1);
    check.commit();
    notices.push(...check.notices.map((n) => n.text));
    if (check.stop) return { stopAt: i + 1, notices };
  }
  return { notices };
}

Deno.test("LiveDetectors with loop_action stop ends a looping run and lets a varied one go on", () => {
  assertEquals(feed(detectors({ loop_action: "stop", stale_action: "off" }), varied), {
    notices: [],
  });
  const looped = feed(detectors({ loop_action: "stop", stale_action: "off" }), looping);
  assertEquals(looped.stopAt, 9);
  assertEquals(looped.notices, []);
});

Deno.test("LiveDetectors with loop_action warn notifies once and never stops the run", () => {
  const live = detectors({ loop_action: "warn", stale_action: "off" });
  const fed = feed(live, [...looping, "Thank you so much, goodbye my friend!"]);
  assertEquals(fed.stopAt, undefined);
  assertEquals(fed.notices.length, 1);
  assertEquals(fed.notices[0]!.startsWith("The agents are repeating each other"), true);
});

Deno.test("LiveDetectors with both checks off ignores a loop", () => {
  assertEquals(feed(detectors({ loop_action: "off", stale_action: "off" }), looping), {
    notices: [],
  });
});

Deno.test("LiveDetectors.check without commit leaves no trace: a refused turn is not part of the run", () => {
  const live = detectors({ loop_action: "stop", stale_action: "off" });
  feed(live, looping.slice(0, 8));
  // Turn 9 would close the loop; checked but not committed, it is forgotten.
  assertEquals(live.check(looping[8]!, 9).stop, true);
  assertEquals(
    live.check("A completely new idea about the harbour and its cranes.", 9).stop,
    false,
  );
  assertEquals(live.check(looping[8]!, 9).stop, true);
});

Deno.test("LiveDetectors.replay of a taken-over run does not notify again what was found before", () => {
  const live = detectors({ loop_action: "warn", stale_action: "off" });
  live.replay(looping);
  const check = live.check("Thank you so much, goodbye my friend!", looping.length + 1);
  assertEquals(check.notices, []);
});
