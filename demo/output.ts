// What the demo prints, in the few shapes a reader needs to tell apart: a
// step's heading (steps.ts), a command as typed at a prompt naming who runs
// it, that command's own output indented beneath, and a note when the demo
// itself plays a part the cluster would (no kubelet, stand-in kagent).
import { STEPS, stepLine } from "./steps.ts";

const write = (text: string): void => {
  process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
};

const INDENT = "    ";

export function heading(i: number): void {
  write(`\n${stepLine(i)}`);
}

/** A command as its user would type it: `dana$ kubectl apply -f …`. */
export function command(who: string, line: string): void {
  write(`${who}$ ${line}`);
}

/** A command's output, indented, trailing blank lines dropped. */
export function output(text: string): void {
  const lines = text.replace(/\s+$/, "").split("\n");
  if (lines.length === 1 && lines[0] === "") return;
  write(lines.map((l) => `${INDENT}${l}`).join("\n"));
}

/** What the demo does in place of a part the cluster lacks, said plainly. */
export function note(text: string): void {
  write(`  # ${text}`);
}

export function plain(text: string): void {
  write(text);
}

export const stepCount = STEPS.length;
