// The pattern text re2js is given for a Go regexp: where Go 1.26's parser
// (the one in the opa that builds and evaluates bundles) and re2js's (Go's
// as it was before 1.25) read a pattern differently, the pattern is
// rewritten here into the re2js pattern that means what Go reads, or
// refused with Go's error:
// - Unicode class names (`\pL`, `\p{Greek}`, `\P{^Lu}`): Go 1.26 looks the
//   name up loosely (case, `_`, `-` and spaces ignored: `\p{letter}`,
//   `\pl`), knows Any, Assigned, ASCII and the Unicode category aliases
//   (`\p{Uppercase_Letter}`), and, by the same loosening, no longer finds a
//   script whose name has an underscore or an inner capital
//   (`\p{Old_Italic}`, `\p{SignWriting}` are errors). re2js takes the exact
//   names of a newer Unicode, in which scripts Go does not have exist
//   (`\p{Garay}`).
// - Group names: Go 1.26 accepts a name twice (`(?P<n>a)|(?P<n>b)`; `$n`
//   is the first of them that took part in the match); re2js refuses it,
//   so a repeated name is renamed here.
// What stays different: re2js's tables are a newer Unicode than Go's
// 15.0.0, so a class or a case fold differs for a character Unicode added
// since (see the README).

/** A pattern Go's regexp.Compile refuses, with Go's message. */
export class RegexpSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RegexpSyntaxError";
  }
}

/** Go 1.26's unicode.Categories keys (Unicode 15.0.0). */
const CATEGORIES: ReadonlySet<string> = new Set("C Cc Cf Cn Co Cs L LC Ll Lm Lo Lt Lu M Mc Me Mn N Nd Nl No P Pc Pd Pe Pf Pi Po Ps S Sc Sk Sm So Z Zl Zp Zs".split(" "));

/** Go 1.26's unicode.Scripts keys (Unicode 15.0.0). */
export const SCRIPTS: ReadonlySet<string> = new Set(
  (
    "Adlam Ahom Anatolian_Hieroglyphs Arabic Armenian Avestan Balinese Bamum Bassa_Vah Batak Bengali Bhaiksuki Bopomofo Brahmi Braille Buginese Buhid " +
    "Canadian_Aboriginal Carian Caucasian_Albanian Chakma Cham Cherokee Chorasmian Common Coptic Cuneiform Cypriot Cypro_Minoan Cyrillic Deseret Devanagari " +
    "Dives_Akuru Dogra Duployan Egyptian_Hieroglyphs Elbasan Elymaic Ethiopic Georgian Glagolitic Gothic Grantha Greek Gujarati Gunjala_Gondi Gurmukhi Han " +
    "Hangul Hanifi_Rohingya Hanunoo Hatran Hebrew Hiragana Imperial_Aramaic Inherited Inscriptional_Pahlavi Inscriptional_Parthian Javanese Kaithi Kannada " +
    "Katakana Kawi Kayah_Li Kharoshthi Khitan_Small_Script Khmer Khojki Khudawadi Lao Latin Lepcha Limbu Linear_A Linear_B Lisu Lycian Lydian Mahajani " +
    "Makasar Malayalam Mandaic Manichaean Marchen Masaram_Gondi Medefaidrin Meetei_Mayek Mende_Kikakui Meroitic_Cursive Meroitic_Hieroglyphs Miao Modi " +
    "Mongolian Mro Multani Myanmar Nabataean Nag_Mundari Nandinagari New_Tai_Lue Newa Nko Nushu Nyiakeng_Puachue_Hmong Ogham Ol_Chiki Old_Hungarian " +
    "Old_Italic Old_North_Arabian Old_Permic Old_Persian Old_Sogdian Old_South_Arabian Old_Turkic Old_Uyghur Oriya Osage Osmanya Pahawh_Hmong Palmyrene " +
    "Pau_Cin_Hau Phags_Pa Phoenician Psalter_Pahlavi Rejang Runic Samaritan Saurashtra Sharada Shavian Siddham SignWriting Sinhala Sogdian Sora_Sompeng " +
    "Soyombo Sundanese Syloti_Nagri Syriac Tagalog Tagbanwa Tai_Le Tai_Tham Tai_Viet Takri Tamil Tangsa Tangut Telugu Thaana Thai Tibetan Tifinagh Tirhuta " +
    "Toto Ugaritic Vai Vithkuqi Wancho Warang_Citi Yezidi Yi Zanabazar_Square"
  ).split(" "),
);

/** Go 1.26's unicode.CategoryAliases. */
export const CATEGORY_ALIASES: Readonly<Record<string, string>> = {
  Cased_Letter: "LC", Close_Punctuation: "Pe", Combining_Mark: "M", Connector_Punctuation: "Pc", Control: "Cc", Currency_Symbol: "Sc",
  Dash_Punctuation: "Pd", Decimal_Number: "Nd", Enclosing_Mark: "Me", Final_Punctuation: "Pf", Format: "Cf", Initial_Punctuation: "Pi", Letter: "L",
  Letter_Number: "Nl", Line_Separator: "Zl", Lowercase_Letter: "Ll", Mark: "M", Math_Symbol: "Sm", Modifier_Letter: "Lm", Modifier_Symbol: "Sk",
  Nonspacing_Mark: "Mn", Number: "N", Open_Punctuation: "Ps", Other: "C", Other_Letter: "Lo", Other_Number: "No", Other_Punctuation: "Po",
  Other_Symbol: "So", Paragraph_Separator: "Zp", Private_Use: "Co", Punctuation: "P", Separator: "Z", Space_Separator: "Zs", Spacing_Mark: "Mc",
  Surrogate: "Cs", Symbol: "S", Titlecase_Letter: "Lt", Unassigned: "Cn", Uppercase_Letter: "Lu", cntrl: "Cc", digit: "Nd", punct: "P",
};

/** Go's canonicalName: a leading capital, lower case after it, without _ - and spaces. */
function canonicalName(name: string): string {
  let out = "";
  let first = true;
  for (const c of name) {
    if (c === "_" || c === "-" || c === " ") continue;
    if (first) {
      out += c >= "a" && c <= "z" ? c.toUpperCase() : c;
      first = false;
    } else {
      out += c >= "A" && c <= "Z" ? c.toLowerCase() : c;
    }
  }
  return out;
}

const ALIASES: ReadonlyMap<string, string> = new Map(Object.entries(CATEGORY_ALIASES).map(([k, v]) => [canonicalName(k), v]));

/** What Go's unicodeTable finds for a name: the class as re2js writes it, or undefined. */
type Table = { name: string } | { posix: "ascii" };

function unicodeTable(name: string): { table: Table; invert: boolean } | undefined {
  const canon = canonicalName(name);
  if (canon === "Any") return { table: { name: "Any" }, invert: false };
  // Assigned is Go's Cn inverted.
  if (canon === "Assigned") return { table: { name: "Cn" }, invert: true };
  // Go's ASCII table and its case folds (ſ, K) are POSIX [:ascii:]'s.
  if (canon === "Ascii") return { table: { posix: "ascii" }, invert: false };
  if (canon === "Lc") return { table: { name: "LC" }, invert: false };
  if (CATEGORIES.has(canon)) return { table: { name: canon }, invert: false };
  if (SCRIPTS.has(canon)) return { table: { name: canon }, invert: false };
  const alias = ALIASES.get(canon);
  return alias === undefined ? undefined : { table: { name: alias }, invert: false };
}

/** `\p…` at `at` (the backslash): its re2js text and its length, or undefined to leave it to re2js. */
function unicodeClass(pattern: string, at: number, inClass: boolean): { text: string; length: number } | undefined {
  let negated = pattern[at + 1] === "P";
  let seq: string;
  let name: string;
  if (pattern[at + 2] === "{") {
    const end = pattern.indexOf("}", at);
    // Go and re2js refuse it alike.
    if (end < 0) return undefined;
    seq = pattern.slice(at, end + 1);
    name = pattern.slice(at + 3, end);
  } else {
    const rune = pattern.codePointAt(at + 2);
    if (rune === undefined) return undefined;
    seq = pattern.slice(at, at + 2 + String.fromCodePoint(rune).length);
    name = seq.slice(2);
  }
  if (name.startsWith("^")) {
    negated = !negated;
    name = name.slice(1);
  }
  const found = unicodeTable(name);
  if (!found) throw new RegexpSyntaxError(`error parsing regexp: invalid character class range: \`${seq}\``);
  if (found.invert) negated = !negated;
  let text: string;
  if ("posix" in found.table) {
    const posix = `[:${negated ? "^" : ""}${found.table.posix}:]`;
    text = inClass ? posix : `[${posix}]`;
  } else {
    text = `\\${negated ? "P" : "p"}{${found.table.name}}`;
  }
  return { text, length: seq.length };
}

const GROUP_NAME = /^\(\?P?<([^>]*)>/;

/**
 * The re2js pattern for Go pattern `pattern`, and the names it gave a
 * repeated group name (each to the name it repeats). Throws Go's error for
 * a Unicode class Go does not know.
 */
export function toRe2js(pattern: string): { pattern: string; renamed: ReadonlyMap<string, string> } {
  // Nothing to read differently: the common case costs one scan.
  if (!/\\[pP]|\(\?P?</.test(pattern)) return { pattern, renamed: new Map() };
  const names = new Set([...pattern.matchAll(/\(\?P?<(\w+)>/g)].map((m) => m[1] ?? ""));
  const seen = new Set<string>();
  const renamed = new Map<string, string>();
  let out = "";
  let inClass = false;
  let i = 0;
  while (i < pattern.length) {
    const c = pattern[i] ?? "";
    if (c === "\\") {
      const next = pattern[i + 1];
      if (next === "Q" && !inClass) {
        // \Q…\E is literal text, to \E or the end.
        const end = pattern.indexOf("\\E", i + 2);
        const stop = end < 0 ? pattern.length : end + 2;
        out += pattern.slice(i, stop);
        i = stop;
        continue;
      }
      if (next === "p" || next === "P") {
        const cls = unicodeClass(pattern, i, inClass);
        if (cls) {
          out += cls.text;
          i += cls.length;
          continue;
        }
      }
      out += pattern.slice(i, i + 2);
      i += 2;
      continue;
    }
    if (inClass) {
      if (c === "[" && pattern[i + 1] === ":") {
        // A POSIX class [:name:] as Go finds it: to the next :].
        const end = pattern.indexOf(":]", i + 2);
        if (end >= 0) {
          out += pattern.slice(i, end + 2);
          i = end + 2;
          continue;
        }
      }
      if (c === "]") inClass = false;
      out += c;
      i++;
      continue;
    }
    if (c === "[") {
      inClass = true;
      // A ] right after [ or [^ is a member, not the end.
      let open = "[";
      if (pattern[i + open.length] === "^") open += "^";
      if (pattern[i + open.length] === "]") open += "]";
      out += open;
      i += open.length;
      continue;
    }
    const group = c === "(" ? GROUP_NAME.exec(pattern.slice(i)) : null;
    const name = group?.[1];
    if (group && name !== undefined && /^\w+$/.test(name)) {
      let as = name;
      if (seen.has(name)) {
        for (let k = 2; names.has(as); k++) as = `${name}_agentgate${String(k)}`;
        names.add(as);
        renamed.set(as, name);
      }
      seen.add(name);
      out += `(?P<${as}>`;
      i += group[0].length;
      continue;
    }
    out += c;
    i++;
  }
  return { pattern: out, renamed };
}
