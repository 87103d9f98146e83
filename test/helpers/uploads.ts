import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { uploads } from "../../src/db/schema";
import * as images from "../fixtures/images";
import { call, json } from "./api";
import { db } from "./db";

/** Presigned URLs point back at the worker, so PUT and GET go through the S3 emulation. */
export const S3_ENDPOINT = "https://api.test/__s3";
export const emulated = { R2_S3_ENDPOINT: S3_ENDPOINT };

export interface UploadJson {
  id: string;
  kind: string;
  scope: string;
  state: string;
  contentType: string;
  size: number;
  filename: string | null;
  createdAt: string;
  failureReason: string | null;
  thumbUrl: string | null;
}

export interface StartedUploadJson {
  upload: UploadJson;
  uploadUrl: string;
  uploadMethod: string;
  uploadHeaders: Record<string, string>;
  expiresAt: string;
}

export interface UploadRequest {
  kind?: string;
  scope?: string;
  contentType: string;
  size: number;
  filename?: string | null;
}

/** `POST /api/v1/uploads`; fails the test unless it answers 201. */
export async function startUpload(token: string, request: UploadRequest): Promise<StartedUploadJson> {
  const response = await call("/api/v1/uploads", {
    method: "POST",
    token,
    json: { kind: "image", scope: "profile_picture", ...request },
    env: emulated,
  });
  if (response.status !== 201) throw new Error(`startUpload: ${response.status} ${await response.text()}`);
  return json<StartedUploadJson>(response);
}

/**
 * PUT bytes to a presigned URL, through the worker's S3 emulation, as an HTTP client sends them:
 * `Content-Length` is the body's real length, whatever `headers` say (curl, Node's fetch and
 * browsers all set it from the body).
 */
export function putObject(url: string, bytes: Uint8Array, headers: Record<string, string> = {}) {
  const sent = new Headers(headers);
  sent.set("Content-Length", String(bytes.byteLength));
  return call(url, { method: "PUT", body: bytes, headers: Object.fromEntries(sent), env: emulated });
}

export function completeUpload(token: string, uploadId: string) {
  return call(`/api/v1/uploads/${uploadId}/complete`, { method: "POST", token, env: emulated });
}

/** The whole client path: create, PUT the bytes with the headers given, complete. */
export async function uploadThroughApi(
  token: string,
  bytes: Uint8Array,
  request: Partial<UploadRequest> & { contentType: string },
): Promise<{ started: StartedUploadJson; completed: Response }> {
  const started = await startUpload(token, { size: bytes.byteLength, ...request });
  const put = await putObject(started.uploadUrl, bytes, started.uploadHeaders);
  if (put.status !== 200) throw new Error(`PUT: ${put.status} ${await put.text()}`);
  return { started, completed: await completeUpload(token, started.upload.id) };
}

export const streamOf = (bytes: Uint8Array | ArrayBuffer) =>
  new Response(bytes).body as ReadableStream<Uint8Array>;

/** Decode image bytes with the real Images binding. */
export const imageInfo = (bytes: ArrayBuffer | Uint8Array) => env.IMAGES.info(streamOf(bytes));

export async function countUploads(ownerId: string): Promise<number> {
  return (await db().select({ id: uploads.id }).from(uploads).where(eq(uploads.ownerId, ownerId))).length;
}

/** A real image of each type a profile picture takes, with the shorter side its thumbnails stop at. */
export const imageOfEveryType = [
  { name: "PNG", bytes: images.png, contentType: "image/png", shorterSide: 320 },
  { name: "JPEG", bytes: images.jpeg, contentType: "image/jpeg", shorterSide: 320 },
  { name: "WebP", bytes: images.webp, contentType: "image/webp", shorterSide: 300 },
  { name: "GIF", bytes: images.gif, contentType: "image/gif", shorterSide: 120 },
];
