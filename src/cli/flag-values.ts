// How flag values are taken: a repeatable flag collects every value given,
// any other flag takes one. Commander keeps the last of a flag given twice
// and drops the first without a word, so `--policy-config a.yaml
// --policy-config b.yaml` would evaluate without a.yaml; here the second
// one is refused, naming both.
import type { Command } from "commander";
import { UsageError } from "../errors.ts";

type Parse = (value: string, previous: string[]) => string[];

const repeatable = new WeakSet<Parse>();

/** A flag's values in the order given (`--group a --group b`). */
export const collect: Parse = (value, previous) => [...previous, value];
repeatable.add(collect);

/** As collect, each value checked first (the check throws to refuse it). */
export function collectChecked(check: (value: string) => void): Parse {
  const parse: Parse = (value, previous) => {
    check(value);
    return [...previous, value];
  };
  repeatable.add(parse);
  return parse;
}

/**
 * Makes every flag of `program` and its subcommands that takes a value and
 * is not repeatable refuse a second value. Run once the commands are built.
 */
export function refuseRepeatedFlags(program: Command): void {
  for (const option of program.options) {
    if (!option.required && !option.optional) continue; // a switch: given twice is still on
    const parse = option.parseArg as Parse | undefined;
    if (parse && repeatable.has(parse)) continue;
    const attribute = option.attributeName();
    const flag = option.long ?? option.short ?? option.flags;
    option.parseArg = <T>(value: string, previous: T): T => {
      // The source turns "cli" once the flag has been given on the command line.
      if (program.getOptionValueSource(attribute) === "cli") {
        throw new UsageError(`${flag} given twice (${JSON.stringify(String(previous))}, then ${JSON.stringify(value)}); it takes one value`);
      }
      return (parse ? (parse as unknown as (v: string, p: T) => T)(value, previous) : value) as T;
    };
  }
  for (const sub of program.commands) refuseRepeatedFlags(sub);
}
