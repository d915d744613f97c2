// What a usage mistake looks like to the user: one line, naming the command
// it was made in and where to read its usage ("agentgate: unknown option
// '--bundel' (did you mean --bundle?); see agentgate serve --help"), with
// control characters escaped so no error spans two lines.
import type { Command, CommanderError } from "commander";

/** The command argv names, as far as it names one ("agentgate bundle sign"), and the words after it. */
export function commandOf(program: Command, argv: readonly string[]): { command: Command; rest: string[] } {
  let command = program;
  const words = argv.slice(0, argv.includes("--") ? argv.indexOf("--") : argv.length).filter((a) => !a.startsWith("-"));
  while (words.length > 0) {
    const sub = command.commands.find((c) => c.name() === words[0] || c.aliases().includes(words[0] ?? ""));
    if (!sub) break;
    command = sub;
    words.shift();
  }
  return { command, rest: words };
}

const pathOf = (command: Command): string => (command.parent ? `${pathOf(command.parent)} ${command.name()}` : command.name());

/** commander's message in one line, with where to read the usage. */
export function usageError(err: CommanderError, { command, rest }: { command: Command; rest: string[] }): string {
  const path = pathOf(command);
  if (err.code === "commander.help") {
    // A command that has subcommands, given none (or `help NAME` of one it does not have).
    const names = command.commands.map((c) => c.name()).filter((n) => n !== "help").join(", ");
    if (rest[0] === "help" && rest[1] !== undefined) return `unknown command '${rest[1]}'; one of ${names} (see ${path} --help)`;
    return command.parent ? `${path.replace(/^\S+ /, "")} needs a command: ${names} (see ${path} --help)` : `no command given; one of ${names} (see ${path} --help)`;
  }
  const message = err.message.replace(/^error: /, "").replace(/\n\((Did you mean [^)]*)\)/, (_m, hint: string) => ` (${hint.replace(/^Did/, "did")})`);
  return `${message.replace(/\.$/, "")}; see ${path} --help`;
}

/** Control characters (a newline in a quoted snippet of the input, bytes of a binary file) escaped, so an error is one line. */
export function oneLine(message: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are what is escaped
  return message.replace(/[\u0000-\u001f\u007f]/g, (c) => ({ "\n": "\\n", "\r": "\\r", "\t": "\\t" })[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}
