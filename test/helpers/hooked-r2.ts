/** What a hooked call is given: the key, or for `delete` the key or keys. */
type KeyOf<M extends "get" | "put" | "delete"> = M extends "delete" ? string | string[] : string;

/**
 * The real local R2 binding, with `change` run just before each call of `method`, given the key:
 * a test can change the bucket or the database under the service at an exact moment (for example
 * while `complete` is between its checks and its thumbnail), record what was written, or throw to
 * fail the call. Everything else passes through.
 */
export function bucketChangedBefore<M extends "get" | "put" | "delete">(
  real: R2Bucket,
  method: M,
  change: (key: KeyOf<M>) => Promise<unknown>,
): R2Bucket {
  return new Proxy(real, {
    get(target, property) {
      const value = Reflect.get(target, property);
      if (typeof value !== "function") return value;
      if (property !== method) return value.bind(target);
      return async (key: KeyOf<M>, ...rest: unknown[]) => {
        await change(key);
        return value.call(target, key, ...rest);
      };
    },
  });
}

/** The real local R2 binding, counting every call made on it: a read that must not reach R2 makes none. */
export function countingBucket(real: R2Bucket): R2Bucket & { readonly calls: string[] } {
  const calls: string[] = [];
  return new Proxy(real, {
    get(target, property) {
      if (property === "calls") return calls;
      const value = Reflect.get(target, property);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        calls.push(String(property));
        return value.apply(target, args);
      };
    },
  }) as R2Bucket & { readonly calls: string[] };
}
