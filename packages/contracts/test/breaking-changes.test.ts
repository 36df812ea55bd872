import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { resolve } from "node:path";

const repoRoot = resolve(__dirname, "../../..");
const buf = resolve(repoRoot, "node_modules/.bin/buf");

function git(args: string[]): string {
  return execFileSync("git", args, { cwd: repoRoot, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
}

/** The ref holding the last committed state of main: the local branch, else the remote one. */
function mainRef(): string | undefined {
  for (const ref of ["refs/heads/main", "refs/remotes/origin/main"]) {
    try {
      git(["rev-parse", "--verify", `${ref}:proto/buf.yaml`]);
      return ref;
    } catch {
      // try the next one
    }
  }
  return undefined;
}

describe("proto/ against the last committed state of main", () => {
  it("passes buf lint (STANDARD + COMMENTS)", () => {
    execFileSync(buf, ["lint", "proto"], { cwd: repoRoot, stdio: "pipe" });
  });

  it("has no breaking change (buf breaking, FILE rules)", () => {
    const ref = mainRef();
    if (!ref) throw new Error("no main branch with proto/ to compare against; fetch main (git fetch origin main)");
    try {
      execFileSync(buf, ["breaking", "proto", "--against", `.git#ref=${ref},subdir=proto`], {
        cwd: repoRoot,
        stdio: "pipe",
        encoding: "utf8",
      });
    } catch (error) {
      const output = (error as { stdout?: string; stderr?: string }).stdout ?? "";
      throw new Error(`buf breaking found changes that break clients of ${ref}:\n${output}`);
    }
  });

  it("detects a breaking change (the check is not vacuous)", () => {
    // Compare main's proto/ against itself with one field renamed in a temporary copy.
    const copy = mkdtempSync(resolve(tmpdir(), "agora-proto-"));
    try {
      cpSync(resolve(repoRoot, "proto"), copy, { recursive: true });
      const file = resolve(copy, "agora/common/v1/money.proto");
      writeFileSync(file, readFileSync(file, "utf8").replace("int64 units = 2;", "int64 whole_units = 2;"));
      expect(() =>
        execFileSync(buf, ["breaking", copy, "--against", resolve(repoRoot, "proto")], { stdio: "pipe" }),
      ).toThrow();
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });
});
