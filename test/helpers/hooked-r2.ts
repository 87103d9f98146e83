/**
 * The real local R2 binding, with `change` run just before each call of `method`, given the key:
 * a test can change the bucket or the database under the service at an exact moment (for example
 * while `complete` is between its checks and its thumbnail). Everything else passes through.
 */
export function bucketChangedBefore(
  real: R2Bucket,
  method: "get" | "put",
  change: (key: string) => Promise<unknown>,
): R2Bucket {
  return new Proxy(real, {
    get(target, property) {
      const value = Reflect.get(target, property);
      if (typeof value !== "function") return value;
      if (property !== method) return value.bind(target);
      return async (key: string, ...rest: unknown[]) => {
        await change(key);
        return value.call(target, key, ...rest);
      };
    },
  });
}
