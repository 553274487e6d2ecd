/**
 * A test server named in the page's query string (`?segmindEndpoint=…`, `?hubUrl=…`): honoured only for plain-http
 * 127.0.0.1 / localhost, so a crafted link can never send a user's key or token to someone else's server.
 */
export function localTestUrl(search: string, param: string): URL | undefined {
  const raw = new URLSearchParams(search).get(param);
  if (!raw) return undefined;
  try {
    const url = new URL(raw);
    if (url.protocol === 'http:' && (url.hostname === '127.0.0.1' || url.hostname === 'localhost')) return url;
  } catch {
    // not a URL
  }
  return undefined;
}
