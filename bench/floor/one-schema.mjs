// The floor's configuration check (bench/floor/one.mjs): a zod/mini strict object, as certpilot's
// configuration schema is, loaded with a dynamic import as certpilot loads its schema.
import * as z from 'zod/mini';

const schema = z.strictObject({
  directoryUrl: z.url(),
  caFile: z.string().check(z.minLength(1)),
  stateDir: z.string().check(z.minLength(1)),
  requests: z.number().check(z.int(), z.gte(1), z.lte(100)),
});

export function parseArguments(value) {
  return schema.parse(value);
}
