import { ed25519 } from "@noble/curves/ed25519.js";
import { secp256k1, schnorr } from "@noble/curves/secp256k1.js";
import { mulAddUnsafe } from "@noble/curves/abstract/curve.js";
function t(name, f, k = 200) { for (let i = 0; i < 20; i++) f(); const t0 = performance.now(); for (let i = 0; i < k; i++) f(); console.log(name.padEnd(30), ((performance.now() - t0) / k * 1000).toFixed(0), "us"); }
for (const [nm, P] of [["ed", ed25519.Point], ["k1", secp256k1.Point]]) {
  const s = 0x1234567890abcdef1234567890abcdef1234567890abcdef1234567890abcn;
  const A = P.BASE.multiply(s), B = P.BASE.multiply(s + 7n); const bytes = A.toBytes();
  t(nm + " fromBytes", () => P.fromBytes(bytes));
  t(nm + " assertValidity", () => A.assertValidity());
  t(nm + " isTorsionFree", () => A.isTorsionFree());
  if (nm === "ed") t(nm + " clearCofactor", () => A.clearCofactor());
  t(nm + " BASE.multiply", () => P.BASE.multiply(s));
  t(nm + " BASE.multiplyUnsafe", () => P.BASE.multiplyUnsafe(s));
  t(nm + " A.multiplyUnsafe", () => A.multiplyUnsafe(s));
  t(nm + " A.multiply", () => A.multiply(s));
  t(nm + " msm2", () => mulAddUnsafe(P, [A, B], [s, s + 1n]));
  t(nm + " toBytes", () => A.add(B).toBytes());
}
const sk = ed25519.utils.randomSecretKey(); const pk = ed25519.getPublicKey(sk); const m = new Uint8Array(32); const sig = ed25519.sign(m, sk);
t("ed verify", () => ed25519.verify(sig, m, pk, { zip215: false }));
const sk2 = schnorr.utils.randomSecretKey(); const pk2 = schnorr.getPublicKey(sk2); const sig2 = schnorr.sign(m, sk2);
t("schnorr verify", () => schnorr.verify(sig2, m, pk2));
