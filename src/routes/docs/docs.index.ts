import { version } from "../../../package.json";
import { createRouter } from "../../lib/create-app";
import type { AppOpenAPI } from "../../lib/types";

const docsPage = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>Profile-picture API</title>
  </head>
  <body>
    <script id="api-reference" data-url="/openapi.json"></script>
    <script src="https://cdn.jsdelivr.net/npm/@scalar/api-reference"></script>
  </body>
</html>`;

/** `/openapi.json`, generated from the zod route definitions, and `/docs`, a page that renders it. */
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
        'Errors are `{"detail": <string or list>, "code": "<snake_case>"}`; validation errors are 422 with FastAPI-style `detail` items.',
    },
  });
  app.route(
    "/",
    createRouter().get("/docs", (c) => c.html(docsPage)),
  );
}
