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

function detectors(overrides: Record<string, string>) {
  const notices: string[] = [];
  const config = parseConfig({ conversation: overrides });
  const live = new LiveDetectors(config.conversation, (notice) => {
    notices.push(notice.text);
    return Promise.resolve();
  });
  return { live, notices };
}

Deno.test("LiveDetectors with loop_action stop ends a looping run and lets a varied one go on", async () => {
  const { live, notices } = detectors({ loop_action: "stop", stale_action: "off" });
  assertEquals(await live.shouldStop(varied), false);
  assertEquals(await live.shouldStop(looping), true);
  assertEquals(notices, []);
});

Deno.test("LiveDetectors with loop_action warn notifies once and never stops the run", async () => {
  const { live, notices } = detectors({ loop_action: "warn", stale_action: "off" });
  assertEquals(await live.shouldStop(looping), false);
  assertEquals(await live.shouldStop([...looping, "Thank you so much, goodbye my friend!"]), false);
  assertEquals(notices.length, 1);
  assertEquals(notices[0]!.startsWith("The agents are repeating each other"), true);
});

Deno.test("LiveDetectors with both checks off ignores a loop", async () => {
  const { live, notices } = detectors({ loop_action: "off", stale_action: "off" });
  assertEquals(await live.shouldStop(looping), false);
  assertEquals(notices, []);
});
