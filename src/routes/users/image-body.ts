import { createMiddleware } from "hono/factory";
import { ApiError, type ErrorCode } from "../../lib/errors/api-error";
import { chunksReleasedAsRead, declaredLength, readChunksLimited } from "../../lib/limited-body";
import type { AppBindings } from "../../lib/types";
import type { ReceivedImage } from "../../pictures/store-image";
import { kindFor, scopeRules } from "../../pictures/upload-rules";

/** A profile picture sent as a request's body takes what a profile-picture upload takes. */
const rule = scopeRules.profile_picture;

/** The media types a profile picture may be sent as, in the order the scope lists them. */
export const IMAGE_BODY_TYPES = Object.keys(rule.types).filter((type) => rule.types[type] === "image");

/** The largest image body accepted, in bytes: the profile-picture scope's. */
export const MAX_IMAGE_BODY_BYTES = rule.maxBytes;

/** What `imageBody` and `receiveImage` answer with. */
export const imageBodyErrors = [
  "unsupported_media_type",
  "payload_too_large",
  "upload_invalid",
] as const satisfies readonly ErrorCode[];

/**
 * The body's declared type, which must be one of `IMAGE_BODY_TYPES` (no parameters; case does not
 * matter), else 415; and its declared length, 413 past `MAX_IMAGE_BODY_BYTES`. Nothing is read.
 */
function declaredImage(request: Request): { contentType: string; length: number | null } {
  const contentType = request.headers.get("content-type")?.trim().toLowerCase() ?? "";
  if (kindFor(rule, contentType) !== "image") {
    throw new ApiError(
      "unsupported_media_type",
      `The request body must be an image: ${IMAGE_BODY_TYPES.join(", ")}.`,
    );
  }
  return { contentType, length: declaredLength(request, MAX_IMAGE_BODY_BYTES) };
}

/**
 * Gate for routes that take an image as their body: 415 and 413 from the headers alone, before
 * the route reads anything else; the route reads the body itself (`receiveImage`) once it knows
 * the caller may send it.
 */
export const imageBody = createMiddleware<AppBindings>(async (c, next) => {
  declaredImage(c.req.raw);
  await next();
});

/**
 * The image in the request's body, ready to store, as a stream of known length: R2's `put` needs
 * one, and a `FixedLengthStream` of that length both gives it one and fails the write if the body
 * turns out longer or shorter. With `Content-Length` the body streams straight through. Without
 * (chunked) the length is only known at the end, so the body is read first, counted as it arrives
 * and refused with 413 as soon as it passes the limit, then handed on as the chunks that arrived,
 * each let go of as R2 takes it: held once (at most 10 MiB), never joined into a copy, and gone
 * before the checks and thumbnails, which read the stored object. (R2's multipart upload would
 * stream it, at the price of parts of at least 5 MiB held in memory all the same, two more calls
 * and parts to abort on failure.) An empty body: 422 `upload_invalid`.
 * @see https://developers.cloudflare.com/workers/runtime-apis/streams/transformstream/#fixedlengthstream
 */
export async function receiveImage(request: Request): Promise<ReceivedImage> {
  const { contentType, length } = declaredImage(request);
  if (!request.body) throw emptyBody();
  if (length === null) {
    const { chunks, size } = await readChunksLimited(request.body, MAX_IMAGE_BODY_BYTES);
    if (size === 0) throw emptyBody();
    return {
      contentType,
      size,
      bytes: chunksReleasedAsRead(chunks).pipeThrough(new FixedLengthStream(size)),
    };
  }
  if (length === 0) throw emptyBody();
  return { contentType, size: length, bytes: request.body.pipeThrough(new FixedLengthStream(length)) };
}

const emptyBody = () => new ApiError("upload_invalid", "The request body is empty: send the image's bytes.");
