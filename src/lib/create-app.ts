import { OpenAPIHono } from "@hono/zod-openapi";
import { except } from "hono/combine";
import { corsPolicy } from "./cors";
import { ApiError } from "./errors/api-error";
import { notFound, onError } from "./errors/respond";
import { toValidationIssues } from "./errors/validation-issues";
import { databaseSession, requestContext, services } from "./request-context";
import type { AppBindings, AppOpenAPI } from "./types";

const locations = { json: "body", param: "path", query: "query", header: "header" } as const;

/** A router with the app's bindings and its validation hook: every router comes from here. */
export function createRouter(): AppOpenAPI {
  return new OpenAPIHono<AppBindings>({
    strict: true,
    defaultHook: (result) => {
      if (!result.success) {
        const location = locations[result.target as keyof typeof locations] ?? "body";
        throw new ApiError(
          "validation_error",
          toValidationIssues(result.error, location, (result as { data?: unknown }).data),
        );
      }
    },
  });
}

/** The application shell: request id, security headers, CORS, the D1 session, config, errors. */
export function createApp(): AppOpenAPI {
  const app = createRouter();
  app.use("*", requestContext);
  // The bucket emulation answers CORS as the bucket would, with its own rule (s3-emulation/bucket-cors.ts).
  app.use("*", except("/__s3/*", corsPolicy));
  // The API and the webhook use D1; before the configuration, so a configuration 500 carries the bookmark too.
  for (const path of ["/api/*", "/webhooks/*"]) app.use(path, databaseSession);
  // /healthz, /docs and /openapi.json work without configuration; everything else needs it.
  for (const path of ["/api/*", "/webhooks/*", "/__s3/*", "/avatars/*"]) app.use(path, services);
  app.onError(onError);
  app.notFound(notFound);
  return app;
}

/**
 * Answer 405 (with `Allow`) for a known path asked with a method it does not serve, instead of
 * a 404 that would suggest the path does not exist. Call after every route is registered.
 */
export function rejectOtherMethods(app: AppOpenAPI) {
  const allowed = new Map<string, Set<string>>();
  for (const route of app.routes) {
    if (route.method === "ALL") continue;
    const methods = allowed.get(route.path) ?? new Set<string>(["OPTIONS"]);
    methods.add(route.method);
    if (route.method === "GET") methods.add("HEAD");
    allowed.set(route.path, methods);
  }
  for (const [path, methods] of allowed) {
    const allow = [...methods].join(", ");
    app.all(path, (c) => {
      throw new ApiError("method_not_allowed", `Method ${c.req.method} is not allowed here.`, {
        Allow: allow,
      });
    });
  }
}
