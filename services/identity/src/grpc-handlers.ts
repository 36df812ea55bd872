import type { IdentityServiceService } from "@agora/contracts/agora/identity/v1/identity_service";
import { check, NotFoundError, type ServiceHandlers } from "@agora/service-kit";
import type { Accounts } from "./accounts";
import type { CustomerStore } from "./customer-store";
import { toCustomer, validateLogin, validateRegistration } from "./customers";
import type { SigningKeyRing } from "./signing-keys";

/** The IdentityService RPCs: validate, call the domain, map to protos. Passwords are never logged. */
export function identityHandlers(deps: {
  accounts: Accounts;
  store: CustomerStore;
  keys: SigningKeyRing;
}): ServiceHandlers<typeof IdentityServiceService> {
  return {
    async registerCustomer(request) {
      const customer = await deps.accounts.register(validateRegistration(request));
      return { customer: toCustomer(customer) };
    },

    async login(request) {
      const { customer, token } = await deps.accounts.login(validateLogin(request));
      return {
        accessToken: token.token,
        tokenType: "Bearer",
        expireTime: token.expiresAt,
        customer: toCustomer(customer),
      };
    },

    async getCustomer(request, context) {
      const customerId = check.uuid("customer_id", request.customerId);
      // Ownership: through the gateway (customer id in the metadata) only one's own record.
      if (context.customerId !== undefined && context.customerId.toLowerCase() !== customerId) {
        throw new NotFoundError(`customer ${customerId} not found`);
      }
      return { customer: toCustomer(await deps.store.get(customerId)) };
    },

    async getJwks() {
      return { keys: await deps.keys.publishedKeys() };
    },
  };
}
