import { type ThumbSize, thumbKeyFor } from "../lib/object-keys";

/** One stored size of an image: a square WebP. */
export interface Thumbnail {
  size: ThumbSize;
  bytes: ArrayBuffer;
}

/** An image's pixel dimensions, as the Images binding's `info` reads them. */
interface ImageDimensions {
  width: number;
  height: number;
}

/**
 * The side of an image's `size` px thumbnail: `size`, or the image's shorter side when that is
 * smaller. A cover crop to at most the shorter side only ever shrinks, so a 300x200 photo gives
 * 64, 128, 200 and 200 px thumbnails, never a blurry 512 px one.
 */
const thumbnailSide = (size: ThumbSize, image: ImageDimensions) => Math.min(size, image.width, image.height);

/**
 * The image's thumbnails in `sizes`: square WebP, cover crop, never enlarged (`thumbnailSide`).
 * `read` opens the original afresh for each, since a transform consumes its stream.
 *
 * One after another, not at once: the Images binding reads its whole input into the worker's
 * memory before sending it on (workerd's `images-api.ts`, `streamToBlob`), so four transforms at
 * once would hold four copies of a photo of up to 10 MiB, in an isolate of 128 MB that serves
 * other requests meanwhile. `npm run bench` measures what that order costs (BENCHMARKS.md): on a
 * 4000x3000 JPEG, locally, at once was 8 to 24% faster in five runs of six (some 20 to 70 ms of
 * about 280) and took about 2.5 times the Images side's peak memory.
 * @see https://developers.cloudflare.com/workers/platform/limits/#memory
 */
export async function makeThumbnails(
  images: ImagesBinding,
  read: () => Promise<ReadableStream<Uint8Array>>,
  image: ImageDimensions,
  sizes: readonly ThumbSize[],
): Promise<Thumbnail[]> {
  const thumbnails: Thumbnail[] = [];
  for (const size of sizes) {
    const side = thumbnailSide(size, image);
    const result = await images
      .input(await read())
      .transform({ width: side, height: side, fit: "cover" })
      .output({ format: "image/webp" });
    // A 512 px WebP is tens of KB; R2 needs a known length, which the transform stream lacks.
    thumbnails.push({ size, bytes: await result.response().arrayBuffer() });
  }
  return thumbnails;
}

/**
 * What a browser may do with an image it fetched through a presigned URL: keep it for as long as the
 * URL is handed out (a URL is signed for `ttlSeconds`, and the key never holds other bytes), to
 * itself (the URL is a capability of one user's session, not a public resource). R2 serves only the
 * object's stored metadata, so this is written with each object.
 * @see https://developers.cloudflare.com/r2/api/workers/workers-api-reference/#r2httpmetadata
 */
export const presignedImageCacheControl = (ttlSeconds: number) => `private, max-age=${ttlSeconds}, immutable`;

/**
 * Store each thumbnail at its key (`thumbKeyFor`), all of them at once: they are small. A failed
 * write fails the call only once every other write has settled, so whoever cleans up after the
 * failure finds every object that will ever be there, none landing after its delete.
 */
export async function storeThumbnails(
  bucket: R2Bucket,
  uploadId: string,
  thumbnails: readonly Thumbnail[],
  cacheControl: string,
): Promise<void> {
  const writes = await Promise.allSettled(
    thumbnails.map(({ size, bytes }) =>
      bucket.put(thumbKeyFor(uploadId, size), bytes, {
        httpMetadata: { contentType: "image/webp", cacheControl },
      }),
    ),
  );
  const failed = writes.find((write) => write.status === "rejected");
  if (failed) throw failed.reason;
}
