// Renders /openapi.json with Swagger UI, loaded from this worker's own assets (public/docs/vendor/,
// copied from the swagger-ui-dist package by scripts/docs-assets.mjs): no CDN, no other origin.

/** @typedef {(options: Record<string, unknown>) => unknown} SwaggerUIBundle */

const { SwaggerUIBundle } = /** @type {{ SwaggerUIBundle: SwaggerUIBundle }} */ (
  /** @type {unknown} */ (globalThis)
);

SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#reference",
  deepLinking: true,
  // Otherwise Swagger UI sends the whole document to a public validator service for a badge.
  validatorUrl: null,
});
