// hex.encode/decode and base64url.encode_no_pad over a string's UTF-8 bytes,
// as OPA's topdown/encoding.go answers them; decoded bytes that are not UTF-8
// read as U+FFFD, as OPA's JSON output shows them.
import { BuiltinError, stringOperand, type RegoBuiltin } from "./operands.ts";
import { isPrint } from "./rego-value.ts";

const isHexDigit = (b: number): boolean => (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66);

/** Go's %#U of a byte taken as a rune: U+0067 'g', or U+0007 when not printable. */
function goRuneVerbose(b: number): string {
  const code = `U+${b.toString(16).toUpperCase().padStart(4, "0")}`;
  return isPrint(b) ? `${code} '${String.fromCodePoint(b)}'` : code;
}

export const ENCODING_BUILTINS: Readonly<Record<string, RegoBuiltin>> = {
  "hex.encode": (x) => Buffer.from(stringOperand("hex.encode", x, 1), "utf8").toString("hex"),
  "hex.decode": (x) => {
    const s = stringOperand("hex.decode", x, 1);
    const bytes = Buffer.from(s, "utf8");
    // Go's hex.DecodeString: the first byte that is not a hex digit, else an odd length.
    const bad = bytes.find((b) => !isHexDigit(b));
    if (bad !== undefined) throw new BuiltinError("hex.decode", `encoding/hex: invalid byte: ${goRuneVerbose(bad)}`);
    if (bytes.length % 2 === 1) throw new BuiltinError("hex.decode", "encoding/hex: odd length hex string");
    return new TextDecoder().decode(Buffer.from(s, "hex"));
  },
  "base64url.encode_no_pad": (x) => Buffer.from(stringOperand("base64url.encode_no_pad", x, 1), "utf8").toString("base64url"),
};
