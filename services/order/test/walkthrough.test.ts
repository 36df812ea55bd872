import { readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import {
  freePort,
  ReflectionClient,
  type ServiceProcess,
  spawnServiceProcess,
  startTestNats,
  type TestNats,
  waitUntil,
} from "@agora/testing";
import { type DescService, fromBinary, fromJson, type JsonValue, toBinary, toJson } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { entryOf } from "./support/agora-system";
import { commandSubstitution, jq, pipelineOf, type ShellCommand, splitCommands, tokenize } from "./support/shell";

// docs/order-walkthrough.md, run the way a new user would: the services started with the environment
// its step 0 gives them (embedded databases, demo data), then every command of every step in order,
// grpcurl played by the ReflectionClient (it resolves types through server reflection exactly like
// grpcurl), `VAR=$(… | jq -r …)` and all. Documented errors (`# ERROR: Code: … Message: …`) must be
// the errors that come back. Only the addresses differ: the test maps the documented default ports to
// free ones, and NATS is the test's own server.

jest.setTimeout(120_000);

const docPath = join(__dirname, "..", "..", "..", "docs", "order-walkthrough.md");

/** grpcurl's names of the status codes (Go's codes.Code). */
const goCodeNames: Record<number, string> = {
  1: "Canceled",
  2: "Unknown",
  3: "InvalidArgument",
  4: "DeadlineExceeded",
  5: "NotFound",
  6: "AlreadyExists",
  7: "PermissionDenied",
  8: "ResourceExhausted",
  9: "FailedPrecondition",
  10: "Aborted",
  11: "OutOfRange",
  12: "Unimplemented",
  13: "Internal",
  14: "Unavailable",
  15: "DataLoss",
  16: "Unauthenticated",
};

class GrpcurlError extends Error {
  constructor(
    readonly code: string,
    readonly details: string,
  ) {
    super(`ERROR: Code: ${code}  Message: ${details}`);
  }
}

/** The ```sh blocks of a Markdown document, in order. */
function shellBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/```sh\n([\s\S]*?)```/g)].map((match) => match[1] as string);
}

/** The documented default gRPC port of each service (the "agora" block of its package.json). */
function documentedPort(service: string): number {
  const manifest = JSON.parse(readFileSync(join(__dirname, "..", "..", service, "package.json"), "utf8")) as {
    agora: { grpcPort: number };
  };
  return manifest.agora.grpcPort;
}

interface Result {
  readonly command: string;
  readonly method?: string;
  readonly output?: string;
  readonly messages?: JsonValue[];
  readonly error?: GrpcurlError;
}

describe("docs/order-walkthrough.md", () => {
  it("reads shell commands the way sh does", () => {
    const [first, second, third] = splitCommands(
      'A=$(grpcurl -d \'{\n "x": 1\n}\' h:1 s/M | jq -r .a.b)\necho "$A" \\\n  more\n# ERROR: Code: X\n',
    );
    expect(first?.text).toBe("A=$(grpcurl -d '{\n \"x\": 1\n}' h:1 s/M | jq -r .a.b)");
    expect(second).toEqual({ text: 'echo "$A"    more', comments: ["ERROR: Code: X"] });
    expect(third).toBeUndefined();
    const substitution = commandSubstitution(first?.text as string);
    expect(substitution?.name).toBe("A");
    expect(pipelineOf(tokenize(substitution?.pipeline as string, {}))).toEqual([
      ["grpcurl", "-d", '{\n "x": 1\n}', "h:1", "s/M"],
      ["jq", "-r", ".a.b"],
    ]);
    expect(tokenize('-d "{\\"orderId\\": \\"$ID\\"}" \'$ID\'', { ID: "42" })).toEqual([
      "-d",
      '{"orderId": "42"}',
      "$ID",
    ]);
    expect(jq(["-r", ".order.orderId"], '{"order": {"orderId": "o-1"}}')).toBe("o-1\n");
  });

  describe("run as written against the services started as documented", () => {
    const markdown = readFileSync(docPath, "utf8");
    const blocks = shellBlocks(markdown);
    let nats: TestNats;
    const processes: ServiceProcess[] = [];
    const addressOf = new Map<string, string>();
    const reflection = new Map<string, ReflectionClient>();
    const results: Result[] = [];

    beforeAll(async () => {
      nats = await startTestNats();
      const starts = splitCommands(blocks[0] as string).map((command) => {
        const match = /^((?:[A-Z_]+=\S+\s+)+)\.\/agora run (\S+)$/.exec(command.text);
        if (!match) throw new Error(`step 0: not a service start: ${command.text}`);
        const env = Object.fromEntries(
          (match[1] as string)
            .trim()
            .split(/\s+/)
            .map((pair) => pair.split("=") as [string, string]),
        );
        return { service: match[2] as string, env };
      });
      expect(starts.map((start) => start.service)).toEqual(["catalog", "inventory", "payment", "shipping", "order"]);
      const ports = new Map<string, { grpc: number; metrics: number }>();
      for (const { service } of starts) {
        ports.set(service, { grpc: await freePort(), metrics: await freePort() });
        addressOf.set(`127.0.0.1:${documentedPort(service)}`, `127.0.0.1:${ports.get(service)?.grpc}`);
      }
      const downstreamAddresses = Object.fromEntries(
        starts.map(({ service }) => [`${service.toUpperCase()}_ADDR`, `127.0.0.1:${ports.get(service)?.grpc}`]),
      );
      for (const { service, env } of starts) {
        expect(env.NATS_URL).toBe("nats://127.0.0.1:4222");
        processes.push(
          await spawnServiceProcess(
            entryOf(service),
            {
              ...env,
              ...downstreamAddresses,
              NATS_URL: nats.url,
              NATS_SUBJECT_PREFIX: nats.subjectPrefix,
              DATABASE_URL: undefined,
            },
            { ports: ports.get(service) },
          ),
        );
      }
      // Inventory stocks the demo products from catalog's events: a reader starting five terminals
      // takes longer than that.
      const inventory = new ReflectionClient(`127.0.0.1:${ports.get("inventory")?.grpc}`);
      try {
        await waitUntil(
          () =>
            inventory
              .invoke("agora.inventory.v1.InventoryService/GetStock", { skus: ["AG-COF-001", "AG-COF-003"] })
              .then(
                () => true,
                () => false,
              ),
          30_000,
          "demo stock",
        );
      } finally {
        inventory.close();
      }
    }, 120_000);

    afterAll(async () => {
      for (const client of reflection.values()) client.close();
      for (const started of processes.reverse()) await started.stop();
      await nats?.close();
    });

    function reflectionFor(address: string): ReflectionClient {
      const mapped = addressOf.get(address);
      if (!mapped) throw new Error(`the walk-through calls ${address}, which is none of the documented services`);
      let client = reflection.get(mapped);
      if (!client) {
        client = new ReflectionClient(mapped);
        reflection.set(mapped, client);
      }
      return client;
    }

    /** What `grpcurl -plaintext [-d json] address method` prints (one JSON document per message). */
    async function grpcurl(
      args: readonly string[],
    ): Promise<{ method: string; output: string; messages: JsonValue[] }> {
      const positional: string[] = [];
      let data = "{}";
      for (let index = 0; index < args.length; index++) {
        const arg = args[index] as string;
        if (arg === "-plaintext") continue;
        if (arg === "-d") data = args[++index] as string;
        else if (arg.startsWith("-")) throw new Error(`grpcurl flag ${arg} is not supported by this test`);
        else positional.push(arg);
      }
      expect(args).toContain("-plaintext");
      const [address, method] = positional as [string, string];
      const client = reflectionFor(address);
      const [serviceName, methodName] = method.split("/") as [string, string];
      const service = (await client.describe(serviceName)) as DescService;
      const descriptor = service.methods.find((candidate) => candidate.name === methodName);
      if (!descriptor) throw new Error(`${method}: no such method`);
      const request = JSON.parse(data) as JsonValue;
      let messages: JsonValue[];
      try {
        if (descriptor.methodKind === "server_streaming") {
          const channel = new grpc.Client(addressOf.get(address) as string, grpc.credentials.createInsecure());
          try {
            const call = channel.makeServerStreamRequest(
              `/${method}`,
              (bytes: Buffer) => bytes,
              (bytes: Buffer) => bytes,
              Buffer.from(toBinary(descriptor.input, fromJson(descriptor.input, request))),
              new grpc.Metadata(),
              { deadline: new Date(Date.now() + 60_000) },
            );
            messages = [];
            for await (const bytes of call as AsyncIterable<Buffer>) {
              messages.push(toJson(descriptor.output, fromBinary(descriptor.output, bytes)));
            }
          } finally {
            channel.close();
          }
        } else {
          messages = [await client.invoke(method, request)];
        }
      } catch (error) {
        const { code, details } = error as grpc.ServiceError;
        if (typeof code !== "number") throw error;
        throw new GrpcurlError(goCodeNames[code] ?? String(code), details);
      }
      return {
        method: methodName,
        output: messages.map((message) => `${JSON.stringify(message, null, 2)}\n`).join(""),
        messages,
      };
    }

    async function runPipeline(text: string, vars: Record<string, string>, record: (result: Result) => void) {
      let output = "";
      for (const argv of pipelineOf(tokenize(text, vars))) {
        const [program, ...args] = argv as [string, ...string[]];
        if (program === "grpcurl") {
          try {
            const called = await grpcurl(args);
            record({ command: text, method: called.method, output: called.output, messages: called.messages });
            output = called.output;
          } catch (error) {
            if (!(error instanceof GrpcurlError)) throw error;
            record({ command: text, error });
            return undefined;
          }
        } else if (program === "jq") output = jq(args, output);
        else if (program === "echo") output = `${args.join(" ")}\n`;
        else throw new Error(`the walk-through runs ${program}, which this test does not know`);
      }
      return output;
    }

    function expectedError(command: ShellCommand): RegExp | undefined {
      const line = command.comments.find((comment) => comment.startsWith("ERROR:"));
      if (!line) return undefined;
      const pattern = line
        .split("…")
        .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
        .join(".*");
      return new RegExp(`^${pattern}$`);
    }

    it("works step by step: the order confirms, ships, and stock and payment change as described", async () => {
      const vars: Record<string, string> = {};
      for (const block of blocks.slice(1)) {
        for (const command of splitCommands(block)) {
          const before = results.length;
          const record = (result: Result) => results.push(result);
          const substitution = commandSubstitution(command.text);
          const output = substitution
            ? await runPipeline(substitution.pipeline, vars, record)
            : await runPipeline(command.text, vars, record);
          if (substitution) vars[substitution.name] = (output ?? "").replace(/\n+$/, "");
          const expected = expectedError(command);
          const failed = results.slice(before).find((result) => result.error);
          if (expected) {
            expect(failed?.error?.message).toMatch(expected);
          } else if (failed) {
            throw new Error(`${command.text}\n  failed: ${failed.error?.message}`);
          }
        }
        // A reader takes a moment between two steps.
        await sleep(1000);
      }

      const calls = (method: string) => results.filter((result) => result.method === method);
      /** A value inside the first message of a result, by path ("order", "status"). */
      const pick = (result: Result | undefined, ...path: Array<string | number>): unknown =>
        path.reduce<unknown>(
          (value, key) => (value as Record<string | number, unknown> | undefined)?.[key],
          result?.messages?.[0],
        );
      // Step 2: PENDING at once, priced, card kept as a summary.
      const placement = calls("PlaceOrder")[0];
      expect(pick(placement, "order", "status")).toBe("ORDER_STATUS_PENDING");
      expect(pick(placement, "order", "paymentMethodSummary")).toBe("visa •••• 4242");
      expect(pick(placement, "order", "total")).toEqual({ currencyCode: "EUR", units: "119", nanos: 800000000 });
      expect(vars.ORDER_ID).toBe(pick(placement, "order", "orderId"));
      // Step 3: the watch ends at SHIPPED, after CONFIRMED.
      const watched = (calls("WatchOrder")[0]?.messages ?? []).map(
        (message) => (message as { order?: { status?: string } }).order?.status,
      );
      expect(watched.at(-1)).toBe("ORDER_STATUS_SHIPPED");
      expect(watched).toContain("ORDER_STATUS_CONFIRMED");
      // Steps 1 and 4: two kettles fewer on hand; step 5: the declined order's kettle is back, as in step 4.
      const stocks = calls("GetStock").map((result) => pick(result, "levels", 0));
      expect(stocks).toHaveLength(3);
      const [stockBefore, stockAfter, stockAfterDecline] = stocks as Array<{ onHand: number; available: number }>;
      expect(stockAfter?.onHand).toBe((stockBefore?.onHand as number) - 2);
      expect({ onHand: stockAfterDecline?.onHand, available: stockAfterDecline?.available }).toEqual({
        onHand: stockAfter?.onHand,
        available: stockAfter?.available,
      });
      // Step 4: captured, dispatched, shipped.
      const payments = calls("GetPayment").map((result) => pick(result, "payment", "status"));
      expect(payments[0]).toBe("PAYMENT_STATUS_CAPTURED");
      expect(pick(calls("GetShipment")[0], "shipment", "status")).toBe("SHIPMENT_STATUS_DISPATCHED");
      expect(pick(calls("GetOrder")[0], "order", "status")).toBe("ORDER_STATUS_SHIPPED");
      // Step 5: the declined order's watch ends REJECTED; the list has it first, newest first.
      const declined = (calls("WatchOrder")[1]?.messages ?? []).map(
        (message) => (message as { order?: { status?: string; orderId?: string } }).order,
      );
      expect(declined.at(-1)?.status).toBe("ORDER_STATUS_REJECTED");
      expect(declined.at(-1)?.orderId).toBe(vars.DECLINED_ID);
      const list = calls("ListOrders")[0];
      expect(pick(list, "orders", 0, "status")).toBe("ORDER_STATUS_REJECTED");
      expect(pick(list, "orders", 0, "statusReason")).toMatch(/^payment declined: /);
      expect(pick(list, "orders", 1, "orderId")).toBe(vars.ORDER_ID);
      // Step 6: confirmed (authorized) before the cancellation, then cancelled and voided.
      expect(pick(calls("GetOrder")[1], "order", "status")).toBe("ORDER_STATUS_CONFIRMED");
      expect(pick(calls("GetOrder")[1], "order", "paymentId")).toMatch(/.+/);
      const cancellation = calls("CancelOrder")[0];
      expect(pick(cancellation, "order", "status")).toBe("ORDER_STATUS_CANCELLED");
      expect(pick(cancellation, "order", "orderId")).toBe(vars.CANCEL_ID);
      expect(payments[1]).toBe("PAYMENT_STATUS_VOIDED");
    });
  });
});
