/**
 * The `wait` preference of RFC 7240 (`Prefer: wait=10`): how long a client asks a request that
 * starts an operation to hold its answer for the operation's end. Preferences this API does not
 * know, and a malformed `wait`, are ignored, as the RFC asks.
 * @module
 */

/** The longest wait honoured, in seconds (as for `GET /v1/operations/{id}?wait=`). */
export const MAX_PREFERRED_WAIT_S = 60;

/** Seconds of the request's `wait` preference (0 when none), at most {@link MAX_PREFERRED_WAIT_S}. */
export function preferredWaitSeconds(header: string | string[] | undefined): number {
  const values = Array.isArray(header) ? header : header === undefined ? [] : [header];
  for (const value of values)
    for (const preference of value.split(",")) {
      const [name, ...rest] = preference.split(";")[0]!.split("=");
      if (name?.trim().toLowerCase() !== "wait" || rest.length !== 1) continue;
      const seconds = rest[0]!.trim().replace(/^"(.*)"$/, "$1");
      if (/^[0-9]{1,9}$/.test(seconds)) return Math.min(Number(seconds), MAX_PREFERRED_WAIT_S);
    }
  return 0;
}
