import type { Context } from "hono";
import type { AppBindings } from "../../lib/types";

export interface Page {
  /** The HTML among the static assets (public/); `*.html` is never served straight from there. */
  file: string;
  /** The page's Content-Security-Policy. */
  policy: string;
  /** Fills in what depends on this deployment, e.g. a `<meta>` the page's script reads. */
  rewrite?: HTMLRewriter;
}

/**
 * An HTML page from the static assets, with the headers a page needs. Pages come through the
 * worker rather than straight from the asset server so that their policy can follow the
 * configuration (the API, bucket and picture origins), which a static `_headers` file cannot.
 */
export async function servePage(c: Context<AppBindings>, page: Page): Promise<Response> {
  const asset = await c.env.ASSETS.fetch(new URL(page.file, c.req.url));
  // A missing page is a broken build, not a missing resource: let onError log it and answer 500.
  if (asset.status !== 200) throw new Error(`static asset ${page.file} answered ${asset.status}`);
  const html = page.rewrite ? page.rewrite.transform(asset) : asset;
  return new Response(html.body, {
    status: 200,
    headers: {
      "Content-Type": "text/html; charset=utf-8",
      "Content-Security-Policy": page.policy,
      "Referrer-Policy": "no-referrer",
      "Cache-Control": "no-store",
    },
  });
}
