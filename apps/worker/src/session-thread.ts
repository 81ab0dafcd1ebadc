/**
 * Worker-thread entry point: builds the session described in `workerData` and serves it to the
 * main thread (see @custody/runtime's thread host).
 * @module
 */
import { serveSessionThread } from "@custody/runtime";
import { SCHEMES } from "./schemes.js";
import { beginSession, type SessionSpec } from "./session-spec.js";

serveSessionThread((init) => {
  const { spec, sessionId } = init as { spec: SessionSpec; sessionId: Uint8Array };
  return { self: spec.self, begin: () => beginSession(SCHEMES, spec, sessionId), maxRounds: 16 };
});
