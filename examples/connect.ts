/**
 * Shared by the examples: a Custody client for the stack `custody dev` runs, found through its
 * profile (`$CUSTODY_PROFILE`, default `.custody/dev/profile.json`; relative paths in it are relative
 * to the current directory, as for the `custody` command).
 * @module
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { CustodyClient, type Key, type Scheme } from "@custody/sdk";

interface Profile {
  apiUrl: string;
  client: { seedFile: string; credentialFile: string };
}

/** A client signed with the profile's admin credential. */
export function connect(): CustodyClient {
  const file = resolve(process.env.CUSTODY_PROFILE ?? ".custody/dev/profile.json");
  const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
  const read = (f: string) => readFileSync(resolve(f), "utf8").trim();
  return new CustodyClient(process.env.CUSTODY_API_URL ?? profile.apiUrl, {
    seed: read(profile.client.seedFile),
    credential: read(profile.client.credentialFile),
  });
}

/** The key `$CUSTODY_KEY_ID`, or a new 2-of-3 key of `scheme` made by DKG. */
export async function keyOf(client: CustodyClient, scheme: Scheme): Promise<Key> {
  const id = process.env.CUSTODY_KEY_ID;
  if (id) return client.getKey(id);
  return client.createKeyAndWait({ scheme, threshold: 2, parties: 3, label: `example ${scheme}` });
}

/** Throws unless `ok`: an example ends with a non-zero exit when a check fails. */
export function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`check failed: ${what}`);
  console.log(`ok  ${what}`);
}
