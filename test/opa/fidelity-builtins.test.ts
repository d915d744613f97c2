// Every host builtin and sprintf verb agentgate implements, answered by the
// gateway's evaluator (wasm built by the real opa) and by `opa eval` on the
// same Rego: the answers must be identical, undefined included.
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readBundle } from "../../src/policy/bundle.ts";
import { encodeInput } from "../../src/policy/engine.ts";
import { WasmPolicy } from "../../src/policy/wasm-policy.ts";
import { runOpa } from "../../src/cli/opa.ts";

const SET = `{"b", "a", 1, [2, "x"], {"k": set()}}`;
const OBJ = `{"zeta": {3, 1, 2}, "alpha": [1.50, null, true], 7: "seven", "ü": "\\u0001"}`;

const CASES: string[] = [
  // sprintf: every verb over every kind of argument OPA hands fmt
  `sprintf("%v|%s|%d|%q|%x|%X|%f|%g|%e|%t|%%", ["a", "b", 3, "q\\"", "hi", "hi", 1.5, 2.25, 1234.5678, true])`,
  `sprintf("%v", [${SET}])`,
  `sprintf("%v", [${OBJ}])`,
  `sprintf("%s and %v", [[1, "two", 3.0, null, false, set()], {}])`,
  `sprintf("%d %d %v", [12345678901234567890, -9223372036854775808, 123456789012345678901234567890])`,
  `sprintf("%x %X %o %O %b %c %q %U %#U", [255, 255, 8, 8, 5, 9731, 9731, 9731, 9731])`,
  `sprintf("%5d|%-5d|%05d|%+d|% d|%.3d|%8.3d|%#x|%#o|%#b", [42, 42, -42, 42, 42, 7, 7, 255, 8, 5])`,
  `sprintf("%f %.2f %8.3f %-8.2f| %+.1f %08.3f % f", [3.14159, 2.675, 1.0005, 0.125, 2.5, -3.5, 1.0])`,
  `sprintf("%.0f %.0f %.0f %.1f %.1f", [0.5, 1.5, 2.5, 0.25, 0.35])`,
  `sprintf("%e %E %.2e %g %G %.3g %g %g %g", [1234.5678, 0.000123, 9.999, 0.00001234, 1e21, 1234567.0, 100000.0, 1000000.0, 1e-5])`,
  `sprintf("%v %v %v %v %v %v", [1e20, 1e21, 1234567.0, 0.5, 1.0, -0.0])`,
  `sprintf("%#g %#.3g %#v %#e", [1.0, 2.0, 3.0, 4.0])`,
  `sprintf("%s %10s|%-10s|%.2s|%q|%+q|%#q|%x|% x|%#x|% #X", ["é", "right", "left", "truncate", "tab\\there", "ünï", "back", "hé", "hé", "hé", "hé"])`,
  `sprintf("%t %d %s %x %f", [true, "str", 5, 1.5, "x"])`,
  `sprintf("%d %d", [1])`,
  `sprintf("%d", [1, 2, "three"])`,
  `sprintf("%[2]d %[1]s %[3]d %[1]q", ["a", 2])`,
  `sprintf("%*d|%-*d|%.*f|%*s", [5, 42, 4, 7, 2, 3.14159, "x", "y"])`,
  `sprintf("%!|%z|%", [1])`,
  `sprintf("%T %T %T %T %T", [1, 1.5, "s", [1], 99999999999999999999])`,
  `sprintf("%v %s %q", ["😀\\u00ff\\u200b", "\\ufffd", "\\u007f\\u0000\\u2028"])`,
  `sprintf("%d%%", [50])`,
  `sprintf("%x %X %.2x %x %x %x", [1.5, -0.1, 3.14159, 0.0, 1e300, 5e-324])`,
  `sprintf("%v", [{"tools": {"write", "delete"}, "limits": {"tokens": 500000}}])`,
  `sprintf("%#o|%#.3o|%#o|%#x|%#X", [0, 8, 8, 0, 0])`,
  // units
  `[units.parse("1m"), units.parse("100m"), units.parse("1.5"), units.parse("10K"), units.parse("1Ki"), units.parse("2.5Gi"), units.parse("1e3k"), units.parse("3M"), units.parse("0.0001m")]`,
  `[units.parse_bytes("1.1kb"), units.parse_bytes("1KiB"), units.parse_bytes("5Gi"), units.parse_bytes("\\"10MB\\""), units.parse_bytes("1e3"), units.parse_bytes("0.5mi"), units.parse_bytes("123456789012345678901234567890")]`,
  `units.parse("1 m")`,
  `units.parse_bytes("12 mb")`,
  `units.parse("1Qi")`,
  `units.parse_bytes("kb")`,
  // the last of ten decimals rounded half away from zero; the milli unit as the float64 nearest 0.001 (visible in the number's text)
  `[units.parse("0.00000000005"), units.parse("-0.00000000005"), units.parse("0.000000000049"), json.marshal(units.parse("1000m")), json.marshal(units.parse("3m")), json.marshal(units.parse("2"))]`,
  // json.is_valid: the SDK's, loaded on its first call
  `[json.is_valid("{\\"a\\": [1, 2.5, null]}"), json.is_valid("{a"), json.is_valid("[1, 2"), json.is_valid("1e3"), json.is_valid("")]`,
  // semver
  `[semver.is_valid("1.2.3"), semver.is_valid("v1.2.3-rc.1+build.5"), semver.is_valid("01.2.3"), semver.is_valid("1.2"), semver.is_valid(1), semver.is_valid("1.2.3-01")]`,
  `[semver.compare("1.2.3", "1.2.4"), semver.compare("1.0.0-alpha", "1.0.0"), semver.compare("1.0.0-alpha.1", "1.0.0-alpha.beta"), semver.compare("2.0.0+a", "2.0.0+b"), semver.compare("1.0.0-2", "1.0.0-10")]`,
  `semver.compare("1.2", "1.2.3")`,
  // durations
  `[time.parse_duration_ns("15m"), time.parse_duration_ns("1h30m"), time.parse_duration_ns("1.5h"), time.parse_duration_ns("300ms"), time.parse_duration_ns("-2m"), time.parse_duration_ns("1µs")]`,
  `time.parse_duration_ns("15")`,
  `[time.parse_duration_ns("1d"), time.parse_duration_ns("2w"), time.parse_duration_ns("1y"), time.parse_duration_ns("1.5d"), time.parse_duration_ns("1d12h30m"), time.parse_duration_ns("-1d"), time.parse_duration_ns("+.5w")]`,
  `time.parse_duration_ns("1..5d")`,
  // time
  `[time.date(1517814000000000000), time.clock([1517814000000000000, "America/New_York"]), time.weekday(0), time.weekday([1709164800000000000, "Asia/Kolkata"]), time.add_date(0, 1, 13, 31), time.add_date(1709164800000000000, 1, 0, 0), time.parse_rfc3339_ns("2017-06-02T19:00:00.5-07:00"), time.date([-1, "UTC"])]`,
  `time.date([1, "Mars/Olympus"])`,
  `time.parse_rfc3339_ns("2017-02-30T00:00:00Z")`,
  `[time.parse_rfc3339_ns("2000-02-29T00:00:00Z"), time.parse_rfc3339_ns("2024-02-29T12:00:00Z")]`,
  `time.parse_rfc3339_ns("1900-02-29T00:00:00Z")`,
  `time.parse_rfc3339_ns("2023-02-29T00:00:00Z")`,
  // time.format (Go layouts) and time.diff
  `[time.format(1707123456789012345), time.format([1707123456789012345, "America/New_York"]), time.format([1707123456789012345, "Asia/Kolkata", "2006-01-02 15:04:05.000 -07:00 Z07:00 Monday January _2 __2 002 3:4:5 PM pm .999 ,000000"]), time.format([0, "UTC", "RFC1123"]), time.format([-1, "UTC", "RFC3339Nano"]), time.format([1707123456000000000, "Europe/Paris", "RFC3339"])]`,
  `[time.format([1707123456000000000, "UTC", "Jan Janx January Mon Monx Monday 06 _2006 2006 1 01 2 02 _2 15 03 3 04 4 05 5 MST"]), time.format([1700000000000000000, "America/St_Johns", "-0700 -07:00 -07 -070000 -07:00:00 Z07 Z0700"]), time.format([1700000000000000000, "UTC", ".0 .00 .999999999 .9999999999 ,999 .000x .0005 Z07:00"]), time.format([1700000000100000000, "UTC", ".9 .99 .000"]), time.format([-9223372036854775808, "UTC", "RFC3339Nano"]), time.format([1700000000000000000, "Local", "ANSIC"]), time.format([1700000000000000000, "UTC", "UnixDate"])]`,
  // a timestamp past int64 is an error: on its own, so it does not leave the list above undefined
  `time.format([-62135596800000000000 + 1, "UTC", "RFC3339Nano"])`,
  `time.format([1, "america/new_york"])`,
  `time.format([1.5, "UTC"])`,
  `[time.diff(1707123456000000000, 1600000000000000000), time.diff([1707123456000000000, "Asia/Tokyo"], [1709164800000000000, "America/New_York"]), time.diff(0, 0), time.diff(1709164800000000000, 1706745600000000000), time.diff([951782400000000000, "UTC"], 983404800000000000), time.diff(1709251199000000000, 1709164800000000000)]`,
  // json.marshal (compiled into the wasm, redirected to the host) and json.marshal_with_options
  `[json.marshal({"b": 1, "a": [2.50, {"z": 1, "y": {"q", "p", 3}}], "c": "<&>"}), json.marshal(${SET}), json.marshal(12345678901234567890), json.marshal(1e3), json.marshal("é\u2028")]`,
  `json.marshal({1: "number key", [1, {"b": 2, "a": "<"}]: "array key", null: 0, {"s"}: 1})`,
  `[json.marshal_with_options({"b": [1, {"z", "a"}], "a": "<&>\u2028", "c": {}}, {"pretty": true}), json.marshal_with_options({"b": 1, "a": [2.50]}, {"indent": "  ", "prefix": "> "}), json.marshal_with_options([], {}), json.marshal_with_options({"k": 1e3}, {"pretty": false, "indent": "x"})]`,
  `json.marshal_with_options({"a": 1}, {"bogus": true})`,
  // object, crypto, encoding, net, numbers, glob
  `[object.subset({"a": {"b": [1, 2, 3]}, "c": 1}, {"a": {"b": [2, 3]}}), object.subset({1, 2, 3}, {2}), object.subset([1, 2, 3], [2, 4]), object.subset([1, 1], {1, 2}), object.subset({"a": {1}}, {"a": {1}})]`,
  `object.subset({"a": 1}, [1])`,
  `[crypto.sha256("ünï"), crypto.md5(""), crypto.sha1("x"), crypto.hmac.sha256("msg", "key"), crypto.hmac.sha512("", ""), crypto.hmac.equal("a", "a"), crypto.hmac.equal("a", "ab"), hex.encode("é"), hex.decode("6869"), base64url.encode_no_pad("??>é")]`,
  `hex.decode("zz")`,
  `[net.cidr_is_valid("10.0.0.0/8"), net.cidr_is_valid("10.0.0.0/33"), net.cidr_is_valid("::1/128"), net.cidr_is_valid("010.0.0.0/8"), net.cidr_is_valid("fe80::1%eth0/64"), net.cidr_is_valid("1.2.3.4"), net.cidr_is_valid("::ffff:1.2.3.4/96")]`,
  `[numbers.range_step(0, 10, 3), numbers.range_step(10, 0, 4), numbers.range_step(5, 5, 1), glob.quote_meta("*.{a,b}[x]?")]`,
  `numbers.range_step(0, 10, 0)`,
  // yaml
  `[yaml.is_valid("a: 1\\n---\\nb: 2\\n"), yaml.is_valid("a: 1\\n---\\n\\tb: 2\\n"), yaml.is_valid("  test:\\ntest1: hello\\n"), yaml.unmarshal("a: 1\\n---\\nb: 2\\n"), yaml.unmarshal("a: yes\\nc: 0x10\\nd: 1e3\\nf: ~\\ng: 1.0\\nh: [1, 2]\\nu: ünï\\n")]`,
  `yaml.marshal({"b": [1, {"x": "yes", "y": "on", "z": "012", "n": "null", "t": "~", "u": "ünï"}], "a": "multi\\nline", "c": "1.0", "d": 1.5, "e": null, "f": {"q", "p"}, "g": ""})`,
  `yaml.unmarshal("a: [")`,
  `[x | x := yaml.is_valid(input.n)]`,
  // strings the wasm leaves to the host
  `[strings.any_prefix_match("kubectl-get", ["kubectl", "helm"]), strings.any_prefix_match({"a", "b"}, "b"), strings.any_suffix_match(["x.yaml", "y.json"], {".json"}), strings.any_suffix_match("a", [])]`,
  `[strings.count("cheese", "e"), strings.count("five", ""), strings.count("ééé", "é"), indexof_n("sheep", "e"), indexof_n("ééaé", "é")]`,
  `[strings.split_n("a,b,c,d", ",", 2), strings.split_n("a,b,c,d", ",", -2), strings.split_n("a,b", ",", 0), strings.split_n("abc", "", 2)]`,
  `indexof_n("abc", "")`,
  // urlquery (Go's net/url)
  `[urlquery.encode("a b&c=d/é~_-.*+%😀"), urlquery.encode(""), urlquery.decode("a+b%20c%2F%C3%A9%7e"), urlquery.decode("%ff%fe"), urlquery.decode_object("a=1&b=2&a=3&c&=x&d=%41&&e=a=b"), urlquery.encode_object({"b": ["x y", "z"], "a": "1&2", "s": {"q", "p"}, "e": [], "é": "ü", "😀": "x"})]`,
  `urlquery.decode("%zz")`,
  `urlquery.decode("abc%4")`,
  `urlquery.decode_object("a=1;b=2")`,
  `urlquery.decode_object("a=%zz&b=1")`,
  `urlquery.encode_object(json.unmarshal("{\\"a\\": [1]}"))`,
  `urlquery.encode_object(json.unmarshal("[1]"))`,
  // uri.parse / uri.is_valid (Go's url.Parse)
  `[uri.parse("HTTPS://user:p%40ss@Example.COM:8443/a%2Fb/c d?x=1&y=%zz#frag%20ment"), uri.parse("http://[fe80::1%25eth0]:80/p"), uri.parse("mailto:a@b.c#x"), uri.parse("/just/path?q"), uri.parse("//host/x"), uri.parse("*"), uri.parse(""), uri.parse("http://héllo.example/ü?ä#ö"), uri.parse("http://x/a%2fb"), uri.parse("ftp://h:21"), uri.parse("http://h:"), uri.parse("x?"), uri.parse("svc:a:b:c"), uri.parse("svc://a:b:80/"), uri.parse("http://u@h@x/"), uri.parse("http://h/#a\u0001")]`,
  `[s | some s in ["http://a b/", "http://[::1", "http://h:8x/", "1http:x", ":x", "http://a:b:80/", "http://[1.2.3.4]/", "http://%41/", "http://h/%zz", "http://h/#%zz", "a\u0001b", "http://u:%zz@h/", "http://[::1%25]/", "http://a[b]/", "http://ü ser@h/"]; not uri.parse(s)]`,
  `[uri.is_valid(""), uri.is_valid("http://x"), uri.is_valid("http://a b"), uri.is_valid(":x"), uri.is_valid("http://[::1]:80"), uri.is_valid(json.unmarshal("1")), uri.is_valid("rel/path"), uri.is_valid("a:b/c:d")]`,
  // net.cidr_* (Go's net: 4- and 16-byte addresses)
  `net.cidr_contains_matches(["10.0.0.0/8", ["192.168.0.0/16", "x"]], {"a": "10.1.2.3", "b": ["192.168.1.0/24"], "c": "11.0.0.1"})`,
  `net.cidr_contains_matches("2001:db8::/32", {"2001:db8::1", "2001:db9::/48", "2001:db8:ffff::/48", "::ffff:10.0.0.1"})`,
  `net.cidr_contains_matches({"::ffff:10.0.0.0/104", "10.0.0.0/8"}, ["10.1.1.1", "::ffff:10.2.2.2", "10.0.0.0/9", "10.0.0.0/7"])`,
  `net.cidr_contains_matches("bad", "10.0.0.1")`,
  `net.cidr_contains_matches("10.0.0.0/8", "bad")`,
  `[net.cidr_expand("192.168.1.254/31"), net.cidr_expand("10.0.0.0/30"), net.cidr_expand("2001:db8::/126"), net.cidr_expand("::ffff:1.2.3.4/127"), net.cidr_expand("1.2.3.4/32"), count(net.cidr_expand("10.0.0.0/16"))]`,
  `[net.cidr_merge(["192.0.128.0/24", "192.0.129.0/24"]), net.cidr_merge({"10.0.0.0/9", "10.128.0.0/9", "1.2.3.4", "1.2.3.5/32", "2001:db8::/33", "2001:db8:8000::/33"}), net.cidr_merge(["10.0.0.1/32", "10.0.0.2/32", "10.0.0.3/32", "10.0.0.6/31"]), net.cidr_merge(["0.0.0.0/0", "10.0.0.0/8"]), net.cidr_merge(["::/0", "::1/128"]), net.cidr_merge(["::ffff:10.0.0.0/120", "10.0.1.0/24"]), net.cidr_merge([]), net.cidr_merge(["192.168.0.7", "172.16.3.3", "9.9.9.9"]), net.cidr_merge(["255.255.255.254/31", "255.255.255.253/32"]), net.cidr_merge(["ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127", "::/128", "::1/128"])]`,
  `net.cidr_merge(["::1"])`,
  `[net.cidr_is_valid("10.0.0.0/0000008"), net.cidr_is_valid("::ffff:1.2.3.4/96"), net.cidr_is_valid("1::2::3/64"), net.cidr_is_valid("1:2:3:4:5:6:7:8:9/64"), net.cidr_is_valid("::1.2.3.4/128"), net.cidr_is_valid("1.2.3.4.5/8"), net.cidr_is_valid("1:2:3:4:5:6:1.2.3.4/96"), net.cidr_is_valid("1:2:3:4:5:6:7:1.2.3.4/96"), net.cidr_is_valid("12345::/16"), net.cidr_is_valid("10.0.0.0/")]`,
  // regex (Go's regexp, on re2js): replace's $ expansion, FindAll's empty matches, Split's edges
  `[regex.replace("foo", "(foo)", "$1$1"), regex.replace("foo", "(foo)", "$1a"), regex.replace("foo", "(foo)", "\${1}a"), regex.replace("foo", "(f)(o)", "$2$1$0$$|$|\${|\${1|\${}|$-1|$01|$3"), regex.replace("abc", "(?P<mid>b)", "[$mid|\${mid}|$midx|\${midx}]"), regex.replace("ab", "(?P<n>a)|(?P<n>b)", "<$n>"), regex.replace("abc", "(b)", "$123456789$1234567890$١")]`,
  `[regex.replace("abc", "", "-"), regex.replace("baaab", "a*", "-"), regex.replace("héllo wörld", "\\\\b", "|"), regex.replace("a😀b", "", "."), regex.replace("a\\nb", "(?m)^", "> "), regex.replace("a\\nb", "$", "!"), regex.replace("foo", "^[a-z]", "F"), regex.replace("XxX", "(?i)x", "y"), regex.replace("same", "zzz", "$1")]`,
  `regex.replace("foo", "[", "$1")`,
  `regex.replace("foo", "(?<n>o)+", "<$n>")`,
  `[regex.find_n("a.", "paranormal", -1), regex.find_n("a.", "paranormal", 2), regex.find_n("a.", "paranormal", 0), regex.find_n("a.", "paranormal", -2), regex.find_n("a*", "baaab", -1), regex.find_n("a|", "bab", -1), regex.find_n("", "héllo", -1), regex.find_n("x*", "😀😀", -1), regex.find_n("^a.", "abacadaeaf", -1), regex.find_n(".$", "abacadaeaf", -1), regex.find_n("(?m)^.", "ab\\ncd", -1)]`,
  `[regex.find_n("(?i)straße", "STRASSE strasse Straße", -1), regex.find_n("(?i)k", "kK\\u212a", -1), regex.find_n("\\\\w+", "héllo wörld", -1), regex.find_n("\\\\pL+", "héllo wörld", -1), regex.find_n("\\\\p{letter}+", "héllo 42", -1), regex.find_n("[\\\\p{Greek}\\\\d]+", "αβ1 x", -1), regex.find_n("a+?", "aaa", -1), regex.find_n("(?U)a+", "aaa", -1)]`,
  `regex.find_n("(", "x", 1)`,
  `regex.find_n("a", "aaa", 1.5)`,
  `[regex.split("a", "banana"), regex.split("z+", "pizza"), regex.split("", "abc"), regex.split("", ""), regex.split("x*", "ab"), regex.split("b$", "ab"), regex.split("^[a-z ]+$", "foobar baz"), regex.split("^x", ""), regex.split("", "😀é"), regex.split(",", "a,b,,c,"), regex.split("(?i)X", "axbXc"), regex.split("\\\\s*", "a b")]`,
  `regex.split("[", "x")`,
  `[regex.template_match("urn:foo:{.*}", "urn:foo:bar:baz", "{", "}"), regex.template_match("urn:foo:<[0-9]{2}>", "urn:foo:12", "<", ">"), regex.template_match("urn:foo:<[0-9]{2}>", "urn:foo:123", "<", ">"), regex.template_match("a.b{x}", "aXbx", "{", "}"), regex.template_match("a.b{x}", "a.bx", "{", "}"), regex.template_match("plain", "plain", "{", "}"), regex.template_match("{a|b}c", "bc", "{", "}"), regex.template_match("{a}{{b}}", "ab", "{", "}"), regex.template_match("é{.}é", "éxé", "{", "}")]`,
  `regex.template_match("{(}{)}", "", "{", "}")`,
  `regex.template_match("{a", "a", "{", "}")`,
  `regex.template_match("a}", "a", "{", "}")`,
  `regex.template_match("|a|", "a", "|", "|")`,
  `regex.template_match("a", "a", "é", "}")`,
  `regex.template_match("a", "a", "{", "}}")`,
  `[regex.globs_match("a.a.[0-9]+z", ".b.b2359825792*594823z"), regex.globs_match("[a-z]+", "[0-9]*"), regex.globs_match("", ""), regex.globs_match("a*", "b+"), regex.globs_match("abc*", "ab+c"), regex.globs_match("[a-c]x", "[^c]x"), regex.globs_match("a\\\\*b", "a.b"), regex.globs_match("a.+", "a"), regex.globs_match("[]", ".")]`,
  `regex.globs_match("pqrs]", "[a-b]+")`,
  `regex.globs_match("*a", "a")`,
  `regex.globs_match("[c-a]", "a")`,
  `[trace("note"), trace("")]`,
  `trace(json.unmarshal("1"))`,
  // regex.match, regex.is_valid, regex.find_all_string_submatch_n: compiled (C++ RE2), redirected to Go's regexp
  `[regex.match("(?<name>x)", "x"), regex.match("\\\\pL{1000}", "x"), regex.match("^\\\\p{letter}+$", "héllo"), regex.match("(?i)^\\\\p{ASCII}$", "\\u212a"), regex.match("^\\\\P{Assigned}$", "\\u0378"), regex.match("", ""), regex.match("^$", "x"), regex.match("(?i)ǅ", "ǆ"), regex.match("^.$", "😀"), regex.match("^\\\\x{1F600}$", "😀"), regex.match("\\\\bé", "é"), regex.match("a$", "a\\n")]`,
  `regex.match("\\\\C", "a")`,
  `regex.match("\\\\p{Old_Italic}", "a")`,
  `regex.match("$^[[[", "x")`,
  `[regex.is_valid("\\\\C"), regex.is_valid("(?<name>x)"), regex.is_valid("(?P<n>a)(?P<n>b)"), regex.is_valid("\\\\p{Kawi}"), regex.is_valid("\\\\p{Garay}"), regex.is_valid("\\\\p{greek}"), regex.is_valid("\\\\p{Nag_Mundari}"), regex.is_valid("\\\\pl"), regex.is_valid("a{1001}"), regex.is_valid("x**"), regex.is_valid(json.unmarshal("10")), regex.is_valid("++"), regex.is_valid(".+")]`,
  `[regex.find_all_string_submatch_n("a", "aaa", -2), regex.find_all_string_submatch_n("a(x*)b", "-ab-axb-", -1), regex.find_all_string_submatch_n("(a)|b", "ab", -1), regex.find_all_string_submatch_n("x", "y", 0), regex.find_all_string_submatch_n("(?P<y>\\\\d{4})-(\\\\d\\\\d)?", "1999- 2024-01", 1), regex.find_all_string_submatch_n("(é)|(😀)", "😀é", -1)]`,
  `regex.find_all_string_submatch_n("(", "y", -1)`,
  // compiled into the wasm, redirected to the host (wasm-rewrite.ts): template strings, concat, walk
  `$"obj={ {"b": 1, "a": {"y": 2, "x": 3}, "c": {3, 1}} } set={ {"zeta", "alpha", "mid", "beta"} } arr={[{"z": 1, "a": 2}, "s", 1.50]} n={1.5 * 2} u={input.nope} s={"str"} t={true} z={null} e={set()} q={"é\u0001"}"`,
  `[concat(", ", {"zeta", "alpha", "mid", "beta"}), concat("", set()), concat("-", {"only"}), concat("/", ["z", "a"]), concat(", ", {"b", "ä", "A", "é", "a"})]`,
  `concat(", ", {x | some x in [1, "a"]})`,
  `[p | walk({"b": {"d": 1, "c": [2, {"z", "a"}]}, "a": 0, {"k"}: 1}, p)]`,
  // an entrypoint's value: sets come back sorted, as opa eval prints them
  `{"set": {"z", "a", {"q", "b"}}, "obj": {{"y": 1, "x": 2}}, "keys": object.keys({"q": 1, "b": 2, "z": 3, "c": 4})}`,
];

// "Local" must mean this process's zone, as it means opa's: a zone other
// than UTC (and off the hour) makes that visible. opa inherits it.
process.env.TZ = "Asia/Kolkata";

let policy: WasmPolicy;
let want: Record<string, unknown>;

before(async () => {
  const dir = await mkdtemp(join(tmpdir(), "agentgate-fidelity-"));
  const module = `package t\n\n${CASES.map((expr, i) => `r${i} := ${expr}`).join("\n")}\n`;
  await writeFile(join(dir, "t.rego"), module);
  const bundlePath = join(dir, "t.tar.gz");
  await runOpa(["build", "-t", "wasm", "-e", "t", "-o", bundlePath, join(dir, "t.rego")]);
  const bundle = await readBundle(bundlePath);
  policy = await WasmPolicy.load(bundle, {});
  const { stdout } = await runOpa(["eval", "-f", "json", "-d", join(dir, "t.rego"), "data.t"]);
  const parsed = JSON.parse(stdout) as { result: [{ expressions: [{ value: Record<string, unknown> }] }] };
  want = parsed.result[0].expressions[0].value;
});

test("time.format of a zone abbreviation (MST) outside UTC fails the evaluation rather than print another name", async () => {
  const dir = await mkdtemp(join(tmpdir(), "agentgate-fidelity-tz-"));
  await writeFile(join(dir, "t.rego"), `package t\n\nr := time.format([1707123456000000000, "Europe/Paris", "15:04 MST"])\n`);
  const bundlePath = join(dir, "t.tar.gz");
  await runOpa(["build", "-t", "wasm", "-e", "t/r", "-o", bundlePath, join(dir, "t.rego")]);
  const { stdout } = await runOpa(["eval", "-f", "json", "-d", join(dir, "t.rego"), "data.t.r"]);
  assert.match(stdout, /"09:57 CET"/);
  const tz = await WasmPolicy.load(await readBundle(bundlePath), {});
  assert.throws(() => tz.evaluate("t/r", encodeInput(null)), /time\.format: the abbreviation \(MST\) of time zone Europe\/Paris is not available in agentgate/);
});

test("every list case is defined in opa's answer: one erroring element would leave the whole list undefined and compare nothing", () => {
  const hidden = CASES.flatMap((expr, i) => (expr.startsWith("[") && want[`r${i}`] === undefined ? [`r${i}: ${expr.slice(0, 60)}`] : []));
  assert.deepEqual(hidden, []);
});

CASES.forEach((expr, i) => {
  test(`r${i} answers as opa eval: ${expr.length > 90 ? `${expr.slice(0, 90)}…` : expr}`, () => {
    const got = policy.evaluate("t", encodeInput(null)) as Record<string, unknown>;
    assert.deepEqual(got[`r${i}`], want[`r${i}`]);
  });
});
