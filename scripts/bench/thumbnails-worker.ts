/**
 * The benchmark's stand-in for `complete`'s thumbnail step, run by `wrangler dev` beside the service
 * (thumbnails.mjs): the service's own code (src/pictures/thumbnails.ts) on the local Images
 * binding and R2, so one size can be timed against every size, and the sizes one after another
 * (the service's order: one call with every size) against all at once (one call per size, together).
 *
 * PUT /photos/{name}: store a photo. POST /thumbnails/{name}?sizes=one|every&order=one-after-another|at-once:
 * what `complete` does once the bytes are checked: the thumbnails made and stored.
 */
import { DEFAULT_THUMB_SIZE, THUMB_SIZES, type ThumbSize } from "../../src/lib/object-keys";
import { makeThumbnails, presignedImageCacheControl, storeThumbnails } from "../../src/pictures/thumbnails";

interface Env {
  IMAGES: ImagesBinding;
  BUCKET: R2Bucket;
}

const photoKey = (name: string) => `bench-photos/${name}`;

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    const [, route, name] = url.pathname.split("/");
    if (route === "healthz") return new Response("ok");
    if (!name) return new Response("no photo named", { status: 404 });
    if (route === "photos" && request.method === "PUT") {
      await env.BUCKET.put(photoKey(name), await request.arrayBuffer());
      return new Response("stored");
    }
    if (route !== "thumbnails" || request.method !== "POST") return new Response("no route", { status: 404 });

    const read = async () => {
      const object = await env.BUCKET.get(photoKey(name));
      if (!object) throw new Error(`no photo ${name}`);
      return object.body;
    };
    const info = await env.IMAGES.info(await read());
    if (!("width" in info)) return new Response("no dimensions", { status: 422 });
    const sizes: readonly ThumbSize[] =
      url.searchParams.get("sizes") === "one" ? [DEFAULT_THUMB_SIZE] : THUMB_SIZES;
    const started = Date.now();
    const thumbnails =
      url.searchParams.get("order") === "at-once"
        ? (await Promise.all(sizes.map((size) => makeThumbnails(env.IMAGES, read, info, [size])))).flat()
        : await makeThumbnails(env.IMAGES, read, info, sizes);
    await storeThumbnails(env.BUCKET, crypto.randomUUID(), thumbnails, presignedImageCacheControl(3600));
    return Response.json({
      ms: Date.now() - started,
      thumbnails: thumbnails.map(({ size, bytes }) => ({ size, bytes: bytes.byteLength })),
    });
  },
};
