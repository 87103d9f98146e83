import { ApiError } from "./errors/api-error";

const payloadTooLarge = (maxBytes: number) =>
  new ApiError("payload_too_large", `The request body is larger than ${maxBytes} bytes.`);

/**
 * The length the request declares (`Content-Length`), or null for a body sent without one
 * (chunked); 413 when it declares more than `maxBytes`, before a byte is read.
 */
export function declaredLength(request: Request, maxBytes: number): number | null {
  const declared = request.headers.get("content-length");
  if (declared === null) return null;
  const length = Number(declared);
  if (length > maxBytes) throw payloadTooLarge(maxBytes);
  return length;
}

/** The request body's bytes; 413 past `maxBytes`, counted as they arrive (chunked bodies too). */
export async function readLimited(request: Request, maxBytes: number): Promise<Uint8Array> {
  declaredLength(request, maxBytes);
  if (!request.body) return new Uint8Array();
  return readStreamLimited(request.body, maxBytes);
}

/**
 * All of a stream's bytes, counted as they arrive: past `maxBytes` the stream is cancelled and
 * `tooLarge()` thrown (by default the request's 413), so no more than the limit (and one chunk) is
 * ever held.
 */
export async function readStreamLimited(
  stream: ReadableStream<Uint8Array>,
  maxBytes: number,
  tooLarge: () => Error = () => payloadTooLarge(maxBytes),
): Promise<Uint8Array> {
  const { chunks, size } = await readChunksLimited(stream, maxBytes, tooLarge);
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

/**
 * A stream's chunks as they arrived, and their total size, counted as in `readStreamLimited`, but
 * never joined: for a body that goes on as a stream (`chunksReleasedAsRead`), which then is held
 * once, not twice.
 */
export async function readChunksLimited(
  stream: ReadableStream<Uint8Array>,
  maxBytes: number,
  tooLarge: () => Error = () => payloadTooLarge(maxBytes),
): Promise<{ chunks: Uint8Array[]; size: number }> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  return { chunks, size };
}

/**
 * A stream of `chunks`, in order, that takes each out of the array as it is read: once its reader
 * (R2's `put`) has had them, nothing holds them any more, and nothing was copied on the way.
 */
export function chunksReleasedAsRead(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      const chunk = chunks.shift();
      if (chunk) controller.enqueue(chunk);
      else controller.close();
    },
  });
}
