/// <reference lib="dom" />
/**
 * The page's side of the server: the access token (from the page's meta
 * tag) sent with every control action, and the event streams.
 *
 * @module
 */

/** The access token the server put in the page. */
export function accessToken(): string {
  return document.querySelector<HTMLMetaElement>('meta[name="dialogue-token"]')?.content ?? "";
}

/** POSTs JSON to a control route; the JSON answer, or an Error with the server's message. */
export async function postJson(path: string, body: unknown = {}): Promise<Record<string, unknown>> {
  const res = await fetch(path, {
    method: "POST",
    headers: { "content-type": "application/json", "x-dialogue-token": accessToken() },
    body: JSON.stringify(body),
  });
  const json = await res.json().catch(() => ({})) as Record<string, unknown>;
  if (!res.ok) throw new Error(String(json.error ?? `${res.status} ${res.statusText}`));
  return json;
}

/**
 * Opens an event stream and calls `on[event]` with each message's parsed
 * JSON; EventSource reconnects by itself. Returns the close function.
 */
export function openStream(
  path: string,
  on: Record<string, (data: unknown) => void>,
  onState?: (open: boolean) => void,
): () => void {
  const source = new EventSource(path);
  for (const [event, handler] of Object.entries(on)) {
    source.addEventListener(event, (e) => handler(JSON.parse((e as MessageEvent).data)));
  }
  source.onopen = () => onState?.(true);
  source.onerror = () => onState?.(false);
  return () => source.close();
}
