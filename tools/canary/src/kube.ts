import { execFile } from "node:child_process";

/** A Kubernetes object as kubectl returns it. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [key: string]: unknown };
  // biome-ignore lint/suspicious/noExplicitAny: objects are edited structurally.
  spec?: any;
  [key: string]: unknown;
}

/** What the rollout needs from the cluster; KubectlCluster talks to a real one, tests use a fake. */
export interface Cluster {
  /** The object, or undefined when it does not exist. */
  get(kind: string, name: string): Promise<KubeObject | undefined>;
  /** Creates or updates an object (kubectl apply). */
  apply(obj: KubeObject): Promise<void>;
  /** Replaces an object read earlier (optimistic concurrency through its resourceVersion). */
  replace(obj: KubeObject): Promise<void>;
  delete(kind: string, name: string): Promise<void>;
  /** Waits until a Deployment's rollout has finished; rejects on timeout. */
  waitForRollout(deployment: string, timeoutSeconds: number): Promise<void>;
}

/** Runs a command and resolves with its stdout. */
export type Runner = (cmd: string, args: string[], input?: string) => Promise<string>;

/** Runs a child process, feeding `input` on stdin. */
export const runProcess: Runner = (cmd, args, input) =>
  new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { maxBuffer: 32 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(" ")}: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
    if (input !== undefined) child.stdin?.end(input);
  });

/** The cluster through the kubectl binary (its current context unless one is given). */
export class KubectlCluster implements Cluster {
  constructor(
    private readonly namespace: string,
    private readonly run: Runner = runProcess,
    private readonly context?: string,
    private readonly kubectl = "kubectl",
  ) {}

  private args(...rest: string[]): string[] {
    return [...(this.context ? ["--context", this.context] : []), "--namespace", this.namespace, ...rest];
  }

  async get(kind: string, name: string): Promise<KubeObject | undefined> {
    const out = await this.run(this.kubectl, this.args("get", kind, name, "--ignore-not-found", "-o", "json"));
    return out.trim() ? (JSON.parse(out) as KubeObject) : undefined;
  }

  async apply(obj: KubeObject): Promise<void> {
    await this.run(this.kubectl, this.args("apply", "-f", "-"), JSON.stringify(obj));
  }

  async replace(obj: KubeObject): Promise<void> {
    await this.run(this.kubectl, this.args("replace", "-f", "-"), JSON.stringify(obj));
  }

  async delete(kind: string, name: string): Promise<void> {
    await this.run(this.kubectl, this.args("delete", kind, name, "--ignore-not-found", "--wait=false"));
  }

  async waitForRollout(deployment: string, timeoutSeconds: number): Promise<void> {
    await this.run(
      this.kubectl,
      this.args("rollout", "status", `deployment/${deployment}`, `--timeout=${timeoutSeconds}s`),
    );
  }
}
