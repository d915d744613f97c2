// go-regexp.ts and glob-intersection.ts against the Go they follow: the Go
// toolchain that built the opa binary runs Go's regexp (and the
// glob-intersection module OPA's regex.globs_match calls, from the module
// cache the opa build filled) on a few thousand generated cases, and every
// answer, errors included, must be the same. The opa eval table test
// (agentgate's test/opa/fidelity-builtins.test.ts) covers the builtins end
// to end; this covers the corners a table does not reach (empty matches
// next to non-empty ones, $ expansion, Unicode class names, glob edge
// cases).
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { GoRegexp } from "../src/go-regexp.ts";
import { CATEGORY_ALIASES, SCRIPTS } from "../src/go-regexp-syntax.ts";
import { globsIntersect } from "../src/glob-intersection.ts";
import { findOpa, seededRandom } from "./support.ts";

const run = promisify(execFile);
const GO_PATH = `${process.env.PATH ?? ""}:/usr/local/go/bin`;

const HARNESS = `package main

import (
	"encoding/json"
	"os"
	"regexp"
	"sort"
	"unicode"

	gintersect "github.com/yashtewari/glob-intersection"
)

func keys[V any](m map[string]V) []string {
	out := []string{}
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func main() {
	var cases [][]any
	if err := json.NewDecoder(os.Stdin).Decode(&cases); err != nil {
		panic(err)
	}
	out := []any{}
	for _, c := range cases {
		op, a := c[0].(string), c[1:]
		if op == "globs" {
			ok, err := gintersect.NonEmpty(a[0].(string), a[1].(string))
			if err != nil {
				out = append(out, "error: "+err.Error())
			} else {
				out = append(out, ok)
			}
			continue
		}
		re, err := regexp.Compile(a[0].(string))
		if err != nil {
			out = append(out, "error: "+err.Error())
			continue
		}
		switch op {
		case "match":
			out = append(out, re.MatchString(a[1].(string)))
		case "find":
			out = append(out, append([]string{}, re.FindAllString(a[1].(string), int(a[2].(float64)))...))
		case "submatch":
			out = append(out, append([][]string{}, re.FindAllStringSubmatch(a[1].(string), int(a[2].(float64)))...))
		case "replace":
			out = append(out, re.ReplaceAllString(a[1].(string), a[2].(string)))
		case "split":
			out = append(out, re.Split(a[1].(string), -1))
		}
	}
	aliases := map[string]string{}
	for k, v := range unicode.CategoryAliases {
		aliases[k] = v
	}
	json.NewEncoder(os.Stdout).Encode(map[string]any{"version": unicode.Version, "scripts": keys(unicode.Scripts), "aliases": aliases, "results": out})
}
`;

type Case = [op: string, ...args: (string | number)[]];

function generate(n: number): Case[] {
  const r = seededRandom(7);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const atoms = ["a", "b", "é", "😀", ".", "\\b", "\\B", "^", "$", "(?m)^", "(?m)$", "[ab]", "[^a]", "\\w", "\\s", "(a)", "(b*)", "(?P<x>a|b)", "(?<x>b)", "(?:ab)", "(?i)A", "\\pL", "\\p{greek}", "[[:alpha:]]", "\\d", "", "|"];
  const repeats = ["", "", "*", "+", "?", "*?", "+?", "{0,2}", "{2}"];
  const pattern = (): string => Array.from({ length: 1 + Math.floor(r() * 4) }, () => pick(atoms) + pick(repeats)).join("");
  const text = (): string => Array.from({ length: Math.floor(r() * 9) }, () => pick(["a", "b", "é", "😀", " ", "\n", "x", "A", "1", "α"])).join("");
  const templates = ["-", "$1", "${1}a", "$1a", "$x", "${x}", "$$", "$", "$0", "[$0]", "$2$1", "${x}${1}", "$é", "$10", "${"];
  const globAtoms = ["a", "b", "c", ".", "[ab]", "[a-c]", "[^a]", "[]", "\\*", "\\.", "\\[", "]", "[", "-", "é", "😀", "[a-]", "[-a]", "[c-a]", "\\", "[a\\]]", "[a-\\]]"];
  // Half of them over few valid tokens, so that prefixes, suffixes and flagged runs meet.
  const plain = ["a", "b", ".", "[ab]", "[^a]"];
  const glob = (): string => {
    const from = r() < 0.5 ? globAtoms : plain;
    let out = "";
    let atom = pick(from);
    for (let k = Math.floor(r() * 6); k > 0; k--) {
      // The same token twice (a+a*) is what the library simplifies.
      if (r() > 0.3) atom = pick(from);
      out += atom + pick(["", "", "+", "*", from === plain ? "" : "++"]);
    }
    return out;
  };
  const cases: Case[] = [];
  for (let i = 0; i < n; i++) {
    const op = pick(["match", "find", "submatch", "replace", "split", "globs", "globs", "globs"]);
    if (op === "globs") cases.push([op, glob(), glob()]);
    else if (op === "replace") cases.push([op, pattern(), text(), pick(templates)]);
    else if (op === "find" || op === "submatch") cases.push([op, pattern(), text(), pick([-1, -1, -2, 0, 1, 2])]);
    else cases.push([op, pattern(), text()]);
  }
  // Unicode class names and group names as Go 1.26 reads them.
  for (const p of ["\\p{letter}", "\\p{Any}", "\\p{Assigned}", "\\P{Assigned}", "\\p{ASCII}", "(?i)\\P{ascii}", "[^\\P{ascii}x]", "\\p{GREEK}", "\\p{Uppercase_Letter}", "\\p{uppercase letter}", "\\p{Lc}", "\\p{Old_Italic}", "\\p{SignWriting}", "\\p{Kawi}", "\\p{Garay}", "\\p{Unknown}", "\\pl", "\\p{^letter}", "\\P{^_letter_}", "\\p{}", "\\p{Greek", "\\Q\\p{letter}\\E", "\\\\p{letter}", "[[:alpha:]\\pl]", "\\C", "(?P<n>a)|(?P<n>b)", "[(?P<n>a)](?P<n>b)"]) {
    cases.push(["match", p, "aK\u212a\u017fαß1\u0378"], ["find", p, "aK\u212a\u017fαß1\u0378", -1], ["replace", p, "ab", "<$n>"]);
  }
  return cases;
}

function answer(c: Case): unknown {
  const [op, ...a] = c;
  const s = (i: number): string => String(a[i]);
  try {
    if (op === "globs") return globsIntersect(s(0), s(1));
    const re = GoRegexp.compile(s(0));
    if (op === "match") return re.matchString(s(1));
    if (op === "find") return re.findAllString(s(1), Number(a[2]));
    if (op === "submatch") return re.findAllStringSubmatch(s(1), Number(a[2]));
    if (op === "replace") return re.replaceAllString(s(1), s(2));
    return re.split(s(1), -1);
  } catch (err) {
    return `error: ${(err instanceof Error ? err.message : String(err)).replace(/^regex\.globs_match: /, "")}`;
  }
}

// The glob harness's `%` is formatted twice by Go (see glob-intersection.ts): no generated glob has one.
const cases = generate(4000);
let go: { version: string; scripts: string[]; aliases: Record<string, string>; results: unknown[] };

before(async () => {
  const dir = await mkdtemp(join(tmpdir(), "agentgate-goregexp-"));
  await writeFile(join(dir, "main.go"), HARNESS);
  await writeFile(join(dir, "go.mod"), "module harness\n\ngo 1.24\n\nrequire github.com/yashtewari/glob-intersection v0.2.0\n");
  await writeFile(join(dir, "cases.json"), JSON.stringify(cases));
  const env = { ...process.env, PATH: GO_PATH, GOFLAGS: "-mod=mod", GOPROXY: "off", GOSUMDB: "off", GOTOOLCHAIN: "local" };
  await run("go", ["build", "-o", join(dir, "harness"), "."], { cwd: dir, env });
  const child = execFile(join(dir, "harness"), { maxBuffer: 64 * 1024 * 1024 });
  const stdout = new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`Go harness exited ${String(code)}`))));
  });
  child.stdin?.end(JSON.stringify(cases));
  go = JSON.parse(await stdout) as typeof go;
});

test("the Go toolchain here is the one the opa binary was built with", async () => {
  const { stdout: opa } = await run(findOpa(), ["version"]);
  const { stdout: goVersion } = await run("go", ["version"], { env: { ...process.env, PATH: GO_PATH, GOTOOLCHAIN: "local" } });
  const built = /Go Version: (go\S+)/.exec(opa)?.[1];
  assert.ok(built !== undefined && goVersion.includes(`${built} `), `opa was built with ${built ?? "?"}, the go on PATH is ${goVersion.trim()}: the comparison below would be with another regexp`);
});

test("Go's Unicode script names and category aliases are the ones go-regexp-syntax.ts lists", () => {
  assert.equal(go.version, "15.0.0");
  assert.deepEqual([...SCRIPTS].sort(), go.scripts);
  assert.deepEqual(CATEGORY_ALIASES, go.aliases);
});

test(`${String(cases.length)} generated cases answer as Go's regexp and glob-intersection do`, () => {
  const differ = cases.flatMap((c, i) => {
    const got = answer(c);
    return JSON.stringify(got) === JSON.stringify(go.results[i]) ? [] : [`${JSON.stringify(c)}: Go ${JSON.stringify(go.results[i])}, agentgate ${JSON.stringify(got)}`];
  });
  assert.deepEqual(differ, []);
});
