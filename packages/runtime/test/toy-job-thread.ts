/** Helper-thread script of `job-threads.test`. */
import { serveJobThread } from "../src/job-threads.js";
import { TOY_JOBS } from "./toy-jobs.js";

serveJobThread(TOY_JOBS as never);
