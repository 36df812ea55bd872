import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";
import { ReflectionClient } from "../src";

const protoRoot = join(__dirname, "../../../proto");

/**
 * The stock @grpc/reflection serves descriptors with empty dependency lists (FACTS.md). The reflection
 * client must fail against it exactly where grpcurl fails — otherwise tests passing with it prove nothing.
 */
describe("ReflectionClient against the stock @grpc/reflection", () => {
  let server: grpc.Server;
  let address: string;

  beforeAll(async () => {
    const definition = protoLoader.loadSync("agora/catalog/v1/catalog_service.proto", { includeDirs: [protoRoot] });
    server = new grpc.Server();
    new ReflectionService(definition).addToServer(server);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    address = `127.0.0.1:${port}`;
  });

  afterAll(() => server.forceShutdown());

  it("lists services (which is why `grpcurl list` hides the problem)", async () => {
    const client = new ReflectionClient(address);
    try {
      expect(await client.listServices()).toContain("agora.catalog.v1.CatalogService");
    } finally {
      client.close();
    }
  });

  it("cannot describe a message that uses an imported type or a well-known type", async () => {
    const client = new ReflectionClient(address);
    try {
      await expect(client.describe("agora.catalog.v1.Product")).rejects.toThrow();
    } finally {
      client.close();
    }
  });
});
