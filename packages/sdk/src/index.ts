/**
 * @custody/sdk: a typed client of the Custody HTTP API. Long operations are returned as
 * operations; {@link CustodyClient.wait} follows one to its end. Signer adapters for chain
 * libraries are the subpath exports `@custody/sdk/viem`, `@custody/sdk/bitcoin` and
 * `@custody/sdk/solana`.
 * @module
 */
export {
  type ClientIdentity,
  type ClientOptions,
  type CreateKeyInput,
  CustodyClient,
  newIdempotencyKey,
  type RequestOptions,
  type WaitOptions,
} from "./client.js";
export { OperationError, SignerError, type SignerErrorCode } from "./errors.js";
export {
  ApiProblem,
  isApiProblem,
  PROBLEM_CODES,
  type ProblemCode,
  type ProblemType,
  problemTypeOf,
} from "./problems.js";
export { DEFAULT_RETRY, parseRetryAfter, type RetryPolicy } from "./retry.js";
export type {
  CredentialView,
  Key,
  Operation,
  OperationPage,
  OperationQuery,
  Revocation,
  Scheme,
  Signature,
  SignBatchInput,
  SignInput,
  TaprootOutput,
} from "./types.js";
