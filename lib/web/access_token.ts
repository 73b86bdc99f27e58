/**
 * Who may use the dashboard: a random access token, compared in constant
 * time, and the pure decision of whether a request passes. Bound to a
 * loopback address the page is open to the local user; bound elsewhere every
 * request needs the token, and control actions always do, so a page on
 * another site cannot start or stop runs through the user's browser.
 *
 * @module
 */
import { createHash, timingSafeEqual } from "node:crypto";

/** Cookie that carries the token after the first visit with `?token=`. */
export const TOKEN_COOKIE = "dialogue_token";
/** Header the page sends the token in with every control action. */
export const TOKEN_HEADER = "x-dialogue-token";

/** A new random token: 32 bytes, base64url (43 characters). */
export function newAccessToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_")
    .replace(/=+$/, "");
}

/**
 * Whether `presented` is `expected`, in time independent of where they
 * differ: both are hashed first so that `timingSafeEqual` compares equal
 * lengths and the length of the token does not leak either.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { tokensMatch } from "./access_token.ts";
 * strictEqual(tokensMatch("abc", "abc"), true);
 * strictEqual(tokensMatch("abd", "abc"), false);
 * strictEqual(tokensMatch(undefined, "abc"), false);
 * ```
 */
export function tokensMatch(presented: string | undefined, expected: string): boolean {
  if (presented === undefined || expected === "") return false;
  const a = createHash("sha256").update(presented).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}

/**
 * Whether a listen address is loopback only (`127.0.0.0/8`, `::1`,
 * `localhost`): `0.0.0.0` and `::` listen everywhere and are not.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { isLoopbackHost } from "./access_token.ts";
 * strictEqual(isLoopbackHost("127.0.0.1"), true);
 * strictEqual(isLoopbackHost("0.0.0.0"), false);
 * ```
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^127(\.\d{1,3}){3}$/.test(h);
}

/** What {@linkcode accessDecision} looks at. */
export interface AccessRequest {
  /** The server listens on loopback only. */
  loopback: boolean;
  /** The request's `Host` header (without it, a browser did not send the request). */
  hostHeader: string | undefined;
  /** A control action (it changes a run). */
  control: boolean;
  /** The token from the header, the query or the cookie, if any. */
  presented: string | undefined;
  /** The server's token. */
  token: string;
}

/** Why a request was refused, or `ok`. */
export type AccessVerdict = "ok" | "bad_host" | "no_token";

/**
 * Whether a request passes. On loopback the `Host` must name a loopback
 * address too: a site whose name resolves to 127.0.0.1 (DNS rebinding)
 * sends its own name and is refused, so it cannot read the page and its
 * token. Off loopback every request needs the token; control actions need it
 * everywhere.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { accessDecision } from "./access_token.ts";
 * const base = { loopback: false, hostHeader: "10.0.0.2:8787", control: false, token: "t" };
 * strictEqual(accessDecision({ ...base, presented: undefined }), "no_token");
 * strictEqual(accessDecision({ ...base, presented: "t" }), "ok");
 * ```
 */
export function accessDecision(request: AccessRequest): AccessVerdict {
  if (request.loopback) {
    const host = (request.hostHeader ?? "").replace(/:\d+$/, "");
    if (!isLoopbackHost(host)) return "bad_host";
  }
  const needsToken = !request.loopback || request.control;
  if (needsToken && !tokensMatch(request.presented, request.token)) return "no_token";
  return "ok";
}

/** The value of cookie `name` in a `Cookie` header. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? "").split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return undefined;
}
