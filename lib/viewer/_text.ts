/**
 * The viewer's one-line answers: refusals and errors as plain text that no
 * cache keeps.
 *
 * @module
 */

/** A plain-text response of one line, not to be cached. */
export function textResponse(
  status: number,
  line: string,
  headers: Record<string, string> = {},
): Response {
  return new Response(line + "\n", {
    status,
    headers: {
      "content-type": "text/plain; charset=utf-8",
      "cache-control": "no-store",
      ...headers,
    },
  });
}
