/**
 * The body of a 404 for a URL outside every route, on every listener (the API, the gateway
 * without it, the private listener): the method and the path asked for, so a caller sees its
 * typo. Only the path: never the query (it may carry a key) and never the scheme and host of an
 * absolute-form target (`GET http://elsewhere.example/x HTTP/1.1`), which would have the answer
 * repeat a host the caller chose; and at most PATH_SHOWN characters of it.
 */
export function notFoundBody(method: string, url: string): { error: { code: "not_found"; message: string } } {
  return { error: { code: "not_found", message: `no such endpoint: ${method} ${shownPath(url)}` } };
}

const PATH_SHOWN = 256;

/** The path of a request target: origin-form as sent, absolute-form's path, "" for any other form. */
export function shownPath(url: string): string {
  let path = url.split("?")[0] ?? "";
  if (!path.startsWith("/")) {
    try {
      const u = new URL(url);
      path = u.protocol === "http:" || u.protocol === "https:" ? u.pathname : "";
    } catch {
      path = "";
    }
  }
  return path.length > PATH_SHOWN ? `${path.slice(0, PATH_SHOWN)}…` : path;
}
