// hex.encode/decode and base64url.encode_no_pad over a string's UTF-8 bytes,
// as OPA's topdown/encoding.go answers them; decoded bytes that are not UTF-8
// read as U+FFFD, as OPA's JSON output shows them.
import { BuiltinError, stringOperand, type RegoBuiltin } from "./operands.ts";

export const ENCODING_BUILTINS: Readonly<Record<string, RegoBuiltin>> = {
  "hex.encode": (x) => Buffer.from(stringOperand("hex.encode", x, 1), "utf8").toString("hex"),
  "hex.decode": (x) => {
    const s = stringOperand("hex.decode", x, 1);
    if (!/^(?:[0-9a-fA-F]{2})*$/.test(s)) throw new BuiltinError("hex.decode", `invalid hex string ${JSON.stringify(s)}`);
    return new TextDecoder().decode(Buffer.from(s, "hex"));
  },
  "base64url.encode_no_pad": (x) => Buffer.from(stringOperand("base64url.encode_no_pad", x, 1), "utf8").toString("base64url"),
};
