// bundleFromFiles on the files of a hostile or broken archive: what
// fuzz/bundle-archive.fuzz.ts found it doing with them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { BundleError, bundleFromFiles } from "./bundle.ts";

const wasm = Buffer.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
const files = (entries: Record<string, string | Buffer>): Map<string, Buffer> => new Map(Object.entries(entries).map(([k, v]) => [k, Buffer.from(v)]));

test("a data path or key named __proto__ is data, and no prototype is touched", () => {
  const bundle = bundleFromFiles(
    "hostile",
    "hostile.tar.gz",
    files({
      "policy.wasm": wasm,
      "data.json": '{"__proto__": {"inherited": true}, "agentgate": {"config": {}}}',
      "__proto__/polluted/data.json": '{"yes": 1}',
      "constructor/prototype/data.json": '{"polluted": 2}',
      "agentgate/__proto__/data.json": '{"polluted": 3}',
    }),
  );
  const probe: Record<string, unknown> = {};
  assert.equal(probe.polluted, undefined, "Object.prototype.polluted");
  assert.equal(probe.inherited, undefined, "Object.prototype.inherited");
  assert.equal(Object.getPrototypeOf(bundle.data), Object.prototype);
  // the keys are the data's own, as JSON.parse and OPA keep them
  assert.deepEqual(Object.getOwnPropertyDescriptor(bundle.data, "__proto__")?.value, { inherited: true, polluted: { yes: 1 } });
  assert.deepEqual(JSON.parse(JSON.stringify(bundle.data)), {
    ["__proto__"]: { inherited: true, polluted: { yes: 1 } },
    agentgate: { config: {}, ["__proto__"]: { polluted: 3 } },
    constructor: { prototype: { polluted: 2 } },
  });
  assert.equal(({} as Record<string, unknown>).yes, undefined);
});

test('a .manifest whose "wasm" is not a list of modules is a BundleError, not a TypeError', () => {
  for (const wasmField of ['"x"', "[{}]", '[{"module": null}]', '[{"module": 7}]', "[1]", '{"module": "/policy.wasm"}', '[{"module": "/policy.wasm"}, "x"]']) {
    assert.throws(
      () => bundleFromFiles("b", "b.tar.gz", files({ ".manifest": `{"wasm": ${wasmField}}`, "policy.wasm": wasm })),
      (err: unknown) => err instanceof BundleError && /\.manifest "wasm" must be a list/.test(err.message),
      wasmField,
    );
  }
  const bundle = bundleFromFiles("b", "b.tar.gz", files({ ".manifest": '{"revision": "3", "wasm": [{"entrypoint": "a/b", "module": "/other.wasm"}]}', "other.wasm": wasm }));
  assert.equal(bundle.revision, "3");
  assert.deepEqual(bundle.wasm, wasm);
  assert.equal(bundleFromFiles("b", "b.tar.gz", files({ ".manifest": '{"wasm": []}', "policy.wasm": wasm })).wasm.length, wasm.length);
});
