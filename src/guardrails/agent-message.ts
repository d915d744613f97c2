// The text an agent is sent: the goal, then each of spec.context.hints.
// One function builds it for the A2A driver and for the goal policy's
// input, so the policy judges every word the agent reads, not just the
// goal (a hint saying "ignore the above" is part of the prompt).

/** The text parts of the agent's user message, in order; empty ones are left out. */
export function agentMessageParts(goal: string, hints: readonly string[]): string[] {
  return [goal, ...hints.map((h) => `Hint: ${h}`)].filter((t) => t !== "");
}

/** The same parts as one text, as the goal policy sees it. */
export function agentMessageText(goal: string, hints: readonly string[]): string {
  return agentMessageParts(goal, hints).join("\n\n");
}
