/** Names a service cannot take: folders and packages that exist for other reasons, or words that mislead. */
export const reservedNames: ReadonlySet<string> = new Set([
  "gateway",
  "common",
  "options",
  "contracts",
  "service-kit",
  "testing",
  "loadgen",
  "new-service",
  "canary",
  "deploy-verify",
  "helm-render",
  "nats",
  "postgres",
  "tests",
  "agora",
]);

/** Why `name` cannot be a service name, or undefined when it can. */
export function nameProblem(name: string): string | undefined {
  if (name === "") return "the name is empty";
  if (!/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/.test(name)) {
    return `"${name}" is not a valid service name: use lower-case letters and digits in words joined by single dashes, starting with a letter (for example order-history)`;
  }
  if (name.length > 40) return `"${name}" is too long (at most 40 characters: it becomes DNS names and database names)`;
  if (/-v\d+$/.test(name)) {
    return `"${name}": versions belong in the proto package (agora.<context>.v2), not in the service name`;
  }
  if (reservedNames.has(name)) return `"${name}" is reserved in this repository`;
  return undefined;
}

/** The proto package's context segment: the name without dashes (order-history → orderhistory). */
export function contextOf(name: string): string {
  return name.replace(/-/g, "");
}

/** order-history → OrderHistory. */
export function pascalCase(name: string): string {
  return name
    .split(/[-_]/)
    .filter((part) => part !== "")
    .map((part) => part[0]?.toUpperCase() + part.slice(1))
    .join("");
}

/** order-history → orderHistory. */
export function camelCase(name: string): string {
  const pascal = pascalCase(name);
  return pascal.charAt(0).toLowerCase() + pascal.slice(1);
}

/** OrderView → order_view. */
export function snakeCase(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/-/g, "_")
    .toLowerCase();
}

/** order-history → ORDER_HISTORY (environment variable prefix, as the chart does it). */
export function envPrefix(name: string): string {
  return name.replace(/-/g, "_").toUpperCase();
}
