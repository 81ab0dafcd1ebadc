import assert from "node:assert/strict";
import { test } from "node:test";
import { toConf } from "../src/index.js";

test("renders nested blocks, lists and quoted strings", () => {
  const text = toConf({
    port: 4222,
    write_deadline: "2s",
    accounts: { A: { users: [{ nkey: "UABC" }] } },
    skip: undefined,
  });
  assert.equal(
    text,
    'port: 4222\nwrite_deadline: "2s"\naccounts: {\n  A: {\n    users: [\n      {\n        nkey: "UABC"\n      }\n    ]\n  }\n}\n',
  );
  assert.match(toConf({ "$weird key": "x" }), /^"\$weird key": "x"/);
});
