// A loopback port nothing listens on now, for a server a test or benchmark
// starts next (a gateway, a registry, kube-apiserver). Another process may
// take it in between. Within this process, a port is handed out once: the
// kernel offers a port again as soon as its probe closes, so two servers
// given ports before either listens could otherwise get the same one
// (helm-upgrade.test.ts saw a controller's --health-listen equal the
// gateway's --listen).
import { createServer } from "node:net";

const handedOut = new Set<number>();

function probe(): Promise<number> {
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

export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = await probe();
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error("could not get a free port not handed out before in this process");
}
