import Ajv2020 from "ajv/dist/2020";
import addFormats from "ajv-formats";
import type { OpenApiObject } from "../../src/openapi";

const defsId = "urn:agora:openapi";

/** Rewrites `#/components/schemas/X` references to `urn:agora:openapi#/$defs/X`. */
function rewriteRefs(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(rewriteRefs);
  if (typeof value !== "object" || value === null) return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => [
      key,
      key === "$ref" && typeof item === "string"
        ? item.replace("#/components/schemas/", `${defsId}#/$defs/`)
        : rewriteRefs(item),
    ]),
  );
}

/**
 * Validates JSON against the component schemas of an OpenAPI 3.1 document with Ajv in JSON Schema
 * 2020-12 mode (the dialect OpenAPI 3.1 uses), strict, with the formats the document uses.
 */
export class OpenApiSchemas {
  private readonly ajv = new Ajv2020({ strict: true, allErrors: true });

  constructor(document: OpenApiObject) {
    addFormats(this.ajv);
    for (const format of ["int32", "int64", "uint64", "double", "float"]) this.ajv.addFormat(format, true);
    const components = document.components as { schemas: Record<string, unknown> };
    this.ajv.addSchema({ $id: defsId, $defs: rewriteRefs(components.schemas) as Record<string, unknown> });
  }

  /** Checks a schema against the 2020-12 meta-schema; returns the errors as text ("" when valid). */
  metaErrors(schema: unknown): string {
    return this.ajv.validateSchema(rewriteRefs(schema) as object) ? "" : this.ajv.errorsText(this.ajv.errors);
  }

  /** Validates `value` against the named component; returns the errors as text ("" when valid). */
  errors(component: string, value: unknown): string {
    const validate = this.ajv.getSchema(`${defsId}#/$defs/${component}`);
    if (!validate) throw new Error(`no component schema ${component}`);
    return validate(value) ? "" : this.ajv.errorsText(validate.errors);
  }
}
