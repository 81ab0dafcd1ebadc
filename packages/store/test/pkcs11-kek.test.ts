/** The PKCS#11 KEK against SoftHSM2 (own token directory and config) and a real nats-server. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { NatsServer } from "@custody/natsd";
import { shareBucket } from "@custody/proto";
import { Kvm } from "@nats-io/kv";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import pkcs11js from "pkcs11js";
import {
  createKekFile,
  createPkcs11Kek,
  KekConfigError,
  KekUnavailableError,
  kekProviderFromConfig,
  open,
  Pkcs11Kek,
  type Pkcs11KekConfig,
  readKek,
  SealError,
  ShareStore,
  seal,
} from "../src/index.js";

const MODULE = "/usr/lib/softhsm/libsofthsm2.so";
const PIN = "3141-5926";
const TOKENS = ["party1", "party2", "unplugged", "imported"];
const dir = mkdtempSync(join(tmpdir(), "custody-pkcs11-"));
const pinFile = join(dir, "pin");
const slot = { keyId: "key_h", party: 1, epoch: 0, scheme: "ed25519", tenant: "acme", session: "ab" };
const config = (token: string, keyLabel = "kek-1"): Pkcs11KekConfig => ({
  module: MODULE,
  token,
  pinFile,
  keyLabel,
});
const unavailable = (reason: string) => (e: unknown) => {
  assert.ok(e instanceof KekUnavailableError, `KekUnavailableError, not ${String(e)}`);
  assert.equal(e.reason, reason, e.message);
  for (const text of [e.message, e.stack ?? "", JSON.stringify(e)])
    assert.ok(!text.includes(PIN), "no PIN in errors");
  return true;
};

let server: NatsServer;
let nc: NatsConnection;
let hsm: InstanceType<typeof pkcs11js.PKCS11>;

/** The test's own view of the token (another application session in the same process). */
const slotOf = (label: string) =>
  hsm.C_GetSlotList(true).find((s) => {
    try {
      return hsm.C_GetTokenInfo(s).label.trimEnd() === label;
    } catch {
      return false; // the deleted token
    }
  })!;

before(async () => {
  // SoftHSM2 reads its config and token list when the module is initialised: every token first.
  writeFileSync(
    join(dir, "softhsm2.conf"),
    `directories.tokendir = ${join(dir, "tokens")}\nobjectstore.backend = file\nlog.level = ERROR\n`,
  );
  execFileSync("mkdir", ["-p", join(dir, "tokens")]);
  process.env.SOFTHSM2_CONF = join(dir, "softhsm2.conf");
  for (const label of TOKENS)
    execFileSync(
      "softhsm2-util",
      ["--init-token", "--free", "--label", label, "--pin", PIN, "--so-pin", "2718-2818"],
      {
        stdio: "ignore",
      },
    );
  writeFileSync(pinFile, `${PIN}\n`, { mode: 0o600 });
  for (const token of ["party1", "party2", "unplugged"]) await createPkcs11Kek(config(token));
  hsm = new pkcs11js.PKCS11();
  hsm.load(MODULE);
  try {
    hsm.C_Initialize();
  } catch (e) {
    assert.equal((e as { code?: number }).code, pkcs11js.CKR_CRYPTOKI_ALREADY_INITIALIZED);
  }
  server = await NatsServer.start({ dir: join(dir, "nats") });
  nc = await connect({ servers: server.url });
  await new Kvm(nc).create(shareBucket(1), { history: 1 });
});
after(async () => {
  await nc?.close();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("shares round-trip through the ShareStore under a PKCS#11 KEK; another token's KEK cannot open them", async () => {
  const kek = await kekProviderFromConfig({ pkcs11: config("party1") });
  assert.equal(kek.id, "pkcs11:kek-1");
  const store = await ShareStore.open(nc, 1, kek);
  const ref = { tenant: "acme", keyId: "key_p", scheme: "ed25519" };
  const share = randomBytes(64);
  await store.claimKey(ref, "op_p");
  await store.putShare(ref, { epoch: 0, session: "cd".repeat(32) }, share, [1, 2, 3], "op_p");
  const got = await store.getShare(ref, { epoch: 0, session: "cd".repeat(32) });
  assert.deepEqual(Buffer.from(got!.share), share);
  assert.deepEqual(got!.parties, [1, 2, 3]);
  assert.equal((await store.state(ref))?.createdBy, "op_p");
  const kv = await new Kvm(nc).open(shareBucket(1));
  const record = (await kv.get(`key_p.0.${"cd".repeat(32)}`))!.value;
  assert.equal(record[0], 2);
  assert.equal(Buffer.from(record).includes(share.subarray(0, 12)), false, "no plaintext in the bucket");
  // The same label in another party's token is another key.
  const other = await ShareStore.open(nc, 1, await Pkcs11Kek.open(config("party2")));
  await assert.rejects(other.getShare(ref, { epoch: 0, session: "cd".repeat(32) }), SealError);
  await assert.rejects(other.state(ref), SealError);
  // A file KEK never opens it either.
  await assert.rejects(
    ShareStore.open(nc, 1, randomBytes(32)).then((s) => s.state(ref)),
    /not hold/,
  );
});

test("the KEK is generated in the token: sensitive, never extractable, encrypt/decrypt only; its value is refused", async () => {
  const s = hsm.C_OpenSession(slotOf("party1"), pkcs11js.CKF_SERIAL_SESSION);
  try {
    hsm.C_Login(s, pkcs11js.CKU_USER, PIN);
  } catch (e) {
    assert.equal((e as { code?: number }).code, pkcs11js.CKR_USER_ALREADY_LOGGED_IN);
  }
  hsm.C_FindObjectsInit(s, [{ type: pkcs11js.CKA_LABEL, value: "kek-1" }]);
  const [key, more] = hsm.C_FindObjects(s, 2);
  hsm.C_FindObjectsFinal(s);
  assert.ok(key && !more, "one key labelled kek-1");
  const attrs = [
    [pkcs11js.CKA_TOKEN, 1],
    [pkcs11js.CKA_PRIVATE, 1],
    [pkcs11js.CKA_SENSITIVE, 1],
    [pkcs11js.CKA_ALWAYS_SENSITIVE, 1],
    [pkcs11js.CKA_EXTRACTABLE, 0],
    [pkcs11js.CKA_NEVER_EXTRACTABLE, 1],
    [pkcs11js.CKA_ENCRYPT, 1],
    [pkcs11js.CKA_DECRYPT, 1],
    [pkcs11js.CKA_WRAP, 0],
    [pkcs11js.CKA_UNWRAP, 0],
    [pkcs11js.CKA_SIGN, 0],
    [pkcs11js.CKA_DERIVE, 0],
    [pkcs11js.CKA_MODIFIABLE, 0],
  ] as const;
  const got = hsm.C_GetAttributeValue(
    s,
    key,
    attrs.map(([type]) => ({ type })),
  );
  assert.deepEqual(
    got.map((a) => a.value[0]),
    attrs.map(([, v]) => v),
  );
  assert.equal(
    hsm.C_GetAttributeValue(s, key, [{ type: pkcs11js.CKA_VALUE_LEN }])[0]!.value.readUInt32LE(0),
    32,
  );
  assert.equal(
    hsm.C_GetAttributeValue(s, key, [{ type: pkcs11js.CKA_KEY_TYPE }])[0]!.value[0],
    pkcs11js.CKK_AES,
  );
  assert.throws(
    () => hsm.C_GetAttributeValue(s, key, [{ type: pkcs11js.CKA_VALUE }]),
    (e: unknown) => (e as { code?: number }).code === pkcs11js.CKR_ATTRIBUTE_SENSITIVE,
  );
  hsm.C_CloseSession(s);
  // A second key under the same label is refused.
  await assert.rejects(createPkcs11Kek(config("party1")), KekConfigError);
});

test("a DEK wrapped under one associated data does not unwrap under another; tampering is a SealError", async () => {
  const kek = await Pkcs11Kek.open(config("party1"));
  const dek = randomBytes(32);
  const wrapped = await kek.wrap(dek, Buffer.from("slot A"));
  assert.equal(wrapped.bytes.length, 12 + 32 + 16);
  assert.deepEqual(Buffer.from(await kek.unwrap(wrapped, Buffer.from("slot A"))), dek);
  await assert.rejects(kek.unwrap(wrapped, Buffer.from("slot B")), SealError);
  for (const at of [0, 12, 50, 59]) {
    const bytes = Uint8Array.from(wrapped.bytes);
    bytes[at]! ^= 1;
    await assert.rejects(kek.unwrap({ ...wrapped, bytes }, Buffer.from("slot A")), SealError, `byte ${at}`);
  }
  await assert.rejects(
    kek.unwrap({ ...wrapped, bytes: wrapped.bytes.subarray(1) }, Buffer.from("slot A")),
    SealError,
  );
  await assert.rejects(kek.wrap(randomBytes(31), Buffer.from("slot A")), SealError);
  await assert.rejects(kek.unwrap({ ...wrapped, kek: "pkcs11:kek-9" }, Buffer.from("slot A")), SealError);
  // Whole records: moved to another slot, they do not open.
  const rec = await seal(kek, slot, Buffer.from("share"));
  assert.equal(Buffer.from(await open(kek, slot, rec)).toString(), "share");
  for (const moved of [
    { epoch: 1 },
    { tenant: "evil" },
    { session: "cd" },
    { party: 2 },
    { scheme: "bip340" },
  ])
    await assert.rejects(open(kek, { ...slot, ...moved }, rec), SealError, JSON.stringify(moved));
  kek.close();
});

test("concurrent wraps and unwraps on one session all succeed", async () => {
  const kek = await Pkcs11Kek.open(config("party1"));
  const deks = Array.from({ length: 40 }, () => randomBytes(32));
  const wrapped = await Promise.all(deks.map((d, i) => kek.wrap(d, Buffer.from(`ad ${i}`))));
  const back = await Promise.all(wrapped.map((w, i) => kek.unwrap(w, Buffer.from(`ad ${i}`))));
  assert.deepEqual(
    back.map((b) => Buffer.from(b).toString("hex")),
    deks.map((d) => d.toString("hex")),
  );
  kek.close();
});

test("a logged-out session logs in again; a closed session reconnects", async () => {
  const kek = await Pkcs11Kek.open(config("party2"));
  const rec = await seal(kek, slot, Buffer.from("before"));
  const s = hsm.C_OpenSession(slotOf("party2"), pkcs11js.CKF_SERIAL_SESSION);
  hsm.C_Logout(s); // login state is per application: this logs the provider out too
  hsm.C_FindObjectsInit(s, [{ type: pkcs11js.CKA_LABEL, value: "kek-1" }]);
  assert.deepEqual(hsm.C_FindObjects(s, 2), [], "logged out: the private KEK is out of sight");
  hsm.C_FindObjectsFinal(s);
  hsm.C_CloseSession(s);
  assert.equal(Buffer.from(await open(kek, slot, rec)).toString(), "before");
  hsm.C_CloseAllSessions(slotOf("party2"));
  assert.equal(
    Buffer.from(await open(kek, slot, await seal(kek, slot, Buffer.from("after")))).toString(),
    "after",
  );
  kek.close();
});

test("a token that goes away fails closed with KekUnavailableError", async () => {
  const kek = await Pkcs11Kek.open(config("unplugged"));
  const rec = await seal(kek, slot, Buffer.from("x"));
  const unplugged = slotOf("unplugged");
  execFileSync("softhsm2-util", ["--delete-token", "--token", "unplugged"], { stdio: "ignore" });
  hsm.C_CloseAllSessions(unplugged);
  await assert.rejects(open(kek, slot, rec), unavailable("token-missing"));
  await assert.rejects(seal(kek, slot, Buffer.from("y")), unavailable("token-missing"));
  await assert.rejects(Pkcs11Kek.open(config("unplugged")), unavailable("token-missing"));
});

test("wrong PIN, missing key, missing module, token or PIN, unsuitable key: typed errors, no PIN in them", async () => {
  const wrongPin = join(dir, "wrong-pin");
  writeFileSync(wrongPin, "0000-0000");
  await assert.rejects(
    Pkcs11Kek.open({ ...config("party2"), pinFile: wrongPin }),
    unavailable("login-failed"),
  );
  // Also while another provider of this process holds the token logged in; that one keeps working.
  const holder = await Pkcs11Kek.open(config("party1"));
  await assert.rejects(
    Pkcs11Kek.open({ ...config("party1"), pinFile: wrongPin }),
    unavailable("login-failed"),
  );
  assert.equal(
    Buffer.from(await open(holder, slot, await seal(holder, slot, Buffer.from("ok")))).toString(),
    "ok",
  );
  holder.close();
  await assert.rejects(Pkcs11Kek.open(config("party1", "no-such-kek")), unavailable("key-missing"));
  await assert.rejects(
    Pkcs11Kek.open({ ...config("party1"), module: join(dir, "missing.so") }),
    unavailable("module-missing"),
  );
  await assert.rejects(Pkcs11Kek.open(config("no-such-token")), unavailable("token-missing"));
  await assert.rejects(
    Pkcs11Kek.open({ ...config("party1"), pinFile: join(dir, "absent") }),
    unavailable("pin-unreadable"),
  );
  const { pinFile: _, ...noFile } = config("party1");
  await assert.rejects(
    Pkcs11Kek.open({ ...noFile, pinEnv: "CUSTODY_TEST_UNSET_PIN" }),
    unavailable("pin-unreadable"),
  );
  process.env.CUSTODY_TEST_PIN = PIN;
  const fromEnv = await Pkcs11Kek.open({ ...noFile, pinEnv: "CUSTODY_TEST_PIN" });
  assert.equal(fromEnv.id, "pkcs11:kek-1");
  fromEnv.close();
  await assert.rejects(Pkcs11Kek.open({ ...config("party1"), pinEnv: "CUSTODY_TEST_PIN" }), KekConfigError);
  await assert.rejects(Pkcs11Kek.open({ module: MODULE, pinFile, keyLabel: "kek-1" }), KekConfigError);
  // An AES key that can leave the token (imported, extractable) is refused as a KEK.
  const s = hsm.C_OpenSession(slotOf("imported"), pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
  hsm.C_Login(s, pkcs11js.CKU_USER, PIN);
  hsm.C_CreateObject(s, [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
    { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
    { type: pkcs11js.CKA_VALUE, value: randomBytes(32) },
    { type: pkcs11js.CKA_TOKEN, value: true },
    { type: pkcs11js.CKA_PRIVATE, value: true },
    { type: pkcs11js.CKA_SENSITIVE, value: true },
    { type: pkcs11js.CKA_EXTRACTABLE, value: false },
    { type: pkcs11js.CKA_ENCRYPT, value: true },
    { type: pkcs11js.CKA_DECRYPT, value: true },
    { type: pkcs11js.CKA_LABEL, value: "kek-1" },
  ]);
  hsm.C_CloseSession(s);
  await assert.rejects(Pkcs11Kek.open(config("imported")), unavailable("key-unsuitable"));
});

test("moving from a file KEK: with the retired file (and insecure-file-kek) old records open, new ones go to the token", async () => {
  const file = join(dir, "old.kek");
  createKekFile(file);
  const old = await seal(readKek(file), slot, Buffer.from("old"));
  await assert.rejects(
    kekProviderFromConfig({ pkcs11: config("party1"), retiredFile: file }),
    (e: unknown) => e instanceof KekConfigError && e.reason === "insecure-file-kek",
  );
  await assert.rejects(kekProviderFromConfig({ retiredFile: file, insecureFileKek: true }), KekConfigError);
  const moving = await kekProviderFromConfig({
    pkcs11: config("party1"),
    retiredFile: file,
    insecureFileKek: true,
  });
  assert.equal(moving.id, "pkcs11:kek-1");
  assert.equal(Buffer.from(await open(moving, slot, old)).toString(), "old");
  const fresh = await seal(moving, slot, Buffer.from("new"));
  const hsmOnly = await Pkcs11Kek.open(config("party1"));
  assert.equal(Buffer.from(await open(hsmOnly, slot, fresh)).toString(), "new");
  await assert.rejects(open(hsmOnly, slot, old), SealError);
  hsmOnly.close();
});

test("rotation in the token: a new KEK wraps, the retired label still unwraps, an unlisted one does not", async () => {
  await createPkcs11Kek(config("party2", "kek-2"));
  const before = await seal(await Pkcs11Kek.open(config("party2")), slot, Buffer.from("epoch of kek-1"));
  const rotated = await Pkcs11Kek.open({ ...config("party2", "kek-2"), retiredKeyLabels: ["kek-1"] });
  assert.equal(rotated.id, "pkcs11:kek-2");
  assert.equal(Buffer.from(await open(rotated, slot, before)).toString(), "epoch of kek-1");
  const after = await seal(rotated, slot, Buffer.from("epoch of kek-2"));
  assert.equal(new TextDecoder().decode(after.subarray(2, 2 + after[1]!)), "pkcs11:kek-2");
  await assert.rejects(open(await Pkcs11Kek.open(config("party2", "kek-2")), slot, before), /does not hold/);
  rotated.close();
});

test("slot ids, key labels and key sizes are checked", async () => {
  const id = Number(slotOf("party1").readBigUInt64LE(0));
  const { token: _, ...bySlot } = config("party1");
  const kek = await Pkcs11Kek.open({ ...bySlot, slot: id });
  assert.equal(Buffer.from(await open(kek, slot, await seal(kek, slot, Buffer.from("s")))).toString(), "s");
  kek.close();
  await assert.rejects(Pkcs11Kek.open({ ...config("party1"), slot: id + 1 }), unavailable("token-missing"));
  await assert.rejects(Pkcs11Kek.open({ ...bySlot, slot: id + 1 }), unavailable("token-missing"));
  await assert.rejects(
    Pkcs11Kek.open({ module: MODULE, pinFile, keyLabel: "kek-1" }),
    /token label or a slot id/,
  );
  await assert.rejects(Pkcs11Kek.open(config("party1", "a b")), KekConfigError);
  await assert.rejects(Pkcs11Kek.open({ ...config("party1"), retiredKeyLabels: ["a b"] }), KekConfigError);
  await assert.rejects(Pkcs11Kek.open(config("party1", "k".repeat(58))), KekConfigError);
  await assert.rejects(Pkcs11Kek.open(config("party1", "k".repeat(57))), unavailable("key-missing"));
  // An AES-128 key generated in the token with every right attribute is still not a KEK.
  const s = hsm.C_OpenSession(slotOf("imported"), pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
  try {
    hsm.C_Login(s, pkcs11js.CKU_USER, PIN);
  } catch (e) {
    assert.equal((e as { code?: number }).code, pkcs11js.CKR_USER_ALREADY_LOGGED_IN);
  }
  hsm.C_GenerateKey(s, { mechanism: pkcs11js.CKM_AES_KEY_GEN }, [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
    { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
    { type: pkcs11js.CKA_VALUE_LEN, value: 16 },
    { type: pkcs11js.CKA_LABEL, value: "kek-128" },
    ...[
      pkcs11js.CKA_TOKEN,
      pkcs11js.CKA_PRIVATE,
      pkcs11js.CKA_SENSITIVE,
      pkcs11js.CKA_ENCRYPT,
      pkcs11js.CKA_DECRYPT,
    ].map((type) => ({ type, value: true })),
    ...[
      pkcs11js.CKA_EXTRACTABLE,
      pkcs11js.CKA_WRAP,
      pkcs11js.CKA_UNWRAP,
      pkcs11js.CKA_SIGN,
      pkcs11js.CKA_VERIFY,
      pkcs11js.CKA_DERIVE,
    ].map((type) => ({ type, value: false })),
  ]);
  hsm.C_CloseSession(s);
  await assert.rejects(
    Pkcs11Kek.open(config("imported", "kek-128")),
    (e: unknown) => unavailable("key-unsuitable")(e) && /AES-256/.test(String(e)),
  );
});
