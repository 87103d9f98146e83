import { version } from "../../../package.json";
import { createRouter } from "../../lib/create-app";
import type { AppOpenAPI } from "../../lib/types";
import { docsPagePolicy } from "../pages/content-security-policy";
import { servePage } from "../pages/serve-page";

/**
 * `/openapi.json`, generated from the zod route definitions, and `/docs`, a page that renders it
 * with Swagger UI from the worker's own assets (public/docs/), so it needs no CDN.
 */
export function mountDocs(app: AppOpenAPI) {
  app.openAPIRegistry.registerComponent("securitySchemes", "Bearer", {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description: "A WorkOS access token.",
  });
  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "Profile-picture API",
      // One source for the version: package.json's, bundled in at build time.
      version,
      description:
        'Errors are `{"detail": <string or list>, "code": "<snake_case>"}`; validation errors are 422 with FastAPI-style `detail` items.\n\n' +
        "Reads may be served by a database replica near you, which can lag behind a write for a moment. " +
        "Every `/api/v1` response, errors included, carries an `x-d1-bookmark` header (empty when the request " +
        "read nothing); send the newest one you received back as the `x-d1-bookmark` request header, and the " +
        "request sees at least everything that response saw, your own changes included. A value that is not a " +
        "bookmark is ignored. Changes (the PATCHes, uploads) always start at the primary database.",
    },
  });
  app.route(
    "/",
    createRouter().get("/docs", (c) => servePage(c, { file: "/docs/index.html", policy: docsPagePolicy })),
  );
}
