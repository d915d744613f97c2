// Graceful shutdown of the HTTPS server under pooled keep-alive clients.
//
// The API server keeps a pool of kept-alive connections to the webhook and,
// through a Service's ClusterIP, those connections stay with this pod after
// its endpoint is gone: only new connections go to a ready replica. So
// during the drain every response says `Connection: close`, and each pooled
// connection closes after its next answer (its client reconnects, to a
// ready replica). Then the server stops listening and closes the
// connections that sit idle after an answer (Node's server.close() does;
// it spares one accepted but still waiting for its first request, which
// then gets its answer), gives what is still open a bounded time to be
// answered, and destroys whatever remains, so the process exits before the
// kubelet's grace period runs out.
import type { Server } from "node:https";
import type { Socket } from "node:net";

/**
 * How long connections still open after the drain get to be answered: half
 * the drain, at least 1 s. An admission request lives at most the webhook's
 * timeoutSeconds (the chart's defaults, a 10 s drain and a 5 s timeout,
 * match), and the whole shutdown stays within drain + finishSeconds(drain),
 * which the chart keeps below terminationGracePeriodSeconds.
 */
export function finishSeconds(drainSeconds: number): number {
  return Math.max(1, Math.ceil(drainSeconds / 2));
}

export interface ShutdownResult {
  /** connections still open at the deadline, destroyed without an answer */
  cut: number;
}

export class ServerDrain {
  private readonly server: Server;
  /** every accepted TCP connection, TLS handshake done or not */
  private readonly sockets = new Set<Socket>();
  private isDraining = false;

  constructor(server: Server) {
    this.server = server;
    server.on("connection", (socket: Socket) => {
      this.sockets.add(socket);
      socket.once("close", () => this.sockets.delete(socket));
    });
    // Before the server's own handler, so every response of the drain carries the header.
    server.prependListener("request", (_req, res) => {
      if (this.isDraining) res.setHeader("connection", "close");
    });
  }

  get draining(): boolean {
    return this.isDraining;
  }

  /** From now on every response asks its client to close the connection after it. */
  begin(): void {
    this.isDraining = true;
  }

  /**
   * Stops listening, closes the connections idle after an answer, waits up
   * to finishMs for the others to be answered and closed, then destroys
   * what remains.
   */
  async shutdown(finishMs: number): Promise<ShutdownResult> {
    this.begin();
    const closed = new Promise<void>((resolve) => { this.server.close(() => resolve()); });
    let deadline: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"deadline">((resolve) => { deadline = setTimeout(() => resolve("deadline"), finishMs); });
    const outcome = await Promise.race([closed, timedOut]);
    clearTimeout(deadline);
    if (outcome !== "deadline") return { cut: 0 };
    const cut = this.sockets.size;
    // Node's connection list misses a socket still in its TLS handshake; this set does not.
    for (const socket of this.sockets) socket.destroy();
    this.server.closeAllConnections();
    await closed;
    return { cut };
  }
}
