/**
 * BIP32 non-hardened derivation for bip340: CKDpub against the published BIP32 test vectors, the
 * jointly generated chain code (commit-then-reveal, blame on a bad reveal), signing along paths
 * whose child keys have either y parity (checked with tiny-secp256k1 under a child key derived
 * independently with node:crypto HMAC and tiny-secp256k1 point arithmetic), refresh keeping the
 * chain code and child keys, and path binding in the signing package.
 */
import assert from "node:assert/strict";
import { createHmac, randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { ProtocolError, runLocal } from "@custody/core";
import { pointAddScalar, verifySchnorr } from "tiny-secp256k1";
import { bip340Scheme, deriveBip340Child, ed25519Scheme } from "../src/index.js";
import { flip, patch, rewrite } from "./bad.js";
import { assertAbort, assertSigned, keygen, keygenOk, range, refresh, sid } from "./helpers.js";
const hex = (s) => new Uint8Array(Buffer.from(s, "hex"));
const toHex = (b) => Buffer.from(b).toString("hex");
const msg = () => new Uint8Array(randomBytes(32));
const badInput = (f) => assert.throws(f, (e) => e instanceof ProtocolError && e.kind === "bad-input");
/** Independent CKDpub: node:crypto HMAC-SHA512 and tiny-secp256k1's point arithmetic. */
function ckdPub(pub33, chainCode, path) {
    let P = pub33;
    let c = chainCode;
    for (const i of path) {
        const data = Buffer.alloc(37);
        data.set(P, 0);
        data.writeUInt32BE(i, 33);
        const I = createHmac("sha512", c).update(data).digest();
        const child = pointAddScalar(P, I.subarray(0, 32), true);
        assert.ok(child, "invalid child");
        P = child;
        c = new Uint8Array(I.subarray(32));
    }
    return { publicKey33: P, chainCode: c };
}
/** Runs signing along `path` (or per-party paths) by `signers`. */
function signPath(shares, signers, message, path) {
    const sessionId = sid();
    const pathOf = typeof path === "function" ? path : () => path;
    return runLocal(new Map(signers.map((self) => [
        self,
        () => bip340Scheme.sign({
            sessionId,
            self,
            share: shares.get(self),
            signers,
            message,
            path: pathOf(self),
        }),
    ])));
}
/** Signs along `path` and checks the output against the independently derived child key. */
function signAndCheck(shares, signers, path) {
    const share = shares.get(signers[0]);
    const expected = ckdPub(share.groupKey, share.chainCode, path);
    const m = msg();
    const run = signPath(shares, signers, m, path);
    const out = assertSigned(bip340Scheme, run, signers.length, m);
    for (const o of run.results.values())
        assert.deepEqual(o.publicKey, expected.publicKey33.slice(1));
    assert.ok(verifySchnorr(m, expected.publicKey33.slice(1), out.signature));
    return { out, parity: expected.publicKey33[0] };
}
describe("deriveBip340Child: BIP32 test vectors (public derivation)", () => {
    const cases = [
        {
            name: "vector 1: m/0H → m/0H/1",
            parent: [
                "035a784662a4a20a65bf6aab9ae98a6c068a81c52e4b032c0fb5400c706cfccc56",
                "47fdacbd0f1097043b78c63c20c34ef4ed9a111d980047ad16282c7ae6236141",
            ],
            path: [1],
            child: [
                "03501e454bf00751f24b1b489aa925215d66af2234e3891c3b21a52bedb3cd711c",
                "2a7857631386ba23dacac34180dd1983734e444fdbf774041578e9b6adb37c19",
            ],
        },
        {
            name: "vector 1: m/0H/1/2H → m/0H/1/2H/2/1000000000",
            parent: [
                "0357bfe1e341d01c69fe5654309956cbea516822fba8a601743a012a7896ee8dc2",
                "04466b9cc8e161e966409ca52986c584f07e9dc81f735db683c3ff6ec7b1503f",
            ],
            path: [2, 1000000000],
            child: [
                "022a471424da5e657499d1ff51cb43c47481a03b1e77f951fe64cec9f5a48f7011",
                "c783e67b921d2beb8f6b389cc646d7263b4145701dadd2161548a8b078e65e9e",
            ],
        },
        {
            name: "vector 1: m/0H/1/2H → m/0H/1/2H/2",
            parent: [
                "0357bfe1e341d01c69fe5654309956cbea516822fba8a601743a012a7896ee8dc2",
                "04466b9cc8e161e966409ca52986c584f07e9dc81f735db683c3ff6ec7b1503f",
            ],
            path: [2],
            child: [
                "02e8445082a72f29b75ca48748a914df60622a609cacfce8ed0e35804560741d29",
                "cfb71883f01676f587d023cc53a35bc7f88f724b1f8c2892ac1275ac822a3edd",
            ],
        },
        {
            name: "vector 2: m → m/0",
            parent: [
                "03cbcaa9c98c877a26977d00825c956a238e8dddfbd322cce4f74b0b5bd6ace4a7",
                "60499f801b896d83179a4374aeb7822aaeaceaa0db1f85ee3e904c4defbd9689",
            ],
            path: [0],
            child: [
                "02fc9e5af0ac8d9b3cecfe2a888e2117ba3d089d8585886c9c826b6b22a98d12ea",
                "f0909affaa7ee7abe5dd4e100598d4dc53cd709d5a5c2cac40e7412f232f7c9c",
            ],
        },
    ];
    for (const c of cases) {
        it(c.name, () => {
            const d = deriveBip340Child(hex(c.parent[0]), hex(c.parent[1]), c.path);
            assert.equal(toHex(d.publicKey33), c.child[0]);
            assert.equal(toHex(d.chainCode), c.child[1]);
            assert.equal(toHex(d.xOnly), c.child[0].slice(2));
        });
    }
    it("the empty path is the identity; random keys and paths agree with the independent CKDpub", () => {
        const key = hex("03cbcaa9c98c877a26977d00825c956a238e8dddfbd322cce4f74b0b5bd6ace4a7");
        const cc = new Uint8Array(32).fill(9);
        const d0 = deriveBip340Child(key, cc, []);
        assert.deepEqual(d0.publicKey33, key);
        assert.deepEqual(d0.chainCode, cc);
        assert.equal(d0.tweak, 0n);
        for (let k = 0; k < 8; k++) {
            const path = Array.from({ length: k + 1 }, () => randomBytes(4).readUInt32BE() >>> 1);
            const chain = new Uint8Array(randomBytes(32));
            const d = deriveBip340Child(key, chain, path);
            const e = ckdPub(key, chain, path);
            assert.deepEqual(d.publicKey33, e.publicKey33);
            assert.deepEqual(d.chainCode, e.chainCode);
        }
    });
    it("rejects malformed keys, chain codes and paths", () => {
        const key = hex("03cbcaa9c98c877a26977d00825c956a238e8dddfbd322cce4f74b0b5bd6ace4a7");
        const cc = new Uint8Array(32);
        badInput(() => deriveBip340Child(key.slice(1), cc, [0])); // x-only is not enough: parity matters
        badInput(() => deriveBip340Child(patch(key, 0, Uint8Array.of(4)), cc, [0]));
        badInput(() => deriveBip340Child(patch(key, 1, new Uint8Array(32).fill(0xff)), cc, [0]));
        badInput(() => deriveBip340Child(key, new Uint8Array(31), [0]));
        badInput(() => deriveBip340Child(key, cc, [2 ** 31]));
        badInput(() => deriveBip340Child(key, cc, [-1]));
        badInput(() => deriveBip340Child(key, cc, new Array(256).fill(0)));
    });
});
describe("bip340 joint chain code (DKG)", () => {
    it("every party holds the same 32-byte chain code; independent DKGs differ; ed25519 has none", () => {
        const a = keygenOk(bip340Scheme, range(3), 2);
        const b = keygenOk(bip340Scheme, range(3), 2);
        const cc = bip340Scheme.info(a.get(1)).chainCode;
        assert.equal(cc.length, 32);
        for (const s of a.values())
            assert.deepEqual(bip340Scheme.info(s).chainCode, cc);
        assert.notDeepEqual(bip340Scheme.info(b.get(1)).chainCode, cc);
        const e = keygenOk(ed25519Scheme, range(2), 2);
        assert.equal(ed25519Scheme.info(e.get(1)).chainCode, undefined);
    });
    it("a tampered chain-code commitment aborts the receivers naming the sender", () => {
        const run = keygen(bip340Scheme, range(3), 2, { tamper: rewrite(1, 2, (p) => flip(p, p.length - 1)) });
        for (const p of [1, 3]) {
            const err = assertAbort(run, p, "bad-message", [2]);
            assert.match(err.message, /chain-code contribution/);
        }
        assert.equal(run.results.size, 0);
    });
    it("a tampered chain-code reveal aborts the receiver naming the sender", () => {
        const run = keygen(bip340Scheme, range(3), 2, { tamper: rewrite(2, 2, (p) => flip(p, 40), 1) });
        const err = assertAbort(run, 1, "bad-message", [2]);
        assert.match(err.message, /chain-code contribution/);
        assert.equal(run.results.size, 0);
    });
    it("a missing or extended reveal is malformed", () => {
        for (const f of [(p) => p.slice(0, 32), (p) => Uint8Array.of(...p, 0)]) {
            const run = keygen(bip340Scheme, range(3), 2, { tamper: rewrite(2, 3, f, 1) });
            assertAbort(run, 1, "bad-message", [3]);
        }
    });
    it("copying another party's commitment and reveal is rejected (the commitment binds the sender)", () => {
        const parties = range(3);
        const sessionId = sid();
        const round1 = new Map();
        const starts = new Map(parties.map((self) => [
            self,
            () => {
                const step = bip340Scheme.keygen({ sessionId, self, parties, threshold: 2 });
                round1.set(self, step.outgoing[0].payload);
                return step;
            },
        ]));
        let reveal3;
        const run = runLocal(starts, {
            tamper: (m, to) => {
                if (m.round === 1 && m.from === 2) {
                    const victim = round1.get(3);
                    return { ...m, payload: patch(m.payload, m.payload.length - 32, victim.slice(-32)) };
                }
                if (m.round === 2 && m.from === 3 && to === 1)
                    reveal3 = m.payload.slice(32);
                if (m.round === 2 && m.from === 2 && to === 1) {
                    assert.ok(reveal3, "party 3's reveal must reach party 1 first");
                    return { ...m, payload: patch(m.payload, 32, reveal3) };
                }
                return m;
            },
        });
        const err = assertAbort(run, 1, "bad-message", [2]);
        assert.match(err.message, /chain-code contribution/);
    });
});
describe("bip340 signing along BIP32 paths", () => {
    it("child keys of both y parities, for root keys of both parities, verify with tiny-secp256k1", () => {
        const rootParities = new Set();
        for (let k = 0; k < 40 && rootParities.size < 2; k++) {
            const shares = keygenOk(bip340Scheme, [1, 2], 2);
            const rootParity = shares.get(1).groupKey[0];
            if (rootParities.has(rootParity))
                continue;
            rootParities.add(rootParity);
            const childParities = new Set();
            for (let i = 0; i < 40 && childParities.size < 2; i++)
                childParities.add(signAndCheck(shares, [1, 2], [i]).parity);
            assert.deepEqual([...childParities].sort(), [2, 3]);
        }
        assert.deepEqual([...rootParities].sort(), [2, 3]);
    });
    it("a (3,5) key signs along m/44/60/0/0/5, deep and maximal paths, with any signer subset", () => {
        const shares = keygenOk(bip340Scheme, range(5), 3);
        const root = bip340Scheme.info(shares.get(1)).publicKey;
        const { out } = signAndCheck(shares, [1, 2, 3], [44, 60, 0, 0, 5]);
        assert.notDeepEqual(out.publicKey, root);
        const again = signAndCheck(shares, [2, 4, 5], [44, 60, 0, 0, 5]);
        assert.deepEqual(again.out.publicKey, out.publicKey);
        signAndCheck(shares, [1, 3, 4, 5], [2 ** 31 - 1, 0, 7]);
        signAndCheck(shares, [3, 4, 5], Array.from({ length: 255 }, (_, i) => i * 1000));
        // An empty path signs under the root key.
        const m = msg();
        const plain = assertSigned(bip340Scheme, signPath(shares, [1, 2, 5], m, []), 3, m);
        assert.deepEqual(plain.publicKey, root);
    });
    it("refresh keeps the chain code and every derived key", () => {
        const old = keygenOk(bip340Scheme, range(3), 2);
        const run = refresh(bip340Scheme, old);
        assert.equal(run.errors.size, 0, [...run.errors.values()].join("; "));
        for (const [p, s] of run.results)
            assert.deepEqual(bip340Scheme.info(s).chainCode, bip340Scheme.info(old.get(p)).chainCode);
        for (const path of [[0], [44, 60, 0, 0, 5], [7, 7]]) {
            const before = signAndCheck(old, [1, 2], path).out.publicKey;
            const after = signAndCheck(run.results, [2, 3], path).out.publicKey;
            assert.deepEqual(after, before);
        }
        const again = refresh(bip340Scheme, run.results);
        assert.equal(again.errors.size, 0);
        signAndCheck(again.results, [1, 3], [1, 2, 3]);
        // The refreshed share survives storage with its chain code.
        const s = run.results.get(1);
        assert.deepEqual(bip340Scheme.decodeShare(bip340Scheme.encodeShare(s)).chainCode, s.chainCode);
    });
    it("signers disagreeing on the path abort (the path is bound into the signing package)", () => {
        const shares = keygenOk(bip340Scheme, range(3), 2);
        const run = signPath(shares, [1, 2], msg(), (p) => (p === 1 ? [0] : [1]));
        assert.equal(run.results.size, 0);
        for (const p of [1, 2])
            assertAbort(run, p, "mismatch", []);
    });
    it("a legacy share without chain code signs only without a path", () => {
        const shares = keygenOk(bip340Scheme, range(2), 2);
        const legacy = new Map([...shares].map(([p, s]) => {
            const bytes = bip340Scheme.encodeShare(s);
            const v1 = bytes.slice(0, -32);
            v1[0] = 1;
            return [p, bip340Scheme.decodeShare(v1)];
        }));
        const s1 = legacy.get(1);
        assert.equal(bip340Scheme.info(s1).chainCode, undefined);
        badInput(() => bip340Scheme.sign({ sessionId: sid(), self: 1, share: s1, signers: [1, 2], message: msg(), path: [0] }));
        const m = msg();
        assertSigned(bip340Scheme, signPath(legacy, [1, 2], m, []), 2, m);
        const r = refresh(bip340Scheme, legacy);
        assert.equal(r.errors.size, 0);
        assert.equal(r.results.get(1).chainCode, undefined);
    });
    it("ed25519 still rejects every non-empty path", () => {
        const shares = keygenOk(ed25519Scheme, range(2), 2);
        badInput(() => ed25519Scheme.sign({
            sessionId: sid(),
            self: 1,
            share: shares.get(1),
            signers: [1, 2],
            message: msg(),
            path: [0],
        }));
    });
});
//# sourceMappingURL=derive.test.js.map