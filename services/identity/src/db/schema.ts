import { integer, jsonb, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";

/**
 * Registered customers. `email` is stored lower case and is unique; `password_hash` is a
 * self-describing scrypt string (`$scrypt$ln=15,r=8,p=3$<salt>$<hash>`, see passwords.ts) and never
 * leaves this service.
 */
export const customers = pgTable("customers", {
  customerId: uuid("customer_id").primaryKey(),
  email: text("email").notNull().unique(),
  displayName: text("display_name").notNull(),
  passwordHash: text("password_hash").notNull(),
  createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
});

/** A P-256 key as a JSON Web Key (public part: kty, crv, x, y; private adds d). */
export interface StoredJwk {
  kty: string;
  crv: string;
  x: string;
  y: string;
  d?: string;
}

/**
 * The token-signing keys. The newest active key (highest `generation` with `activates_at` passed)
 * signs; the next generation is inserted when the active one nears SIGNING_KEY_ROTATION_HOURS (the
 * unique generation makes that race-free between replicas). A superseded key keeps being published
 * in the JWKS until `retire_at`, when every token it signed has expired.
 *
 * The private key is stored as a JWK in this database. A real deployment would wrap it with a KMS
 * (envelope encryption) or keep it there and sign through it; see services/identity/README.md.
 */
export const signingKeys = pgTable(
  "signing_keys",
  {
    kid: text("kid").primaryKey(),
    generation: integer("generation").notNull().unique(),
    algorithm: text("algorithm").notNull(),
    publicJwk: jsonb("public_jwk").$type<StoredJwk>().notNull(),
    privateJwk: jsonb("private_jwk").$type<StoredJwk>().notNull(),
    /** When the key was made and first published in the JWKS. */
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull(),
    /** When it starts signing: a rotated-in key is published ahead, so verifiers know it first. */
    activatesAt: timestamp("activates_at", { withTimezone: true, mode: "date" }).notNull(),
    /**
     * Set when a successor is made: the successor's activation + token lifetime + grace, when every
     * token this key signed has expired. From then on it is no longer published, and it is deleted.
     */
    retireAt: timestamp("retire_at", { withTimezone: true, mode: "date" }),
  },
  // No index besides the keys: a handful of rows at any time (signer, pre-published successor,
  // predecessors not yet retired).
);

export type CustomerRow = typeof customers.$inferSelect;
export type SigningKeyRow = typeof signingKeys.$inferSelect;
