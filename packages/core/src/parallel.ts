/**
 * Independent work a round may hand to other threads. A protocol names a pure function as a
 * {@link Job} and runs a list of inputs through a {@link ParallelMap}; the runtime decides where
 * the calls run (this thread, or helper threads when the host has cores to spare). The map is
 * synchronous and behaves exactly like `inputs.map(job.run)`: same outputs in the same order, and
 * the error of the first failing input, so a round's result and its blame never depend on it.
 * @module
 */

/**
 * A pure function a round can run elsewhere: no I/O, no shared state, input and output of plain
 * data (what structured clone carries: bytes, bigints, arrays, plain objects).
 */
export interface Job<I, O> {
  /** Unique name (`<scheme>/<what>`) by which a helper thread finds the function. */
  readonly name: string;
  readonly run: (input: I) => O;
}

/** Runs a job on every input and returns the outputs in input order (see the module comment). */
export interface ParallelMap {
  map<I, O>(job: Job<I, O>, inputs: readonly I[]): O[];
}

/** Every call in the calling thread, one after the other: the default. */
export const inline: ParallelMap = Object.freeze({
  map: <I, O>(job: Job<I, O>, inputs: readonly I[]): O[] => inputs.map((x) => job.run(x)),
});
