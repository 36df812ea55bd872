import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { camelCase, contextOf, nameProblem, pascalCase, snakeCase } from "../src/names";
import { readServices, type ServiceModel } from "../src/proto-model";
import { chartEntry, registerInChart, registerInSkaffold, registerInTiltfile } from "../src/registration";
import { nextPorts } from "../src/repo";
import { tableFor } from "../src/templates";
import { repoRoot } from "./temp-repo";

describe("names", () => {
  it("derives the proto context and code names", () => {
    expect(contextOf("order-history")).toBe("orderhistory");
    expect(pascalCase("order-history")).toBe("OrderHistory");
    expect(camelCase("order-history")).toBe("orderHistory");
    expect(snakeCase("OrderView")).toBe("order_view");
  });

  it.each([
    ["order-history", undefined],
    ["a1", undefined],
    ["", /empty/],
    ["Order", /not a valid service name/],
    ["order--history", /not a valid service name/],
    ["-order", /not a valid service name/],
    ["order_history", /not a valid service name/],
    ["1order", /not a valid service name/],
    ["order-v2", /versions belong in the proto package/],
    ["service-kit", /reserved/],
    ["a".repeat(41), /too long/],
  ])("%j → %s", (name, problem) => {
    if (problem === undefined) expect(nameProblem(name)).toBeUndefined();
    else expect(nameProblem(name)).toMatch(problem);
  });
});

describe("ports", () => {
  it("takes the next port after the reserved ranges and everything in use", () => {
    expect(nextPorts({ grpc: [50051, 50052], metrics: [9451] })).toEqual({ grpc: 50059, metrics: 9459 });
    expect(nextPorts({ grpc: [50051, 50061], metrics: [9460] })).toEqual({ grpc: 50062, metrics: 9461 });
  });
});

describe("reading services from the compiled descriptors", () => {
  const descriptors = readFileSync(join(repoRoot, "packages/contracts/descriptors.binpb"));

  it("reads the order service with streaming kinds, http options, comments and events", () => {
    const [order, ...others] = readServices(descriptors, "order");
    expect(others).toEqual([]);
    expect(order?.fullName).toBe("agora.order.v1.OrderService");
    expect(order?.importPath).toBe("@agora/contracts/agora/order/v1/order_service");
    expect(order?.definitionName).toBe("OrderServiceService");
    const watch = order?.rpcs.find((rpc) => rpc.name === "WatchOrder");
    expect(watch).toMatchObject({
      kind: "server_streaming",
      http: true,
      path: "/agora.order.v1.OrderService/WatchOrder",
      requestName: "WatchOrderRequest",
      requestImportPath: "@agora/contracts/agora/order/v1/order_service",
    });
    expect(watch?.comment).toMatch(/^Streams the order now and after every status change/);
    expect(order?.events).toContain("agora.order.confirmed");
    expect(order?.resources).toContain("Order");
    expect(order?.resources).not.toContain("PlaceOrderRequest");
  });

  it("tells RPCs the gateway exposes from internal ones", () => {
    const [inventory] = readServices(descriptors, "inventory");
    const http = Object.fromEntries((inventory?.rpcs ?? []).map((rpc) => [rpc.name, rpc.http]));
    expect(http.GetStock).toBe(true);
    expect(http.ReserveStock).toBe(false);
  });

  it("finds nothing for a context without proto", () => {
    expect(readServices(descriptors, "nosuchcontext")).toEqual([]);
  });

  it("names the first table after the resource most RPCs are about", () => {
    const [order] = readServices(descriptors, "order");
    expect(tableFor("order", order as ServiceModel)).toEqual({
      resource: "Order",
      constName: "orders",
      sqlName: "orders",
      rowType: "OrderRow",
      idField: "orderId",
      idColumn: "order_id",
    });
    const [history] = readServices(descriptors, "orderhistory");
    expect(tableFor("order-history", history as ServiceModel).sqlName).toBe("order_views");
    expect(tableFor("gift-box", { ...(order as ServiceModel), resources: [] }).sqlName).toBe("gift_boxes");
  });
});

const service: ServiceModel = {
  protoPackage: "agora.giftcard.v1",
  name: "GiftCardService",
  fullName: "agora.giftcard.v1.GiftCardService",
  file: "agora/giftcard/v1/gift_card_service.proto",
  importPath: "@agora/contracts/agora/giftcard/v1/gift_card_service",
  definitionName: "GiftCardServiceService",
  comment: "Gift cards.",
  rpcs: [
    {
      name: "GetCard",
      path: "/agora.giftcard.v1.GiftCardService/GetCard",
      requestType: "agora.giftcard.v1.GetCardRequest",
      responseType: "agora.giftcard.v1.GetCardResponse",
      requestName: "GetCardRequest",
      requestImportPath: "@agora/contracts/agora/giftcard/v1/gift_card_service",
      kind: "unary",
      http: true,
      comment: "",
    },
  ],
  events: [],
  resources: ["Card"],
};
const input = { name: "gift-card", service, ports: { grpc: 50059, metrics: 9459 }, nats: false };

describe("registration", () => {
  it("adds the chart entry before the gateway, with a comment, and keeps every other byte", () => {
    const text = [
      "# Services.",
      "services:",
      "  # The catalog.",
      "  catalog:",
      "    grpcPort: 50051",
      "    calls: {}",
      "  gateway:",
      "    calls:",
      "      catalog: [ListProducts, GetProduct] # reads",
      "",
    ].join("\n");
    const out = registerInChart(text, input);
    expect(out).toBe(
      [
        "# Services.",
        "services:",
        "  # The catalog.",
        "  catalog:",
        "    grpcPort: 50051",
        "    calls: {}",
        "  # agora.giftcard.v1.GiftCardService, scaffolded by tools/new-service. Add what it calls under calls.",
        "  gift-card:",
        "    enabled: true",
        "    image:",
        "      repository: agora-gift-card",
        '      tag: ""',
        "    grpcService: agora.giftcard.v1.GiftCardService",
        "    grpcPort: 50059",
        "    metricsPort: 9459",
        "    database: true",
        "    nats: false",
        "    calls: {}",
        "  gateway:",
        "    calls:",
        "      catalog: [ListProducts, GetProduct] # reads",
        "      gift-card: [GetCard]",
        "",
      ].join("\n"),
    );
    expect(() => registerInChart(out, input)).toThrow(/services\.gift-card exists already/);
  });

  it("matches the chart schema's service entry", () => {
    const schema = JSON.parse(readFileSync(join(repoRoot, "charts/agora/values.schema.json"), "utf8"));
    const entrySchema = schema.properties.services.additionalProperties;
    const entry = chartEntry({
      ...input,
      service: { ...service, rpcs: [{ ...service.rpcs[0], kind: "server_streaming" } as never] },
    });
    for (const key of Object.keys(entry)) expect(Object.keys(entrySchema.properties)).toContain(key);
    expect(entry.grpcService).toMatch(new RegExp(entrySchema.properties.grpcService.pattern));
    expect(entry.streamingMethods).toEqual(["GetCard"]);
    expect("gift-card").toMatch(new RegExp(schema.properties.services.propertyNames.pattern));
  });

  it("registers the artifact, image values, port-forward and dev patches in skaffold.yaml", () => {
    const text = readFileSync(join(repoRoot, "skaffold.yaml"), "utf8");
    const doc = parse(registerInSkaffold(text, input));
    const original = parse(text);
    const index = original.build.artifacts.length;
    expect(doc.build.artifacts[index]).toEqual({
      ...original.build.artifacts[0],
      image: "agora-gift-card",
      docker: { ...original.build.artifacts[0].docker, buildArgs: { SERVICE: "gift-card" } },
    });
    const templates = doc.deploy.helm.releases[0].setValueTemplates;
    expect(templates["services.gift-card.image.repository"]).toBe("{{.IMAGE_REPO_agora_gift_card}}");
    expect(templates["services.gift-card.image.tag"]).toBe("{{.IMAGE_TAG_agora_gift_card}}");
    expect(doc.portForward).toContainEqual({
      resourceType: "service",
      resourceName: "gift-card",
      namespace: "agora",
      port: 50059,
      localPort: 50059,
    });
    const dev = doc.profiles.find((profile: { name: string }) => profile.name === "dev");
    expect(dev.patches).toContainEqual({ op: "add", path: `/build/artifacts/${index}/docker/target`, value: "dev" });
    expect(dev.patches.at(-1)).toEqual(
      original.profiles.find((profile: { name: string }) => profile.name === "dev").patches.at(-1),
    );
    expect(() => registerInSkaffold(registerInSkaffold(text, input), input)).toThrow(/agora-gift-card exists already/);
  });

  it("adds the service to the Tiltfile's SERVICES before the gateway", () => {
    const text = 'X = 1\nSERVICES = {\n    "catalog": 50051,\n    "gateway": 8080,\n}\nfor name in SERVICES:\n';
    expect(registerInTiltfile(text, input)).toBe(
      'X = 1\nSERVICES = {\n    "catalog": 50051,\n    "gift-card": 50059,\n    "gateway": 8080,\n}\nfor name in SERVICES:\n',
    );
    expect(() => registerInTiltfile("nothing here", input)).toThrow(/no SERVICES/);
  });
});
