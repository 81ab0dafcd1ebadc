/**
 * Job-thread entry point: runs the jobs a session thread's rounds hand out (every scheme's
 * `jobs`, see @custody/runtime's job threads).
 * @module
 */
import { serveJobThread } from "@custody/runtime";
import { SCHEMES } from "./schemes.js";

serveJobThread([...SCHEMES.values()].flatMap((s) => s.jobs ?? []));
