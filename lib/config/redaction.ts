/**
 * Keeping secrets out of logs, errors and Redis: the configuration and URLs
 * with passwords, credentials and auth headers removed.
 *
 * @module
 */
import type { Config } from "./config.ts";
import type { ConfigLayer } from "./config_layer.ts";

/**
 * The config with every secret removed, safe to log or store in Redis.
 * Drops passwords and headers, and credentials inside URLs.
 */
export function redactConfig(config: Config): ConfigLayer {
  const copy = structuredClone(config) as Config;
  delete copy.redis.password;
  delete copy.ollama.headers;
  delete copy.openai.api_key;
  delete copy.openai.headers;
  if (copy.openai.base_url) copy.openai.base_url = redactUrl(copy.openai.base_url);
  if (copy.redis.url) copy.redis.url = redactUrl(copy.redis.url);
  copy.ollama.host = redactUrl(copy.ollama.host);
  if (copy.manager.host) copy.manager.host = redactUrl(copy.manager.host);
  for (const agent of [copy.agents.agent1, copy.agents.agent2]) {
    if (agent.host) agent.host = redactUrl(agent.host);
  }
  return copy as unknown as ConfigLayer;
}

/**
 * Hides credentials in a URL or host string: `user:secret@` (up to the last
 * `@` of the authority, as ioredis reads it) and `password=` query values.
 */
export function redactUrl(url: string): string {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(url)?.[0] ?? "";
  const rest = url.slice(scheme.length);
  const authorityEnd = rest.search(/[/?#]/);
  const authority = authorityEnd < 0 ? rest : rest.slice(0, authorityEnd);
  const tail = authorityEnd < 0 ? "" : rest.slice(authorityEnd);
  const at = authority.lastIndexOf("@");
  let hidden = authority;
  if (at >= 0) {
    const userinfo = authority.slice(0, at);
    const colon = userinfo.indexOf(":");
    hidden = (colon >= 0 ? `${userinfo.slice(0, colon)}:***` : "***") + authority.slice(at);
  }
  return scheme + hidden + tail.replace(/([?&]password=)[^&#]*/gi, "$1***");
}
