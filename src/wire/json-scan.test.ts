import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { scanJson } from "./json-scan.ts";

const scan = (text: string) => scanJson(Buffer.from(text));

const counts: { name: string; json: string; values: number; depth: number }[] = [
  { name: "an empty object", json: "{}", values: 1, depth: 1 },
  { name: "an empty array", json: "[]", values: 1, depth: 1 },
  { name: "a bare string", json: '"a"', values: 1, depth: 0 },
  { name: "a bare number", json: "-1.5e+3", values: 1, depth: 0 },
  { name: "every kind of value, keys not counted", json: '{"a":1,"b":[true,false,null,"x",{}]}', values: 8, depth: 3 },
  { name: "brackets and braces inside strings", json: '{"a":"]]}}[[{{","b":"\\"]"}', values: 3, depth: 1 },
  { name: "a string ending in an escaped backslash", json: '["\\\\",[]]', values: 3, depth: 2 },
  { name: "an escaped quote after escaped backslashes", json: '["\\\\\\"[",1]', values: 3, depth: 1 },
  { name: "whitespace everywhere", json: ' { "a" : [ 1 , 2 ] ,\n\t"b" : { } } ', values: 5, depth: 2 },
  { name: "unicode and \\u escapes", json: '{"ключ":"значение \\u0022 \\ud83d\\ude00"}', values: 2, depth: 1 },
  { name: "a million-style run of empty arrays", json: `[${"[],".repeat(999)}[]]`, values: 1001, depth: 2 },
  { name: "deep nesting", json: `${"[".repeat(500)}${"]".repeat(500)}`, values: 500, depth: 500 },
];

for (const c of counts) {
  test(`counts ${c.name}`, () => {
    const result = scan(c.json);
    assert.equal(result.malformed, undefined, result.malformed);
    assert.deepEqual({ values: result.values, depth: result.depth }, { values: c.values, depth: c.depth });
  });
}

/** The figures by walking what JSON.parse made: the definition the scan must agree with. */
function reference(value: unknown, level = 0): { values: number; depth: number } {
  if (Array.isArray(value) || (typeof value === "object" && value !== null)) {
    const children = Array.isArray(value) ? (value as unknown[]) : Object.values(value);
    let values = 1;
    let depth = level + 1;
    for (const child of children) {
      const r = reference(child, level + 1);
      values += r.values;
      depth = Math.max(depth, r.depth);
    }
    return { values, depth };
  }
  return { values: 1, depth: level };
}

// The same documents on every run, from a counter hashed: a test beside the
// code takes no helper from test/ (README "Tests").
function seeded(seed: number): () => number {
  let n = 0;
  return () => createHash("sha256").update(`${String(seed)}:${String(n++)}`).digest().readUInt32BE(0) / 2 ** 32;
}

test("agrees with a walk of JSON.parse's result on 300 generated documents (strings full of quotes, backslashes and brackets)", () => {
  const random = seeded(20261207);
  const alphabet = ['"', "\\", "[", "]", "{", "}", ",", ":", "a", "é", "\n", "\u0000", "😀", " "];
  const str = () => Array.from({ length: Math.floor(random() * 8) }, () => alphabet[Math.floor(random() * alphabet.length)]).join("");
  const gen = (level: number): unknown => {
    const pick = random();
    if (level > 6 || pick < 0.35) return [str(), 1.5, -3, true, false, null][Math.floor(random() * 6)];
    if (pick < 0.7) return Array.from({ length: Math.floor(random() * 5) }, () => gen(level + 1));
    return Object.fromEntries(Array.from({ length: Math.floor(random() * 5) }, () => [str(), gen(level + 1)]));
  };
  for (let i = 0; i < 300; i++) {
    const value = gen(0);
    const text = JSON.stringify(value, null, i % 2 === 0 ? undefined : 1);
    const result = scan(text);
    assert.equal(result.malformed, undefined, `${text}: ${result.malformed ?? ""}`);
    assert.deepEqual({ values: result.values, depth: result.depth }, reference(value), text);
  }
});

const review = {
  apiVersion: "admission.k8s.io/v1",
  kind: "AdmissionReview",
  request: {
    uid: "u-1",
    kind: { group: "kagent.dev", version: "v1alpha2", kind: "Agent" },
    resource: { group: "kagent.dev", version: "v1alpha2", resource: "agents" },
    name: "a",
    namespace: "qe",
    operation: "CREATE",
    userInfo: { username: "alice", groups: ["x"] },
    object: { apiVersion: "evil/v1", kind: "Evil", metadata: { name: "not-this", uid: "not-this" }, request: { uid: "nested" } },
  },
};

test("captures the envelope of an AdmissionReview, and nothing from inside the object", () => {
  assert.deepEqual(scan(JSON.stringify(review)).envelope, {
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    uid: "u-1",
    name: "a",
    namespace: "qe",
    operation: "CREATE",
    username: "alice",
    requestKind: { group: "kagent.dev", version: "v1alpha2", kind: "Agent" },
    resource: { group: "kagent.dev", version: "v1alpha2", resource: "agents" },
  });
});

const envelopes: { name: string; json: string; uid: string | undefined }[] = [
  { name: "escaped key and value, read as JSON.parse reads them", json: '{"request":{"u\\u0069d":"a\\"b"}}', uid: 'a"b' },
  { name: "a duplicate key: the last wins, as in JSON.parse", json: '{"request":{"uid":"first","uid":"last"}}', uid: "last" },
  { name: "a request inside an array", json: '{"x":[{"request":{"uid":"no"}}]}', uid: undefined },
  { name: "request as an array of objects", json: '{"request":[{"uid":"no"}]}', uid: undefined },
  { name: "a uid that is not a string", json: '{"request":{"uid":7}}', uid: undefined },
  { name: "a uid after a nested object with its own uid", json: '{"request":{"object":{"uid":"no"},"uid":"yes"}}', uid: "yes" },
  { name: "a request object, then a request array whose elements follow a closed object", json: '{"request":{"uid":"a"},"request":[{"b":1},"forged"]}', uid: "a" },
  { name: "a top-level uid", json: '{"uid":"no","request":{}}', uid: undefined },
];

for (const c of envelopes) {
  test(`envelope: ${c.name}`, () => {
    assert.equal(scan(c.json).envelope.uid, c.uid);
  });
}

const malformed: { name: string; json: string; reason: RegExp }[] = [
  { name: "an unbalanced close", json: '{"a":1]', reason: /^unbalanced \] at byte 6$/ },
  { name: "an unclosed container", json: '{"a":[1', reason: /a container is not closed/ },
  { name: "an unterminated string", json: '{"a":"x\\"}', reason: /^unterminated string from byte 5$/ },
  { name: "data after the top-level value", json: "{} []", reason: /after the top-level value at byte 3/ },
  { name: "a stray character", json: "[1,#]", reason: /unexpected character "#" at byte 3/ },
];

for (const c of malformed) {
  test(`notices ${c.name}`, () => {
    const result = scan(c.json);
    assert.match(result.malformed ?? "", c.reason);
  });
}
