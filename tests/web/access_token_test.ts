import { assert, assertEquals } from "../helpers/assert.ts";
import {
  accessDecision,
  cookieValue,
  isLoopbackHost,
  newAccessToken,
  tokensMatch,
} from "../../lib/web/access_token.ts";

Deno.test("tokensMatch() accepts only the token itself", () => {
  const token = newAccessToken();
  assertEquals(token.length, 43);
  assert(/^[A-Za-z0-9_-]+$/.test(token), token);
  assert(newAccessToken() !== token, "random");
  assert(tokensMatch(token, token));
  for (const other of [undefined, "", token.slice(1), `${token}x`, token.toUpperCase()]) {
    if (other === token) continue;
    assert(!tokensMatch(other, token), `refused: ${other}`);
  }
  assert(!tokensMatch("", ""), "an empty token never matches");
});

Deno.test("isLoopbackHost() knows loopback from listen-everywhere addresses", () => {
  for (const h of ["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]", "LOCALHOST"]) {
    assert(isLoopbackHost(h), h);
  }
  for (const h of ["0.0.0.0", "::", "10.0.0.5", "example.com", "127.0.0.1.evil.com"]) {
    assert(!isLoopbackHost(h), h);
  }
});

Deno.test("accessDecision(): loopback reads freely but checks the Host; off loopback and for control the token is needed", () => {
  const base = { token: "t", presented: undefined, control: false };
  assertEquals(accessDecision({ ...base, loopback: true, hostHeader: "127.0.0.1:8787" }), "ok");
  assertEquals(accessDecision({ ...base, loopback: true, hostHeader: "localhost:8787" }), "ok");
  assertEquals(accessDecision({ ...base, loopback: true, hostHeader: "[::1]:8787" }), "ok");
  assertEquals(
    accessDecision({ ...base, loopback: true, hostHeader: "evil.com:8787" }),
    "bad_host",
  );
  assertEquals(accessDecision({ ...base, loopback: true, hostHeader: undefined }), "bad_host");
  assertEquals(
    accessDecision({ ...base, loopback: true, hostHeader: "127.0.0.1", control: true }),
    "no_token",
  );
  assertEquals(
    accessDecision({
      ...base,
      loopback: true,
      hostHeader: "127.0.0.1",
      control: true,
      presented: "t",
    }),
    "ok",
  );
  assertEquals(accessDecision({ ...base, loopback: false, hostHeader: "h" }), "no_token");
  assertEquals(accessDecision({ ...base, loopback: false, hostHeader: "h", presented: "t" }), "ok");
  assertEquals(
    accessDecision({ ...base, loopback: false, hostHeader: "h", presented: "u" }),
    "no_token",
  );
});

Deno.test("cookieValue() finds one cookie among others", () => {
  assertEquals(cookieValue("a=1; dialogue_token=x%3Dy; b=2", "dialogue_token"), "x=y");
  assertEquals(cookieValue(undefined, "dialogue_token"), undefined);
  assertEquals(cookieValue("dialogue_tokens=1", "dialogue_token"), undefined);
});
