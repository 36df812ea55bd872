import { readFileSync, writeFileSync } from "node:fs";
import { descriptorSetBytes } from "@agora/contracts";
import { registryFromDescriptorSet } from "./descriptors";
import { type HttpRoute, routesFromRegistry } from "./route-table";

/** Markers around the generated table in docs/gateway.md. */
export const routesTableMarkers = { start: "<!-- routes:start -->", end: "<!-- routes:end -->" } as const;

const accessLabel = { public: "public", customer: "customer", admin: "admin" } as const;

function cell(text: string): string {
  return text.replaceAll("|", "\\|").replaceAll("\n", " ");
}

/**
 * The routes table of docs/gateway.md: one row per annotated RPC plus the composed product route,
 * in path order — generated from the same descriptors the gateway serves.
 */
export function routesMarkdownTable(routes: readonly HttpRoute[]): string {
  const rows = routes.map((route) => ({
    path: route.path.template,
    cells: [
      route.method,
      `\`${route.path.template}\``,
      accessLabel[route.access],
      `${route.successStatus}${route.serverStreaming ? " (SSE)" : ""}`,
      `\`${route.rpc.parent.name}.${route.rpc.name}\``,
      cell(route.summary),
    ],
  }));
  rows.push({
    path: "/v1/products/{product_id}",
    cells: [
      "GET",
      "`/v1/products/{product_id}`",
      "public",
      "200",
      "`CatalogService.GetProduct` + `InventoryService.GetStock`",
      "Returns a product with its live stock (composed by the gateway).",
    ],
  });
  rows.sort((a, b) => a.path.localeCompare(b.path));
  return alignedTable(
    ["Method", "Path", "Access", "Success", "RPC", "Summary"],
    rows.map((row) => row.cells),
  );
}

/** A Markdown table with padded columns, as the repository's formatter (Biome) writes them. */
function alignedTable(header: string[], rows: string[][]): string {
  const widths = header.map((title, column) =>
    Math.max(title.length, 3, ...rows.map((row) => (row[column] ?? "").length)),
  );
  const line = (cells: string[]) => `| ${cells.map((text, column) => text.padEnd(widths[column] ?? 0)).join(" | ")} |`;
  return [line(header), line(widths.map((width) => "-".repeat(width))), ...rows.map(line)].join("\n");
}

/** Replaces the text between the markers of `document` with `table`. */
export function withRoutesTable(document: string, table: string): string {
  const start = document.indexOf(routesTableMarkers.start);
  const end = document.indexOf(routesTableMarkers.end);
  if (start < 0 || end < start)
    throw new Error(`the document has no ${routesTableMarkers.start} … ${routesTableMarkers.end}`);
  return `${document.slice(0, start + routesTableMarkers.start.length)}\n${table}\n${document.slice(end)}`;
}

// `node dist/routes-markdown.js` prints the table; `--write docs/gateway.md` updates the document.
if (require.main === module) {
  const table = routesMarkdownTable(routesFromRegistry(registryFromDescriptorSet(descriptorSetBytes())));
  const target = process.argv.indexOf("--write");
  const file = target > 0 ? process.argv[target + 1] : undefined;
  if (file) writeFileSync(file, withRoutesTable(readFileSync(file, "utf8"), table));
  else process.stdout.write(`${table}\n`);
}
