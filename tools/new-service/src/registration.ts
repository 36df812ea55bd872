import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Document, isMap, isSeq, parseDocument, Scalar, type YAMLMap, type YAMLSeq } from "yaml";
import type { ServiceModel } from "./proto-model";

/** Serializes like the files are written (compact flow collections, no folding), so untouched parts stay byte-identical. */
const toStringOptions = { flowCollectionPadding: false, lineWidth: 0 } as const;

/** What is registered where. */
export interface RegistrationInput {
  name: string;
  service: ServiceModel;
  ports: { grpc: number; metrics: number };
  /** The service connects to NATS (its package declares events). */
  nats: boolean;
}

function mapAt(doc: Document, path: Array<string | number>, file: string): YAMLMap {
  const node = doc.getIn(path, true);
  if (!isMap(node)) throw new Error(`${file}: ${path.join(".")} is not a map`);
  return node;
}

function seqAt(doc: Document, path: Array<string | number>, file: string): YAMLSeq {
  const node = doc.getIn(path, true);
  if (!isSeq(node)) throw new Error(`${file}: ${path.join(".")} is not a list`);
  return node;
}

function flowSeq(doc: Document, items: string[]): YAMLSeq {
  const node = doc.createNode(items) as YAMLSeq;
  node.flow = true;
  return node;
}

/**
 * The chart's entry for the service, shaped like the existing gRPC entries of charts/agora/values.yaml
 * (see values.schema.json): image, grpcService, ports, database, nats, streaming methods, no calls.
 */
export function chartEntry(input: RegistrationInput): Record<string, unknown> {
  const streaming = input.service.rpcs.filter((rpc) => rpc.kind === "server_streaming").map((rpc) => rpc.name);
  return {
    enabled: true,
    image: { repository: `agora-${input.name}`, tag: "" },
    grpcService: input.service.fullName,
    grpcPort: input.ports.grpc,
    metricsPort: input.ports.metrics,
    database: true,
    nats: input.nats,
    ...(streaming.length > 0 ? { streamingMethods: streaming } : {}),
    calls: {},
  };
}

/**
 * Adds the service to charts/agora/values.yaml (before the gateway, with a comment saying where it
 * came from) and, for RPCs with an http option, to the gateway's calls: the chart derives the mesh
 * authorization from those lists. Comments and formatting of the rest of the file are kept.
 */
export function registerInChart(text: string, input: RegistrationInput): string {
  const file = "charts/agora/values.yaml";
  const doc = parseDocument(text);
  const services = mapAt(doc, ["services"], file);
  if (services.has(input.name)) throw new Error(`${file}: services.${input.name} exists already`);
  const node = doc.createNode(chartEntry(input)) as YAMLMap;
  const streaming = node.get("streamingMethods", true);
  if (isSeq(streaming)) streaming.flow = true;
  const pair = doc.createPair(input.name, node);
  (pair.key as Scalar).commentBefore =
    ` ${input.service.fullName}, scaffolded by tools/new-service. Add what it calls under calls.`;
  const gatewayIndex = services.items.findIndex((item) => (item.key as Scalar | undefined)?.value === "gateway");
  if (gatewayIndex >= 0) services.items.splice(gatewayIndex, 0, pair);
  else services.items.push(pair);

  const exposed = input.service.rpcs.filter((rpc) => rpc.http).map((rpc) => rpc.name);
  if (exposed.length > 0 && services.has("gateway")) {
    const gateway = mapAt(doc, ["services", "gateway"], file);
    if (!gateway.has("calls")) gateway.set("calls", doc.createNode({}));
    mapAt(doc, ["services", "gateway", "calls"], file).set(input.name, flowSeq(doc, exposed));
  }
  return doc.toString(toStringOptions);
}

/**
 * Adds the service to skaffold.yaml like every other service: an artifact from the one Dockerfile,
 * the image values the chart reads, a port-forward, and the dev profile's target and file sync
 * (patches by artifact index, so the artifact is appended and its patches use the new index).
 */
export function registerInSkaffold(text: string, input: RegistrationInput): string {
  const file = "skaffold.yaml";
  const doc = parseDocument(text);
  const artifacts = seqAt(doc, ["build", "artifacts"], file);
  const template = (artifacts.toJSON() as Array<{ image: string; docker?: { buildArgs?: { SERVICE?: string } } }>)[0];
  if (!template?.docker?.buildArgs?.SERVICE) throw new Error(`${file}: no artifact to take the shape from`);
  const templateService = template.docker.buildArgs.SERVICE;
  const image = `agora-${input.name}`;
  if ((artifacts.toJSON() as Array<{ image: string }>).some((artifact) => artifact.image === image)) {
    throw new Error(`${file}: an artifact ${image} exists already`);
  }
  const index = artifacts.items.length;
  artifacts.add(
    doc.createNode({ ...template, image, docker: { ...template.docker, buildArgs: { SERVICE: input.name } } }),
  );

  const templates = mapAt(doc, ["deploy", "helm", "releases", 0, "setValueTemplates"], file);
  const key = image.replace(/[-./]/g, "_");
  for (const [part, field] of [
    ["REPO", "repository"],
    ["TAG", "tag"],
  ] as const) {
    const value = new Scalar(`{{.IMAGE_${part}_${key}}}`);
    value.type = Scalar.QUOTE_DOUBLE;
    templates.set(`services.${input.name}.image.${field}`, value);
  }

  const forwards = doc.getIn(["portForward"], true);
  if (isSeq(forwards)) {
    const sample = (forwards.toJSON() as Array<Record<string, unknown>>).find(
      (forward) => forward.resourceType === "service" && forward.resourceName !== "gateway",
    );
    forwards.add(
      doc.createNode({
        resourceType: "service",
        resourceName: input.name,
        namespace: sample?.namespace ?? "agora",
        port: input.ports.grpc,
        localPort: input.ports.grpc,
      }),
    );
  }

  const profiles = doc.getIn(["profiles"], true);
  if (isSeq(profiles)) {
    for (const profile of profiles.items) {
      if (!isMap(profile)) continue;
      const patches = profile.get("patches", true);
      if (!isSeq(patches)) continue;
      const json = patches.toJSON() as Array<{ path: string; value?: unknown }>;
      // Each patch a profile applies to the first artifact is applied to the new one too (dev: target and sync).
      const perArtifact = json.filter((patch) => patch.path.startsWith("/build/artifacts/0/"));
      if (perArtifact.length === 0) continue;
      let last = -1;
      json.forEach((patch, i) => {
        if (/^\/build\/artifacts\/\d+\//.test(patch.path)) last = i;
      });
      const copies = perArtifact.map((patch) =>
        doc.createNode(
          JSON.parse(
            JSON.stringify(patch)
              .replace('"/build/artifacts/0/', `"/build/artifacts/${index}/`)
              .replaceAll(`services/${templateService}/`, `services/${input.name}/`),
          ),
        ),
      );
      patches.items.splice(last + 1, 0, ...copies);
    }
  }
  return doc.toString(toStringOptions);
}

/** Adds `"name": port,` to the Tiltfile's SERVICES map (before the gateway). */
export function registerInTiltfile(text: string, input: RegistrationInput): string {
  const block = /SERVICES = \{\n([\s\S]*?)\n\}/.exec(text);
  if (!block || block.index === undefined) throw new Error("Tiltfile: no SERVICES = { … } map");
  const lines = (block[1] ?? "").split("\n");
  if (lines.some((line) => line.includes(`"${input.name}":`)))
    throw new Error(`Tiltfile: ${input.name} exists already`);
  const indent = /^(\s*)/.exec(lines[0] ?? "")?.[1] ?? "    ";
  const entry = `${indent}"${input.name}": ${input.ports.grpc},`;
  const gateway = lines.findIndex((line) => line.includes('"gateway":'));
  if (gateway >= 0) lines.splice(gateway, 0, entry);
  else lines.push(entry);
  const start = block.index + "SERVICES = {\n".length;
  return text.slice(0, start) + lines.join("\n") + text.slice(start + (block[1] ?? "").length);
}

/** Files changed by {@link registerEverywhere}, relative to the root. */
export type RegisteredFile = "charts/agora/values.yaml" | "skaffold.yaml" | "Tiltfile";

/**
 * Registers the service in each of the chart values, skaffold.yaml and the Tiltfile that exist under
 * `root`. Everything is computed first and written only when every file could be updated.
 */
export function registerEverywhere(root: string, input: RegistrationInput): RegisteredFile[] {
  const steps: Array<[RegisteredFile, (text: string, input: RegistrationInput) => string]> = [
    ["charts/agora/values.yaml", registerInChart],
    ["skaffold.yaml", registerInSkaffold],
    ["Tiltfile", registerInTiltfile],
  ];
  const updates: Array<[RegisteredFile, string]> = [];
  for (const [file, register] of steps) {
    const path = join(root, file);
    if (!existsSync(path)) continue;
    updates.push([file, register(readFileSync(path, "utf8"), input)]);
  }
  for (const [file, text] of updates) writeFileSync(join(root, file), text);
  return updates.map(([file]) => file);
}
