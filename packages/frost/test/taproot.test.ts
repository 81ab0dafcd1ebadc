/**
 * BIP341 Taproot for bip340: the TapTweak against the published BIP341 wallet test vectors
 * (`scriptPubKey` section), threshold signing for the output key of root and derived keys of both
 * y parities (checked with tiny-secp256k1 under an output key computed independently with
 * node:crypto SHA-256 and libsecp256k1's x-only tweak), the option bound into the signing package,
 * and malformed options refused.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { type PartyId, ProtocolError, runLocal } from "@custody/core";
import { isXOnlyPoint, verifySchnorr, xOnlyPointAddTweak } from "tiny-secp256k1";
import {
  bip340Scheme,
  deriveBip340Child,
  ed25519Scheme,
  type FrostShare,
  type TaprootOption,
  taprootOutputKey,
} from "../src/index.js";
import { assertAbort, assertSigned, keygenOk, range, sid } from "./helpers.js";

const hex = (s: string) => new Uint8Array(Buffer.from(s, "hex"));
const toHex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const msg = () => new Uint8Array(randomBytes(32));
const badInput = (f: () => unknown) =>
  assert.throws(f, (e: unknown) => e instanceof ProtocolError && e.kind === "bad-input");

/**
 * BIP341 wallet test vectors, `scriptPubKey` section (bitcoin/bips, bip-0341/wallet-test-vectors.json):
 * internalPubkey, merkleRoot, tweak, tweakedPubkey and, for script trees, the parity bit of the
 * first control block.
 */
const VECTORS = [
  {
    internal: "d6889cb081036e0faefa3a35157ad71086b123b2b144b649798b494c300a961d",
    merkleRoot: undefined,
    tweak: "b86e7be8f39bab32a6f2c0443abbc210f0edac0e2c53d501b36b64437d9c6c70",
    output: "53a1f6e454df1aa2776a2814a721372d6258050de330b3c6d10ee8f4e0dda343",
    parity: undefined,
  },
  {
    internal: "187791b6f712a8ea41c8ecdd0ee77fab3e85263b37e1ec18a3651926b3a6cf27",
    merkleRoot: "5b75adecf53548f3ec6ad7d78383bf84cc57b55a3127c72b9a2481752dd88b21",
    tweak: "cbd8679ba636c1110ea247542cfbd964131a6be84f873f7f3b62a777528ed001",
    output: "147c9c57132f6e7ecddba9800bb0c4449251c92a1e60371ee77557b6620f3ea3",
    parity: 1,
  },
  {
    internal: "93478e9488f956df2396be2ce6c5cced75f900dfa18e7dabd2428aae78451820",
    merkleRoot: "c525714a7f49c28aedbbba78c005931a81c234b2f6c99a73e4d06082adc8bf2b",
    tweak: "6af9e28dbf9d6aaf027696e2598a5b3d056f5fd2355a7fd5a37a0e5008132d30",
    output: "e4d810fd50586274face62b8a807eb9719cef49c04177cc6b76a9a4251d5450e",
    parity: 0,
  },
  {
    internal: "ee4fe085983462a184015d1f782d6a5f8b9c2b60130aff050ce221ecf3786592",
    merkleRoot: "6c2dc106ab816b73f9d07e3cd1ef2c8c1256f519748e0813e4edd2405d277bef",
    tweak: "9e0517edc8259bb3359255400b23ca9507f2a91cd1e4250ba068b4eafceba4a9",
    output: "712447206d7a5238acc7ff53fbe94a3b64539ad291c7cdbc490b7577e4b17df5",
    parity: 0,
  },
  {
    internal: "f9f400803e683727b14f463836e1e78e1c64417638aa066919291a225f0e8dd8",
    merkleRoot: "ab179431c28d3b68fb798957faf5497d69c883c6fb1e1cd9f81483d87bac90cc",
    tweak: "639f0281b7ac49e742cd25b7f188657626da1ad169209078e2761cefd91fd65e",
    output: "77e30a5522dd9f894c3f8b8bd4c4b2cf82ca7da8a3ea6a239655c39c050ab220",
    parity: 1,
  },
  {
    internal: "e0dfe2300b0dd746a3f8674dfd4525623639042569d829c7f0eed9602d263e6f",
    merkleRoot: "ccbd66c6f7e8fdab47b3a486f59d28262be857f30d4773f2d5ea47f7761ce0e2",
    tweak: "b57bfa183d28eeb6ad688ddaabb265b4a41fbf68e5fed2c72c74de70d5a786f4",
    output: "91b64d5324723a985170e4dc5a0f84c041804f2cd12660fa5dec09fc21783605",
    parity: 0,
  },
  {
    internal: "55adf4e8967fbd2e29f20ac896e60c3b0f1d5b0efa9d34941b5958c7b0a0312d",
    merkleRoot: "2f6b2c5397b6d68ca18e09a3f05161668ffe93a988582d55c6f07bd5b3329def",
    tweak: "6579138e7976dc13b6a92f7bfd5a2fc7684f5ea42419d43368301470f3b74ed9",
    output: "75169f4001aa68f15bbed28b218df1d0a62cbbcf1188c6665110c293c907b831",
    parity: 1,
  },
] as const;

/** Independent BIP341 output key: tagged hash by node:crypto, x-only tweak by libsecp256k1. */
function independentOutput(internal: Uint8Array, merkleRoot?: Uint8Array) {
  const tag = createHash("sha256").update("TapTweak").digest();
  const t = createHash("sha256")
    .update(tag)
    .update(tag)
    .update(internal)
    .update(merkleRoot ?? new Uint8Array())
    .digest();
  const out = xOnlyPointAddTweak(internal, t);
  assert.ok(out, "invalid tweak");
  return { outputKey: out.xOnlyPubkey, parity: out.parity };
}

/** Runs signing by `signers`, each with the Taproot option (and path) `taprootOf(p)` gives. */
function signTaproot(
  shares: ReadonlyMap<PartyId, FrostShare>,
  signers: readonly PartyId[],
  message: Uint8Array,
  taprootOf: (p: PartyId) => TaprootOption | undefined,
  path: readonly number[] = [],
) {
  const sessionId = sid();
  return runLocal(
    new Map(
      signers.map(
        (self) =>
          [
            self,
            () =>
              bip340Scheme.sign({
                sessionId,
                self,
                share: shares.get(self)!,
                signers,
                message,
                path,
                taproot: taprootOf(self),
              }),
          ] as const,
      ),
    ),
  );
}

/** Signs for the output key of the key along `path` and checks it against the independent one. */
function signAndCheck(
  shares: ReadonlyMap<PartyId, FrostShare>,
  signers: readonly PartyId[],
  option: TaprootOption,
  path: readonly number[] = [],
) {
  const share = shares.get(signers[0]!)!;
  const internal = deriveBip340Child(share.groupKey, share.chainCode!, path).publicKey33;
  const expected = independentOutput(internal.slice(1), option.merkleRoot);
  const m = msg();
  const run = signTaproot(shares, signers, m, () => option, path);
  const out = assertSigned(bip340Scheme, run, signers.length, m);
  assert.equal(toHex(out.publicKey), toHex(expected.outputKey));
  assert.ok(verifySchnorr(m, expected.outputKey, out.signature));
  assert.ok(!verifySchnorr(m, internal.slice(1), out.signature), "it does not verify under the internal key");
  return { internalParity: internal[0]!, outputParity: expected.parity };
}

describe("taprootOutputKey: BIP341 wallet test vectors", () => {
  for (const [i, v] of VECTORS.entries()) {
    it(`scriptPubKey vector ${i}${v.merkleRoot === undefined ? " (no script tree)" : ""}`, () => {
      const k = taprootOutputKey(hex(v.internal), v.merkleRoot === undefined ? undefined : hex(v.merkleRoot));
      assert.equal(k.tweak.toString(16).padStart(64, "0"), v.tweak);
      assert.equal(toHex(k.outputKey), v.output);
      assert.equal(toHex(k.internalKey), v.internal);
      if (v.parity !== undefined) assert.equal(k.parity, v.parity);
    });
  }

  it("agrees with the independent output key on random keys and roots", () => {
    for (let i = 0; i < 16; i++) {
      const internal = deriveBip340Child(
        hex("03cbcaa9c98c877a26977d00825c956a238e8dddfbd322cce4f74b0b5bd6ace4a7"),
        new Uint8Array(32).fill(i),
        [i],
      ).xOnly;
      const root = i % 2 === 0 ? undefined : new Uint8Array(randomBytes(32));
      const k = taprootOutputKey(internal, root);
      const e = independentOutput(internal, root);
      assert.equal(toHex(k.outputKey), toHex(e.outputKey));
      assert.equal(k.parity, e.parity);
    }
  });

  it("refuses internal keys that are not x coordinates of curve points, and malformed roots", () => {
    const v = hex(VECTORS[0].internal);
    badInput(() => taprootOutputKey(v.slice(1)));
    badInput(() => taprootOutputKey(new Uint8Array(32).fill(0xff))); // ≥ p
    const offCurve = new Uint8Array(32);
    while (isXOnlyPoint(offCurve) || offCurve[31] === 0) offCurve[31]! += 1;
    badInput(() => taprootOutputKey(offCurve));
    badInput(() => taprootOutputKey(v, new Uint8Array(31)));
    badInput(() => taprootOutputKey(v, new Uint8Array(33)));
  });
});

describe("bip340 threshold signing for Taproot output keys", () => {
  it("BIP86 and script-tree output keys of root keys of both y parities, output keys of both parities", () => {
    const internalParities = new Set<number>();
    const outputParities = new Set<number>();
    for (let k = 0; k < 40 && (internalParities.size < 2 || outputParities.size < 2); k++) {
      const shares = keygenOk(bip340Scheme, [1, 2], 2);
      const bip86 = signAndCheck(shares, [1, 2], {});
      internalParities.add(bip86.internalParity);
      outputParities.add(bip86.outputParity);
      outputParities.add(signAndCheck(shares, [1, 2], { merkleRoot: msg() }).outputParity);
    }
    assert.deepEqual([...internalParities].sort(), [2, 3]);
    assert.deepEqual([...outputParities].sort(), [0, 1]);
  });

  it("a (3,5) key signs for the output keys of derived keys of both parities, any signer subset", () => {
    const shares = keygenOk(bip340Scheme, range(5), 3);
    const parities = new Set<number>();
    for (let i = 0; i < 40 && parities.size < 2; i++)
      parities.add(signAndCheck(shares, [1, 3, 5], {}, [0, i]).internalParity);
    assert.deepEqual([...parities].sort(), [2, 3]);
    const root = new Uint8Array(randomBytes(32));
    signAndCheck(shares, [2, 3, 4], { merkleRoot: root }, [44, 0, 0, 0, 1]);
    signAndCheck(shares, [1, 2, 3, 4, 5], { merkleRoot: root }, [44, 0, 0, 0, 1]);
  });

  it("signers disagreeing on the Taproot option abort (it is bound into the signing package)", () => {
    const shares = keygenOk(bip340Scheme, range(3), 2);
    const r1 = new Uint8Array(randomBytes(32));
    const r2 = new Uint8Array(randomBytes(32));
    const splits: [TaprootOption | undefined, TaprootOption | undefined][] = [
      [undefined, {}],
      [{}, { merkleRoot: r1 }],
      [{ merkleRoot: r1 }, { merkleRoot: r2 }],
      [undefined, { merkleRoot: r1 }],
    ];
    for (const [a, b] of splits) {
      const run = signTaproot(shares, [1, 3], msg(), (p) => (p === 1 ? a : b));
      assert.equal(run.results.size, 0);
      for (const p of [1, 3]) assertAbort(run, p, "mismatch", []);
    }
  });

  it("refuses malformed options, and Taproot for ed25519 keys", () => {
    const shares = keygenOk(bip340Scheme, range(2), 2);
    const start = (taproot: unknown) =>
      bip340Scheme.sign({
        sessionId: sid(),
        self: 1,
        share: shares.get(1)!,
        signers: [1, 2],
        message: msg(),
        taproot: taproot as TaprootOption,
      });
    badInput(() => start(null));
    badInput(() => start([]));
    badInput(() => start({ merkleRoot: new Uint8Array(31) }));
    badInput(() => start({ merkleRoot: "00".repeat(32) }));
    const ed = keygenOk(ed25519Scheme, range(2), 2);
    badInput(() =>
      ed25519Scheme.sign({
        sessionId: sid(),
        self: 1,
        share: ed.get(1)!,
        signers: [1, 2],
        message: msg(),
        taproot: {},
      }),
    );
  });
});
