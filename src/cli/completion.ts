// `agentgate completion bash|zsh|fish`: shell completion generated from the
// command tree itself, so a new command or flag completes without anyone
// editing a script. Each shell gets a static script (no call back into
// node on every Tab: starting node takes longer than a keystroke should).
import type { Command, Option } from "commander";
import { Argument } from "commander";
import type { Io } from "./review.ts";

/** A command as completion sees it: its path from the root, its subcommands and its visible flags. */
export interface CompletionNode {
  /** "" for agentgate itself, "bundle build" for a subcommand */
  path: string;
  description: string;
  subcommands: string[];
  flags: CompletionFlag[];
}

export interface CompletionFlag {
  long?: string;
  short?: string;
  description: string;
  takesValue: boolean;
  /** the values it accepts, when it names them (-o text|json) */
  choices: string[];
}


/** Every command of the tree, parents before children. */
export function completionTree(program: Command): CompletionNode[] {
  const nodes: CompletionNode[] = [];
  const walk = (command: Command, path: string): void => {
    const flags: CompletionFlag[] = command.options.filter((o: Option) => !o.hidden).map((o) => ({
      ...(o.long !== undefined ? { long: o.long } : {}),
      ...(o.short !== undefined ? { short: o.short } : {}),
      description: o.description,
      takesValue: o.required || o.optional,
      choices: o.argChoices ?? [],
    }));
    flags.push({ long: "--help", short: "-h", description: "show help", takesValue: false, choices: [] });
    nodes.push({ path, description: command.description(), subcommands: command.commands.map((c) => c.name()), flags });
    for (const sub of command.commands) walk(sub, path === "" ? sub.name() : `${path} ${sub.name()}`);
  };
  walk(program, "");
  return nodes;
}

const SHELLS = ["bash", "zsh", "fish"] as const;
export type Shell = (typeof SHELLS)[number];

/** Single-quoted for a POSIX shell (bash, zsh; fish reads it the same way for these texts). */
function quote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

function flagNames(f: CompletionFlag): string[] {
  return [f.short, f.long].filter((n): n is string => n !== undefined);
}

/**
 * bash: the words typed so far select a command path; the word before the
 * cursor, when it is a flag that takes a value, selects its choices (or,
 * with none, the files bash offers by default).
 */
export function bashScript(nodes: readonly CompletionNode[]): string {
  const paths = new Set(nodes.map((n) => n.path));
  const valueCases: string[] = [];
  const wordCases: string[] = [];
  for (const n of nodes) {
    for (const f of n.flags.filter((x) => x.takesValue)) {
      const patterns = flagNames(f).map((name) => quote(`${n.path}|${name}`)).join("|");
      const reply = f.choices.length > 0 ? `COMPREPLY=($(compgen -W ${quote(f.choices.join(" "))} -- "$cur"))` : "COMPREPLY=()";
      valueCases.push(`    ${patterns}) ${reply}; return ;;`);
    }
    const words = [...n.subcommands, ...n.flags.flatMap((f) => (f.long !== undefined ? [f.long] : flagNames(f)))];
    wordCases.push(`    ${quote(n.path)}) words=${quote(words.join(" "))} ;;`);
  }
  return `# agentgate completion for bash: source <(agentgate completion bash)
_agentgate() {
  local cur prev path i w words
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev=""
  (( COMP_CWORD > 0 )) && prev="\${COMP_WORDS[COMP_CWORD-1]}"
  path=""
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    [[ "$w" == -* ]] && continue
    case "\${path:+$path }$w" in
${[...paths].filter((p) => p !== "").map((p) => `      ${quote(p)}) path="\${path:+$path }$w" ;;`).join("\n")}
    esac
  done
  case "$path|$prev" in
${valueCases.join("\n")}
  esac
  case "$path" in
${wordCases.join("\n")}
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -F _agentgate agentgate
`;
}

/** zsh runs the bash script through its bashcompinit, which every zsh ships. */
export function zshScript(nodes: readonly CompletionNode[]): string {
  return `#compdef agentgate
# agentgate completion for zsh: source <(agentgate completion zsh)
autoload -U +X compinit && compinit
autoload -U +X bashcompinit && bashcompinit
${bashScript(nodes).split("\n").slice(1).join("\n")}`;
}

/** fish: one `complete` line per command and flag, conditioned on the command path typed. */
export function fishScript(nodes: readonly CompletionNode[]): string {
  const lines = ["# agentgate completion for fish: agentgate completion fish | source", "complete -c agentgate -f"];
  const byPath = new Map(nodes.map((n) => [n.path, n]));
  for (const n of nodes) {
    const words = n.path === "" ? [] : n.path.split(" ");
    // The path is typed (each word seen) and no subcommand of it yet (at the root, __fish_use_subcommand says that).
    const seen = words.map((w) => `__fish_seen_subcommand_from ${w}`);
    const noDeeper = n.path !== "" && n.subcommands.length > 0 ? [`not __fish_seen_subcommand_from ${n.subcommands.join(" ")}`] : [];
    const condition = (extra: string[]) => {
      const all = [...(n.path === "" ? ["__fish_use_subcommand"] : seen), ...extra];
      return quote(all.join("; and "));
    };
    for (const name of n.subcommands) {
      const sub = byPath.get(n.path === "" ? name : `${n.path} ${name}`);
      lines.push(`complete -c agentgate -n ${condition(noDeeper)} -a ${quote(name)} -d ${quote(firstSentence(sub?.description ?? ""))}`);
    }
    for (const f of n.flags) {
      const names = [f.long !== undefined ? `-l ${f.long.replace(/^--/, "")}` : "", f.short !== undefined ? `-s ${f.short.replace(/^-/, "")}` : ""].filter(Boolean).join(" ");
      const value = f.takesValue ? (f.choices.length > 0 ? ` -x -a ${quote(f.choices.join(" "))}` : " -r -F") : "";
      lines.push(`complete -c agentgate -n ${condition(noDeeper)} ${names}${value} -d ${quote(firstSentence(f.description))}`);
    }
  }
  return `${lines.join("\n")}\n`;
}

function firstSentence(text: string): string {
  const short = text.split(/[;(:]/)[0]?.trim() ?? "";
  return short.length > 80 ? `${short.slice(0, 77)}...` : short;
}

export function registerCompletionCommand(program: Command, io: Io, setExit: (code: number) => void): void {
  program
    .command("completion")
    .description("print a shell completion script: source <(agentgate completion bash), or zsh; agentgate completion fish | source")
    .addArgument(new Argument("<shell>", "bash, zsh or fish").choices([...SHELLS]))
    .action((shell: Shell) => {
      const script = { bash: bashScript, zsh: zshScript, fish: fishScript }[shell](completionTree(program));
      if (io.write) io.write(script);
      else io.out(script.trimEnd());
      setExit(0);
    });
}
