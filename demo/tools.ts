// The real tools the demo runs (etcd, kube-apiserver,
// kube-controller-manager, kubectl, helm, Tekton's controller), built from
// their pinned Go modules by tools/install.sh into .tools/bin. On a fresh
// clone they are not there yet: the demo builds them first, saying so,
// since a cold build takes a while. install.sh is idempotent, so it runs
// every time (well under a second when nothing changed).
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./commands.ts";
import { plain } from "./output.ts";

const NEEDED = ["etcd", "kube-apiserver", "kube-controller-manager", "kubectl", "helm", "tekton-controller"];

export async function ensureTools(): Promise<void> {
  const missing = NEEDED.filter((t) => !existsSync(join(ROOT, ".tools/bin", t)));
  if (missing.length > 0) plain(`==> Building the tools first (${missing.join(", ")} missing): bash tools/install.sh, about 15 min on 2 cores the first time, then never again`);
  const code = await new Promise<number>((resolve, reject) => {
    // its progress lines ([tools] building …) go straight to the terminal
    const child = spawn("bash", [join(ROOT, "tools/install.sh")], { cwd: ROOT, stdio: ["ignore", "inherit", "inherit"] });
    child.on("error", reject);
    child.on("close", (c) => resolve(c ?? 1));
  });
  if (code !== 0) throw new Error(`tools/install.sh exited ${String(code)}`);
}
