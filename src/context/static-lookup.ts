// Context from a fixed set of objects: `agentgate review --context` files and
// the other documents of the same input, or nothing at all (--offline).
import type { KubeObject } from "../types/kube.ts";
import type { ContextKind, ObjectLookup } from "./lookup.ts";

const KINDS: ReadonlySet<string> = new Set<ContextKind>([
  "AgentConfig",
  "ModelConfig",
  "RemoteMCPServer",
  "MCPServer",
  "Service",
  "Namespace",
  "ServiceAccount",
  "CustomRun",
  "PipelineRun",
  "Agent",
]);

export class StaticLookup implements ObjectLookup {
  private readonly objects = new Map<string, KubeObject>();
  private readonly defaultNamespace: string;

  constructor(objects: Iterable<KubeObject> = [], defaultNamespace = "default") {
    this.defaultNamespace = defaultNamespace;
    for (const object of objects) this.add(object);
  }

  add(object: KubeObject): void {
    const kind = object.kind;
    const name = object.metadata?.name;
    if (kind === undefined || !KINDS.has(kind) || name === undefined) return;
    const namespace = kind === "Namespace" ? "" : (object.metadata?.namespace ?? this.defaultNamespace);
    this.objects.set(`${kind}/${namespace}/${name}`, object);
  }

  get(kind: ContextKind, namespace: string, name: string): Promise<KubeObject | null> {
    return Promise.resolve(this.objects.get(`${kind}/${namespace}/${name}`) ?? null);
  }
}
