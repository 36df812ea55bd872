import { addReflection, agoraDescriptors } from "@agora/service-kit";
import * as grpc from "@grpc/grpc-js";
import { ReflectionClient } from "../src";

/**
 * grpcurl resolves any valid import graph. agora/order/v1/order_service.proto imports
 * agora/common/v1/address.proto and agora/order/v1/order.proto, which imports address.proto too: a
 * diamond, on which protobuf-es's resolver form of createFileRegistry adds order.proto before
 * address.proto. The client must resolve it like grpcurl does.
 */
describe("ReflectionClient on a diamond of imports (the kit's reflection)", () => {
  let server: grpc.Server;
  let address: string;

  beforeAll(async () => {
    server = new grpc.Server();
    addReflection(server, agoraDescriptors(), () => ["agora.order.v1.OrderService"]);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    address = `127.0.0.1:${port}`;
  });

  afterAll(() => server.forceShutdown());

  it("describes the order service and a message whose imports form a diamond", async () => {
    const client = new ReflectionClient(address);
    try {
      const service = await client.describe("agora.order.v1.OrderService");
      expect(service.kind).toBe("service");
      const order = await client.describe("agora.order.v1.Order");
      expect(order.kind === "message" && order.fields.map((field) => field.name)).toContain("shipping_address");
    } finally {
      client.close();
    }
  });
});
