// What went wrong during a soak, by cause. A cause is explained only when the
// soak expects it (a denial by the policy that should deny); anything else —
// a webhook call that failed, a refusal without a policy, a run that did not
// succeed, a process that died unasked — is unexplained, and one is enough
// to fail the soak.

export interface Cause {
  cause: string;
  explained: boolean;
  count: number;
  /** the first time it happened, seconds into the soak, and one full message */
  firstAt: number;
  example: string;
}

export class FailureLedger {
  private readonly causes = new Map<string, Cause>();
  private readonly started: number;

  constructor(started = Date.now()) {
    this.started = started;
  }

  private add(cause: string, explained: boolean, example: string): void {
    const key = `${explained ? "e" : "u"} ${cause}`;
    const known = this.causes.get(key);
    if (known) known.count++;
    else this.causes.set(key, { cause, explained, count: 1, firstAt: Math.round((Date.now() - this.started) / 1000), example: example.slice(0, 500) });
  }

  expected(cause: string, example = ""): void {
    this.add(cause, true, example);
  }

  unexplained(cause: string, example = ""): void {
    this.add(cause, false, example);
  }

  get unexplainedCount(): number {
    return [...this.causes.values()].filter((c) => !c.explained).reduce((n, c) => n + c.count, 0);
  }

  get explainedCount(): number {
    return [...this.causes.values()].filter((c) => c.explained).reduce((n, c) => n + c.count, 0);
  }

  /** Most frequent first, unexplained before explained. */
  list(): Cause[] {
    return [...this.causes.values()].sort((a, b) => Number(a.explained) - Number(b.explained) || b.count - a.count);
  }
}

/**
 * The part of an API server error message that names its cause, without
 * what differs per request (names, uids, URLs, ports), so that equal causes
 * are counted together.
 */
export function causeOf(message: string): string {
  return message
    .split("\n")[0]
    ?.replace(/https?:\/\/[^\s"]+/g, "<url>")
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, "<uid>")
    .replace(/"soak-[a-z]+-\d+"/g, "<name>")
    .replace(/\b\d+(\.\d+)?(ms|s)\b/g, "<duration>")
    .slice(0, 200) ?? "";
}
