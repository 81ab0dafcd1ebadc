/** Local input validation: every invalid argument is a `bad-input` ProtocolError before any message. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ProtocolError } from "@custody/core";
import { bip340Scheme, ed25519Scheme } from "../src/index.js";
import { keygenOk, range, sid } from "./helpers.js";
const badInput = (f) => assert.throws(f, (e) => e instanceof ProtocolError && e.kind === "bad-input");
for (const scheme of [ed25519Scheme, bip340Scheme]) {
    describe(`${scheme.name} input validation`, () => {
        const shares = keygenOk(scheme, range(3), 2);
        const share = shares.get(1);
        const message = new Uint8Array(32);
        it("keygen: session id, party set, threshold, self", () => {
            const ok = { sessionId: sid(), self: 1, parties: range(3), threshold: 2 };
            badInput(() => scheme.keygen({ ...ok, sessionId: new Uint8Array(31) }));
            badInput(() => scheme.keygen({ ...ok, parties: [1, 2, 2] }));
            badInput(() => scheme.keygen({ ...ok, parties: [0, 1, 2] }));
            badInput(() => scheme.keygen({ ...ok, parties: [1, 2, 256] }));
            badInput(() => scheme.keygen({ ...ok, threshold: 1 }));
            badInput(() => scheme.keygen({ ...ok, threshold: 4 }));
            badInput(() => scheme.keygen({ ...ok, self: 4 }));
            badInput(() => scheme.keygen({ ...ok, parties: [1] }));
        });
        it("sign: signer set, self, share, message and path", () => {
            const ok = { sessionId: sid(), self: 1, share, signers: [1, 2], message };
            badInput(() => scheme.sign({ ...ok, signers: [1] }));
            badInput(() => scheme.sign({ ...ok, signers: [1, 4] }));
            badInput(() => scheme.sign({ ...ok, signers: [2, 3] }));
            badInput(() => scheme.sign({ ...ok, signers: [1, 1] }));
            badInput(() => scheme.sign({ ...ok, self: 2 }));
            badInput(() => scheme.sign({ ...ok, sessionId: new Uint8Array(0) }));
            if (scheme === ed25519Scheme)
                badInput(() => scheme.sign({ ...ok, path: [0] }));
            else {
                assert.equal(scheme.sign({ ...ok, path: [0] }).kind, "next");
                badInput(() => scheme.sign({ ...ok, path: [2 ** 31] }));
            }
            const other = scheme === ed25519Scheme ? bip340Scheme : ed25519Scheme;
            const foreign = keygenOk(other, range(2), 2).get(1);
            badInput(() => scheme.sign({ ...ok, share: foreign }));
            badInput(() => scheme.refresh({ sessionId: sid(), self: 1, share: foreign }));
            badInput(() => scheme.info(foreign));
        });
        it("checkSignInput: any byte message; paths only for bip340 (non-hardened, ≤ 255 long)", () => {
            scheme.checkSignInput(new Uint8Array(0));
            scheme.checkSignInput(new Uint8Array(100), []);
            badInput(() => scheme.checkSignInput("abc"));
            const bad = [[2 ** 31], [0, 2 ** 31 + 5], [-1], [1.5], [Number.NaN], new Array(256).fill(0)];
            for (const path of bad)
                badInput(() => scheme.checkSignInput(new Uint8Array(32), path));
            badInput(() => scheme.checkSignInput(new Uint8Array(32), "m/0"));
            badInput(() => scheme.checkSignInput(new Uint8Array(32), ["1"]));
            const good = [[1], [44, 60, 0, 0, 5], [2 ** 31 - 1], new Array(255).fill(7)];
            for (const path of good) {
                if (scheme === ed25519Scheme)
                    badInput(() => scheme.checkSignInput(new Uint8Array(32), path));
                else
                    scheme.checkSignInput(new Uint8Array(32), path);
            }
        });
        it("refresh: self must own the share", () => {
            badInput(() => scheme.refresh({ sessionId: sid(), self: 2, share }));
        });
        it("reports its name and round count", () => {
            assert.equal(scheme.maxRounds, 3);
            assert.ok(["ed25519", "bip340"].includes(scheme.name));
        });
    });
}
//# sourceMappingURL=inputs.test.js.map