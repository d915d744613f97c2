// A loopback port nothing listens on now, for a server a test or benchmark
// starts next (a gateway, a registry, kube-apiserver). Another process may
// take it in between; on a test machine that has not been seen to matter.
import { createServer } from "node:net";

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    // A probe left open by a failing test must not keep the process alive.
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const address = srv.address();
      srv.close(() => {
        if (typeof address === "object" && address) resolve(address.port);
        else reject(new Error("could not get a free port"));
      });
    });
  });
}
