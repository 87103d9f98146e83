import { createLocalJWKSet, errors, type JSONWebKeySet, type JWTVerifyGetKey } from "jose";

/** How long fetched keys are used before a refresh is attempted. */
export const JWKS_MAX_AGE_MS = 10 * 60_000;
/** At most one refetch per this period, whatever unknown `kid`s arrive. */
export const JWKS_COOLDOWN_MS = 30_000;
/** A JWKS request that has not answered by then counts as an outage. */
export const JWKS_TIMEOUT_MS = 3_000;
/** With no keys at all, a failed fetch is not retried for this long: 503 at once, no retry storm. */
export const JWKS_OUTAGE_BACKOFF_MS = 5_000;

/** Thrown when no key material can be had at all: the caller answers 503, not 401. */
export class JwksUnavailableError extends Error {
  constructor(cause: unknown) {
    super("JWKS unavailable", { cause });
    this.name = "JwksUnavailableError";
  }
}

const PLAUSIBLE_KID = /^[A-Za-z0-9_.:-]{1,128}$/;

/**
 * A remote key set that, unlike jose's `createRemoteJWKSet`, keeps serving the keys it has when a
 * refresh fails, so a WorkOS JWKS outage does not break tokens signed by known keys. Redirects
 * are never followed, and a `kid` that could not be a WorkOS key id never causes a fetch.
 */
export class RemoteKeySet {
  private keys: JWTVerifyGetKey | undefined;
  private fetchedAt = Number.NEGATIVE_INFINITY;
  private attemptedAt = Number.NEGATIVE_INFINITY;
  private inflight: Promise<void> | undefined;
  /** Outbound JWKS requests made; read by tests and the benchmark. */
  fetchCount = 0;

  constructor(private readonly url: string) {}

  readonly getKey: JWTVerifyGetKey = async (header, token) => {
    const kid = header.kid;
    if (kid !== undefined && !PLAUSIBLE_KID.test(kid)) throw new errors.JWKSNoMatchingKey();
    const now = Date.now();
    if (!this.keys || now - this.fetchedAt > JWKS_MAX_AGE_MS) await this.refresh(now);
    try {
      return await this.lookup(header, token);
    } catch (error) {
      if (!(error instanceof errors.JWKSNoMatchingKey) || now - this.attemptedAt < JWKS_COOLDOWN_MS) {
        throw error;
      }
      await this.refresh(now);
      return this.lookup(header, token);
    }
  };

  private lookup(...[header, token]: Parameters<JWTVerifyGetKey>) {
    if (!this.keys) throw new errors.JWKSNoMatchingKey();
    return this.keys(header, token);
  }

  /**
   * Concurrent callers share one fetch: without this, every request that arrives while the first
   * fetch is in flight (a cold isolate under load) would fetch the JWKS again. The fetch belongs
   * to the request that started it, and workerd cancels a request's I/O when that request ends
   * (its client hung up), after which the fetch never settles. So every caller, the one that
   * started it included, waits at most the fetch timeout, and a fetch older than that is dropped:
   * it counts as an attempt that failed when it started, under the same cooldown and back-off.
   */
  private refresh(now: number): Promise<void> {
    if (this.inflight && now - this.attemptedAt >= JWKS_TIMEOUT_MS) this.inflight = undefined;
    if (this.inflight) return this.waitFor(this.inflight);
    if (now - this.attemptedAt < JWKS_COOLDOWN_MS && this.keys) return Promise.resolve();
    if (now - this.attemptedAt < JWKS_OUTAGE_BACKOFF_MS && !this.keys) {
      return Promise.reject(new JwksUnavailableError("the last JWKS fetch failed moments ago"));
    }
    this.attemptedAt = now;
    const inflight = this.replaceKeys().finally(() => {
      if (this.inflight === inflight) this.inflight = undefined;
    });
    this.inflight = inflight;
    return this.waitFor(inflight);
  }

  private async waitFor(inflight: Promise<void>): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | null = null;
    const gaveUp = new Promise<"gave up">((resolve) => {
      timer = setTimeout(() => resolve("gave up"), JWKS_TIMEOUT_MS);
    });
    try {
      const outcome = await Promise.race([inflight, gaveUp]);
      if (outcome === "gave up" && !this.keys) {
        throw new JwksUnavailableError("JWKS fetch did not settle");
      }
    } finally {
      clearTimeout(timer);
    }
  }

  private async replaceKeys(): Promise<void> {
    try {
      this.keys = createLocalJWKSet(await this.fetchKeySet());
      this.fetchedAt = Date.now();
    } catch (error) {
      if (!this.keys) throw new JwksUnavailableError(error);
      // Keep the keys we have; the next attempt waits for the cooldown.
      console.warn(
        JSON.stringify({ level: "warn", msg: "jwks refresh failed, keeping cached keys", url: this.url }),
      );
    }
  }

  private async fetchKeySet(): Promise<JSONWebKeySet> {
    this.fetchCount++;
    const response = await fetch(this.url, {
      headers: { accept: "application/json" },
      redirect: "manual",
      signal: AbortSignal.timeout(JWKS_TIMEOUT_MS),
    });
    if (response.status !== 200) {
      await response.body?.cancel();
      throw new Error(`JWKS answered ${response.status}`);
    }
    const body: unknown = await response.json();
    if (!body || typeof body !== "object" || !Array.isArray((body as JSONWebKeySet).keys)) {
      throw new Error("JWKS answered with something that is not a key set");
    }
    return body as JSONWebKeySet;
  }
}

// Module scope on purpose: the key set outlives requests so keys are fetched once per isolate.
const remoteKeySets = new Map<string, RemoteKeySet>();
const inlineKeySets = new WeakMap<object, JWTVerifyGetKey>();

export function remoteKeySet(url: string): RemoteKeySet {
  let keySet = remoteKeySets.get(url);
  if (!keySet) {
    keySet = new RemoteKeySet(url);
    remoteKeySets.set(url, keySet);
  }
  return keySet;
}

export function inlineKeySet(jwks: JSONWebKeySet): JWTVerifyGetKey {
  let keySet = inlineKeySets.get(jwks);
  if (!keySet) {
    keySet = createLocalJWKSet(jwks);
    inlineKeySets.set(jwks, keySet);
  }
  return keySet;
}
