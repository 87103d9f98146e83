import { ISSUER } from "./tokens";
import { JWKS_URL } from "./workos";

/** A complete production configuration (over the test env's secrets) that the worker accepts. */
export const PRODUCTION = {
  ENVIRONMENT: "production",
  WORKOS_CLIENT_ID: "client_01HZY3M4K5N6P7Q8R9S0T1V2W3",
  // The test tokens' issuer and the mocked JWKS, named explicitly: the defaults follow the client id.
  WORKOS_ISSUERS: ISSUER,
  WORKOS_JWKS_URL: JWKS_URL,
  WORKOS_JWKS: "",
  WORKOS_API_URL: "https://workos-api.test",
  R2_ACCOUNT_ID: "0123456789abcdef0123456789abcdef",
  R2_S3_ENDPOINT: "",
  LOCAL_S3_EMULATION: "false",
};
