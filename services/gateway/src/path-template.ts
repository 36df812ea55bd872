/** One segment of a path template: a literal, or a variable naming a request field. */
export type PathSegment =
  | { kind: "literal"; value: string }
  | { kind: "variable"; fieldPath: string; paramKey: string };

/** A parsed HTTP path template such as `/v1/orders/{order_id}/cancel`. */
export interface PathTemplate {
  /** The template as written in proto/. */
  readonly template: string;
  readonly segments: readonly PathSegment[];
  /** The same path in fastify's syntax: `/v1/orders/:order_id/cancel`. */
  readonly fastifyPath: string;
  /** Matches a concrete URL path (no query string) against the template. */
  readonly pattern: RegExp;
}

const literalSegment = /^[A-Za-z0-9._~-]+$/;
const fieldPathPattern = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;

/** Thrown when a template in proto/ cannot be served. */
export class PathTemplateError extends Error {
  constructor(template: string, reason: string) {
    super(`path template ${JSON.stringify(template)}: ${reason}`);
    this.name = "PathTemplateError";
  }
}

/**
 * Parses a path template: `/`-separated segments, each a literal (letters, digits, `._~-`) or a
 * whole-segment variable `{field}` / `{message_field.field}` naming the request field it fills.
 */
export function parsePathTemplate(template: string): PathTemplate {
  if (!template.startsWith("/")) throw new PathTemplateError(template, "must start with /");
  const raw = template.slice(1).split("/");
  if (template !== "/" && raw.some((segment) => segment === "")) {
    throw new PathTemplateError(template, "has an empty segment");
  }
  const segments: PathSegment[] = [];
  const seen = new Set<string>();
  for (const segment of template === "/" ? [] : raw) {
    const variable = /^\{([^{}]*)\}$/.exec(segment);
    if (variable) {
      const fieldPath = variable[1] ?? "";
      if (!fieldPathPattern.test(fieldPath)) {
        throw new PathTemplateError(template, `{${fieldPath}} must name a field, like {order_id} or {page.page_size}`);
      }
      if (seen.has(fieldPath)) throw new PathTemplateError(template, `{${fieldPath}} appears twice`);
      seen.add(fieldPath);
      segments.push({ kind: "variable", fieldPath, paramKey: fieldPath.replaceAll(".", "__") });
    } else if (literalSegment.test(segment)) {
      segments.push({ kind: "literal", value: segment });
    } else {
      throw new PathTemplateError(template, `segment ${JSON.stringify(segment)} is neither a literal nor {field}`);
    }
  }
  const fastifyPath = `/${segments.map((segment) => (segment.kind === "literal" ? segment.value : `:${segment.paramKey}`)).join("/")}`;
  const pattern = new RegExp(
    `^/${segments
      .map((segment) => (segment.kind === "literal" ? segment.value.replace(/[.~-]/g, "\\$&") : "[^/]+"))
      .join("/")}/?$`,
  );
  return { template, segments, fastifyPath, pattern };
}

/** The variables of a template, in order. */
export function pathVariables(template: PathTemplate): Array<Extract<PathSegment, { kind: "variable" }>> {
  return template.segments.filter(
    (segment): segment is Extract<PathSegment, { kind: "variable" }> => segment.kind === "variable",
  );
}
