import type { Context } from "hono";
import { createRouter } from "../../lib/create-app";
import { ApiError } from "../../lib/errors/api-error";
import type { AppBindings } from "../../lib/types";
import { S3Error, s3ErrorResponse } from "./s3-error";
import { verifyPresignedRequest } from "./verify-presigned-url";

const METHODS = new Set(["GET", "HEAD", "PUT"]);

const preconditionFailed = () =>
  new S3Error(412, "PreconditionFailed", "At least one of the preconditions you specified did not hold.");

/**
 * Local development only (`LOCAL_S3_EMULATION=true`): R2's S3 API for presigned URLs, at
 * `/__s3/{bucket}/{key}`, so every presigned URL the service hands out works under `wrangler dev`
 * with `R2_S3_ENDPOINT=http://localhost:8787/__s3`. GET, HEAD and PUT check the SigV4 query
 * signature (and so every header it signs) as R2 would, then serve the `BUCKET` binding with R2's
 * preconditions: an upload URL's `If-None-Match: *` makes a second PUT a 412. When off, these
 * paths do not exist (404). CORS is the bucket's own (`bucketCors`, mounted in front of this
 * router). Not part of the public API, so not in the OpenAPI document.
 */
export const s3EmulationRouter = createRouter().all("/__s3/:bucket/:key{.+}", async (c) => {
  if (!c.var.config.localS3Emulation) throw new ApiError("not_found");
  const { bucket, key } = c.req.param();
  const resource = `/${bucket}/${key}`;
  try {
    if (!METHODS.has(c.req.method)) {
      throw new S3Error(
        405,
        "MethodNotAllowed",
        "The specified method is not allowed against this resource.",
        {
          Allow: [...METHODS].join(", "),
        },
      );
    }
    await verifyPresignedRequest(c.req.raw, c.var.config.r2);
    if (bucket !== c.var.config.r2.bucket) {
      throw new S3Error(404, "NoSuchBucket", "The specified bucket does not exist.");
    }
    if (c.req.method === "PUT") return await putObject(c, key);
    return await getObject(c, key);
  } catch (error) {
    if (error instanceof S3Error) return s3ErrorResponse(error, resource, c.var.requestId);
    throw error;
  }
});

async function putObject(c: Context<AppBindings>, key: string): Promise<Response> {
  const request = c.req.raw;
  let object: R2Object | null;
  try {
    // R2 keeps Content-Type, Content-Disposition, Cache-Control... from the request, and honours
    // its write preconditions (`If-None-Match: *` writes only a key that does not exist yet), as
    // its S3 API does. @see https://developers.cloudflare.com/r2/api/s3/conditional-operations/
    object = await c.env.BUCKET.put(key, await bodyToStore(request), {
      httpMetadata: request.headers,
      onlyIf: request.headers,
    });
  } catch (error) {
    // R2 can only store a body of known length: a chunked upload is refused, as S3 does.
    if (error instanceof TypeError && /known length/.test(error.message)) {
      throw new S3Error(411, "MissingContentLength", "You must provide the Content-Length HTTP header.");
    }
    throw error;
  }
  if (!object) throw preconditionFailed();
  return new Response(null, { status: 200, headers: { ETag: object.httpEtag } });
}

/**
 * The bytes of a PUT. With `Content-Length` (which an upload URL signs), exactly that many: on the
 * wire HTTP framing makes the body as long as the header says, but a request built in process can
 * claim one length and carry another, and R2 must never store more or less than was signed.
 */
async function bodyToStore(request: Request): Promise<ReadableStream | ArrayBuffer> {
  const declared = request.headers.get("content-length");
  if (declared === null) return request.body ?? new ArrayBuffer(0);
  const bytes = await request.arrayBuffer();
  if (String(bytes.byteLength) !== declared.trim()) {
    throw new S3Error(400, "IncompleteBody", "The body is not as long as its Content-Length header says.");
  }
  return bytes;
}

/**
 * GET and HEAD as R2 answers them: the object's own stored HTTP metadata (`Content-Type`,
 * `Cache-Control`, ...) and nothing of ours. R2 sends no `Cache-Control` an object was not stored
 * with, so neither does this: a default here would hide an object stored without one.
 */
async function getObject(c: Context<AppBindings>, key: string): Promise<Response> {
  const request = c.req.raw;
  const range = parseRange(request.headers.get("range"));
  const object =
    request.method === "HEAD"
      ? await c.env.BUCKET.head(key)
      : await c.env.BUCKET.get(key, { onlyIf: request.headers, ...(range ? { range } : {}) }).catch(
          (error: unknown) => {
            if (range) throw new S3Error(416, "InvalidRange", "The requested range is not satisfiable.");
            throw error;
          },
        );
  if (!object) throw new S3Error(404, "NoSuchKey", "The specified key does not exist.");

  const headers = new Headers();
  object.writeHttpMetadata(headers);
  headers.set("ETag", object.httpEtag);
  headers.set("Last-Modified", object.uploaded.toUTCString());
  headers.set("Accept-Ranges", "bytes");
  if (!headers.has("Content-Type")) headers.set("Content-Type", "application/octet-stream");
  if (!hasBody(object)) {
    if (request.method === "HEAD") {
      headers.set("Content-Length", String(object.size));
      return new Response(null, { status: 200, headers });
    }
    // `get` with `onlyIf` returns the object without a body when a precondition failed.
    const revalidation = request.headers.has("if-none-match") || request.headers.has("if-modified-since");
    if (revalidation) return new Response(null, { status: 304, headers });
    throw preconditionFailed();
  }
  if (!range) return new Response(object.body, { status: 200, headers });
  const { first, last } = byteSpan(range, object.size);
  headers.set("Content-Range", `bytes ${first}-${last}/${object.size}`);
  return new Response(object.body, { status: 206, headers });
}

const hasBody = (object: R2Object): object is R2ObjectBody => "body" in object;

/** One `bytes=` range, as S3 serves it; anything else (several ranges, bad syntax) is ignored. */
function parseRange(header: string | null): R2Range | undefined {
  const match = header ? /^bytes=(\d*)-(\d*)$/.exec(header.trim()) : null;
  if (!match) return undefined;
  const [, from = "", to = ""] = match;
  if (from === "" && to === "") return undefined;
  if (from === "") return { suffix: Number(to) };
  if (to === "") return { offset: Number(from) };
  if (Number(to) < Number(from)) return undefined;
  return { offset: Number(from), length: Number(to) - Number(from) + 1 };
}

function byteSpan(range: R2Range, size: number): { first: number; last: number } {
  if ("suffix" in range) return { first: Math.max(0, size - range.suffix), last: size - 1 };
  const first = range.offset ?? 0;
  const last = range.length === undefined ? size - 1 : Math.min(size, first + range.length) - 1;
  return { first, last };
}
