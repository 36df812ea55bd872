import { resolve } from "node:path";

/** Root of the repository (tools/deploy-verify/src → ../../..). */
export const repoRoot = resolve(__dirname, "../../..");
/** The Helm chart every profile renders. */
export const chartDir = resolve(repoRoot, "charts/agora");
/** Folder of the proto contracts. */
export const protoDir = resolve(repoRoot, "proto");
