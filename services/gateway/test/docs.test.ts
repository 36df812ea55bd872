import { readFileSync } from "node:fs";
import { join } from "node:path";
import { descriptorSetBytes } from "@agora/contracts";
import { registryFromDescriptorSet } from "../src/descriptors";
import { routesFromRegistry } from "../src/route-table";
import { routesMarkdownTable, withRoutesTable } from "../src/routes-markdown";

describe("docs/gateway.md", () => {
  it("lists exactly the routes the gateway serves (regenerate with dist/routes-markdown.js --write)", () => {
    const path = join(__dirname, "../../../docs/gateway.md");
    const document = readFileSync(path, "utf8");
    const table = routesMarkdownTable(routesFromRegistry(registryFromDescriptorSet(descriptorSetBytes())));
    expect(withRoutesTable(document, table)).toBe(document);
  });
});
