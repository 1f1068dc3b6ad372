/**
 * The ready-to-paste curl call of a deployment's flow (the web UI's deployment page and its
 * one-step key dialog). A flow's id is its publisher's text, any string a Langflow export
 * holds, and the deployment page is read by other users, of other projects when the bundle is
 * global: pasted into a shell, a quote in it would end the URL and run what follows. The id is
 * therefore percent-encoded as a path segment (the gateway decodes it) and every argument is
 * single-quoted for a POSIX shell, so the command is always the one curl call it shows.
 */
export function curlRunText(httpUrl: string, flowId: string, key?: string): string {
  return [
    `curl -X POST ${shellQuote(`${httpUrl}/flows/${pathSegment(flowId)}/run`)} \\`,
    `  -H ${key === undefined ? `"x-access-key: $FLOWPLANE_ACCESS_KEY"` : shellQuote(`x-access-key: ${key}`)} \\`,
    `  -H 'content-type: application/json' \\`,
    `  -d '{"input_value": "Hello"}'`,
  ].join("\n");
}

/** `s` as one URL path segment: encodeURIComponent leaves ! ' ( ) * as they are; these are encoded too. */
function pathSegment(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** `s` as one word for a POSIX shell: single-quoted, each ' written as '\'' (nothing is special inside single quotes). */
function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
