/**
 * TypeBox schemas of the HTTP API: they validate requests, type the handlers and generate the
 * OpenAPI document.
 * @module
 */
import { type Static, Type } from "@sinclair/typebox";

const Hex = (description: string) => Type.String({ pattern: "^([0-9a-fA-F]{2})*$", description });

/** Body of POST /v1/keys. */
export const CreateKeyBody = Type.Object(
  {
    // One enum (not a union of literals), so a bad value gets one error that lists the allowed ones.
    scheme: Type.Unsafe<"ed25519" | "bip340" | "ecdsa-secp256k1">({
      type: "string",
      enum: ["ed25519", "bip340", "ecdsa-secp256k1"],
      description: "Signature scheme",
    }),
    threshold: Type.Integer({ minimum: 2, maximum: 255, description: "Signers needed (t)" }),
    parties: Type.Integer({ minimum: 2, maximum: 255, description: "Share holders (n)" }),
    label: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);
export type CreateKeyBody = Static<typeof CreateKeyBody>;

const MessageHex = Hex("Message to sign, hex. ecdsa-secp256k1: a 32-byte digest.");
const PathText = Type.String({ maxLength: 2048, description: "BIP32 non-hardened path, e.g. m/44/60/0/0/5" });

/** Body of POST /v1/keys/{id}/sign: one `message`, or a batch in `messages`. */
export const SignBody = Type.Object(
  {
    message: Type.Optional(MessageHex),
    path: Type.Optional(PathText),
    messages: Type.Optional(
      Type.Array(
        Type.Object({ message: MessageHex, path: Type.Optional(PathText) }, { additionalProperties: false }),
        {
          minItems: 1,
          maxItems: 256,
          description:
            "A signing batch instead of `message`: every message is signed (with its own path) in one operation and one protocol session, and the operation's `signatures` lists them in this order. At most 256 messages (ecdsa-secp256k1: 32) and 1024 path components in all; each message counts against the signing rate limit.",
        },
      ),
    ),
    taproot: Type.Optional(
      Type.Object(
        {
          merkleRoot: Type.Optional(
            Type.String({ pattern: "^[0-9a-fA-F]{64}$", description: "Script tree root, 32 bytes hex" }),
          ),
        },
        {
          additionalProperties: false,
          description:
            "bip340 keys only: sign for the BIP341 Taproot output key of the (derived) key, for every message of a batch; without merkleRoot for BIP86 (no script tree)",
        },
      ),
    ),
  },
  { additionalProperties: false, description: "Exactly one of `message` and `messages`" },
);
export type SignBody = Static<typeof SignBody>;

/** Path parameter of key routes. */
export const KeyParams = Type.Object({ id: Type.String({ pattern: "^[A-Za-z0-9_-]{1,128}$" }) });
export type KeyParams = Static<typeof KeyParams>;

/** Path parameter of operation routes. */
export const OperationParams = Type.Object({ id: Type.String({ pattern: "^[A-Za-z0-9_-]{1,128}$" }) });
export type OperationParams = Static<typeof OperationParams>;

/** Query of GET /v1/operations/{id}. */
export const WaitQuery = Type.Object(
  {
    wait: Type.Optional(
      Type.Number({ minimum: 0, maximum: 60, description: "Seconds to wait for a terminal state" }),
    ),
  },
  { additionalProperties: false },
);
export type WaitQuery = Static<typeof WaitQuery>;

const Reason = Type.Optional(Type.String({ maxLength: 200, description: "Why (kept with the revocation)" }));

/** Body of POST /v1/credentials/revoke: the credential itself, or its id. */
export const RevokeBody = Type.Union([
  Type.Object(
    {
      credential: Type.String({
        minLength: 1,
        maxLength: 16_384,
        description: "The credential, exactly as issued",
      }),
      reason: Reason,
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      id: Type.String({
        pattern: "^[0-9a-f]{64}$",
        description: "The credential id (`custody credentials revoke` prints it)",
      }),
      reason: Reason,
    },
    { additionalProperties: false },
  ),
]);
export type RevokeBody = Static<typeof RevokeBody>;

/** A revoked credential. */
export const Revocation = Type.Object({
  id: Type.String({ description: "hex SHA-256 of the credential under the custody/credential-id/v1 tag" }),
  tenant: Type.String(),
  revokedAt: Type.String(),
  reason: Type.String(),
});

/** A BIP341 Taproot output, described as `description`. */
const TaprootOutput = (description: string) =>
  Type.Object(
    {
      internalKey: Type.String({ description: "x-only internal key P, hex" }),
      outputKey: Type.String({ description: "x-only output key Q = P + H_TapTweak(P || merkleRoot)·G, hex" }),
      merkleRoot: Type.Optional(Type.String({ description: "Script tree root, when one was committed" })),
      address: Type.String({ description: "Mainnet bc1p… (bech32m) address of Q" }),
    },
    { description },
  );

/** A key as returned by the API. */
export const Key = Type.Object({
  id: Type.String(),
  scheme: Type.String(),
  threshold: Type.Integer(),
  parties: Type.Array(Type.Integer()),
  label: Type.Optional(Type.String()),
  status: Type.Union([Type.Literal("creating"), Type.Literal("active"), Type.Literal("failed")]),
  publicKey: Type.Optional(
    Type.String({ description: "hex: Ed25519 32 bytes, BIP340 x-only 32 bytes, ECDSA 33-byte compressed" }),
  ),
  chainCode: Type.Optional(Type.String()),
  xpub: Type.Optional(Type.String()),
  taproot: Type.Optional(TaprootOutput("bip340 keys: the BIP86 output key (no script tree) and its address")),
  epoch: Type.Integer(),
  operationId: Type.String(),
  refreshing: Type.Optional(Type.String()),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});

/** A signature as returned in a finished sign operation. */
export const Signature = Type.Object({
  signature: Type.String(),
  publicKey: Type.String(),
  keyId: Type.String(),
  epoch: Type.Integer(),
  recoveryId: Type.Optional(Type.Integer()),
  der: Type.Optional(Type.String()),
  path: Type.Optional(Type.String()),
  taproot: Type.Optional(
    TaprootOutput("Present when the signature is for a Taproot output key (publicKey is that key)"),
  ),
});

/** An operation as returned by the API. */
export const Operation = Type.Object({
  id: Type.String(),
  type: Type.Union([Type.Literal("dkg"), Type.Literal("sign"), Type.Literal("refresh")]),
  status: Type.Union([Type.Literal("pending"), Type.Literal("succeeded"), Type.Literal("failed")]),
  keyId: Type.String(),
  participants: Type.Array(Type.Integer()),
  reports: Type.Record(Type.String(), Type.String()),
  createdAt: Type.String(),
  updatedAt: Type.String(),
  targetEpoch: Type.Optional(Type.Integer()),
  signature: Type.Optional(Signature),
  signatures: Type.Optional(
    Type.Array(Signature, {
      description: "A signing batch: every signature, in the order of the request's messages",
    }),
  ),
  error: Type.Optional(
    Type.Object({ code: Type.String(), message: Type.String(), culprits: Type.Array(Type.Integer()) }),
  ),
  progress: Type.Object(
    {
      phase: Type.Union(
        ["queued", "session", "stored", "activating", "succeeded", "failed"].map((p) => Type.Literal(p)),
        {
          description:
            "queued → session (a party started a session attempt) → stored (DKG, refresh: k of n shares stored) → activating → the terminal status",
        },
      ),
      attempt: Type.Integer({
        description: "Highest delivery count at which a party started a session (0: none yet)",
      }),
      stored: Type.Optional(
        Type.Integer({ description: "DKG and refresh: parties that stored their share" }),
      ),
      of: Type.Optional(Type.Integer({ description: "...of this many" })),
      at: Type.String({ description: "When the progress last changed" }),
    },
    { description: "Where the operation is" },
  ),
});

/** RFC 9457 problem details. */
export const ProblemBody = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.Optional(Type.String()),
    instance: Type.Optional(Type.String()),
  },
  { additionalProperties: true },
);

/** Standard error responses added to every route. */
export const problemResponses = {
  400: ProblemBody,
  401: ProblemBody,
  403: ProblemBody,
  404: ProblemBody,
  409: ProblemBody,
  422: ProblemBody,
  429: ProblemBody,
  500: ProblemBody,
  503: ProblemBody,
};
