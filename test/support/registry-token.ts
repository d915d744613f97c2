// A registry's token service for tests (the docker token protocol that
// Docker Hub, GHCR and Harbor speak): GET /token?service=…&scope=… with
// Basic credentials or a Bearer token answers a JWT the registry trusts by
// its JSON Web Key Set. Anonymous callers get no token; a user gets the
// actions the scope asks for, on any repository.
import { generateKeyPair, exportJWK, SignJWT } from "jose";
import { createServer, type Server } from "node:http";
import { randomUUID } from "node:crypto";

export interface TokenServiceOptions {
  /** user → password for Basic credentials */
  users?: Record<string, string>;
  /** tokens accepted as `Authorization: Bearer …` (what --bundle-bearer-token-file sends) */
  bearerTokens?: () => readonly string[];
  /** seconds a token lasts */
  expiresIn?: number;
}

export interface TokenRequest {
  /** "basic:<user>", "bearer:<token>" or "anonymous" */
  who: string;
  scope: string;
  service: string;
  status: number;
}

export interface TokenService {
  realm: string;
  service: string;
  issuer: string;
  jwks: { keys: object[] };
  requests: TokenRequest[];
  /** a token for the push helper: every action on `repository` */
  tokenFor(repository: string, actions?: string[]): Promise<string>;
  stop(): Promise<void>;
}

const SERVICE = "agentgate-test-registry";
const ISSUER = "agentgate-test-token-service";
const KID = "agentgate-test";

export async function startTokenService(opts: TokenServiceOptions = {}): Promise<TokenService> {
  const { privateKey, publicKey } = await generateKeyPair("ES256");
  const jwk = { ...(await exportJWK(publicKey)), kid: KID, alg: "ES256", use: "sig" };
  const expiresIn = opts.expiresIn ?? 300;
  const requests: TokenRequest[] = [];
  const sign = (access: { type: string; name: string; actions: string[] }[], subject: string) =>
    new SignJWT({ access })
      .setProtectedHeader({ alg: "ES256", kid: KID, typ: "JWT" })
      .setIssuer(ISSUER)
      .setAudience(SERVICE)
      .setSubject(subject)
      .setIssuedAt()
      .setNotBefore(Math.floor(Date.now() / 1000) - 5)
      .setExpirationTime(Math.floor(Date.now() / 1000) + expiresIn)
      .setJti(randomUUID())
      .sign(privateKey);

  const server: Server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? "/", "http://x");
      const scope = url.searchParams.get("scope") ?? "";
      const service = url.searchParams.get("service") ?? "";
      const header = req.headers.authorization ?? "";
      let who = "anonymous";
      let ok = false;
      if (header.startsWith("Basic ")) {
        const [user, ...rest] = Buffer.from(header.slice(6), "base64").toString("utf8").split(":");
        who = `basic:${user ?? ""}`;
        ok = user !== undefined && opts.users?.[user] === rest.join(":");
      } else if (header.startsWith("Bearer ")) {
        const token = header.slice(7);
        who = `bearer:${token}`;
        ok = (opts.bearerTokens?.() ?? []).includes(token);
      }
      const status = ok && service === SERVICE ? 200 : 401;
      requests.push({ who, scope, service, status });
      if (status !== 200) {
        res.writeHead(401, { "content-type": "application/json", "www-authenticate": 'Basic realm="token"' }).end(JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "bad credentials" }] }));
        return;
      }
      const [type, name, actions] = scope.split(":");
      const token = await sign(type && name ? [{ type, name, actions: (actions ?? "").split(",") }] : [], who);
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ token, expires_in: expiresIn, issued_at: new Date().toISOString() }));
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    realm: `http://127.0.0.1:${String(port)}/token`,
    service: SERVICE,
    issuer: ISSUER,
    jwks: { keys: [jwk] },
    requests,
    tokenFor: (repository, actions = ["pull", "push"]) => sign([{ type: "repository", name: repository, actions }], "pusher"),
    stop: () => new Promise<void>((resolve) => { server.close(() => { resolve(); }); server.closeAllConnections(); }),
  };
}
