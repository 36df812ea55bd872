import { join } from "node:path";
import { CustomerRegisteredEvent } from "@agora/contracts";
import { IdentityServiceService } from "@agora/contracts/agora/identity/v1/identity_service";
import { defineService, z } from "@agora/service-kit";
import { Accounts } from "./accounts";
import { CustomerStore } from "./customer-store";
import { parseAdminEmails, toCustomer } from "./customers";
import * as schema from "./db/schema";
import { identityHandlers } from "./grpc-handlers";
import { defaultScryptParameters, PasswordHasher } from "./passwords";
import { SigningKeyRing } from "./signing-keys";
import { TokenIssuer } from "./tokens";

/** The identity service: customers, credentials, access tokens and the keys that verify them. */
export const identityService = defineService({
  name: "identity",
  ports: { grpc: 50056, metrics: 9456 },
  config: {
    /** Lifetime of access tokens. */
    ACCESS_TOKEN_TTL_SECONDS: z.coerce.number().int().min(1).max(86_400).default(900),
    /** How long a signing key signs before the next one takes over. */
    SIGNING_KEY_ROTATION_HOURS: z.coerce.number().positive().default(24),
    /** How long before taking over a new key is already published in the JWKS. */
    SIGNING_KEY_PUBLISH_AHEAD_SECONDS: z.coerce.number().int().min(0).default(60),
    /** Comma-separated emails whose tokens carry the "admin" role. */
    ADMIN_EMAILS: z.string().default(""),
    /** scrypt cost: N = 2^PASSWORD_SCRYPT_LOG_N (r = 8, p = 3); 15 uses 32 MiB per hash. */
    PASSWORD_SCRYPT_LOG_N: z.coerce.number().int().min(10).max(22).default(defaultScryptParameters.logN),
  },
  database: { schema, migrationsFolder: join(__dirname, "..", "drizzle") },
  events: { publishes: [CustomerRegisteredEvent] },
  async setup({ config, database, logger, bind, outbox }) {
    const keys = new SigningKeyRing(database.db, {
      rotationMs: config.SIGNING_KEY_ROTATION_HOURS * 3_600_000,
      tokenTtlMs: config.ACCESS_TOKEN_TTL_SECONDS * 1000,
      publishAheadMs: config.SIGNING_KEY_PUBLISH_AHEAD_SECONDS * 1000,
    });
    const signer = await keys.signer(); // the JWKS is never empty once the service serves
    logger.info({ kid: signer.kid, generation: signer.generation }, "token signing key ready");
    const store = new CustomerStore(database.db, async (tx, row) => {
      await outbox.add(tx, CustomerRegisteredEvent, { customer: toCustomer(row) }, { aggregateId: row.customerId });
    });
    const hasher = new PasswordHasher({ ...defaultScryptParameters, logN: config.PASSWORD_SCRYPT_LOG_N });
    const tokens = new TokenIssuer(keys, { ttlSeconds: config.ACCESS_TOKEN_TTL_SECONDS });
    const adminEmails = parseAdminEmails(config.ADMIN_EMAILS);
    const accounts = new Accounts(store, hasher, tokens, adminEmails, logger);
    return { grpc: [bind(IdentityServiceService, identityHandlers({ accounts, store, keys }))] };
  },
});

if (require.main === module) identityService.main();
