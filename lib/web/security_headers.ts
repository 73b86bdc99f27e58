/**
 * The headers every dashboard response carries. The Content-Security-Policy
 * allows only our own script and style files and our own event streams and
 * API: no inline script, no other origin, no plugin, no framing. Model text
 * is put in the page as text, so this is the second wall, not the first.
 *
 * @module
 */

/**
 * The policy. `style-src 'self'` holds our stylesheet; uPlot sizes its
 * canvas through the CSSOM (`element.style`), which the policy does not
 * govern, so no `'unsafe-inline'` is needed. `img-src data:` is for the
 * favicon only.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

/** Headers for every response. */
export function securityHeaders(): Record<string, string> {
  return {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
  };
}
