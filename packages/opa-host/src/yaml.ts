// yaml.is_valid, yaml.unmarshal and yaml.marshal, closer to OPA's (Go's
// YAML library) than the SDK's versions: a multi-document string is valid
// when every document is and unmarshals to its first document, a non-string
// is not valid YAML (false, not undefined), and marshal sorts keys and quotes
// strings a YAML 1.1 reader would take for another type ("yes", "012").
// Known differences: Go single-quotes a string that needs quoting for its
// syntax (`'a: b'`) where this double-quotes it, and reads "012" as octal.
import { parseAllDocuments, stringify } from "yaml";
import { BuiltinError, stringOperand, type RegoBuiltin } from "./operands.ts";
import { toJson } from "./json.ts";
import { fromJson } from "./rego-value.ts";

function documents(s: string): ReturnType<typeof parseAllDocuments> {
  const docs = parseAllDocuments(s);
  return Array.isArray(docs) ? docs : [];
}

export const YAML_BUILTINS: Readonly<Record<string, RegoBuiltin>> = {
  "yaml.is_valid": (x) => typeof x === "string" && documents(x).every((d) => d.errors.length === 0),
  "yaml.unmarshal": (x) => {
    const docs = documents(stringOperand("yaml.unmarshal", x, 1));
    const bad = docs.find((d) => d.errors.length > 0);
    if (bad) throw new BuiltinError("yaml.unmarshal", bad.errors[0]?.message.split("\n")[0] ?? "invalid YAML");
    return fromJson(docs[0]?.toJS() ?? null);
  },
  "yaml.marshal": (x) => stringify(toJson(x), { sortMapEntries: true, compat: "yaml-1.1" }),
};
