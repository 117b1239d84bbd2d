// Writes the generated docs (config reference, JSON Schema, error catalog) from the built code.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { renderConfigReference, configJsonSchema, renderPluginList } = await import(join(root, 'dist/src/config/reference.js'));
const { renderErrorCatalog } = await import(join(root, 'dist/src/errors.js'));
writeFileSync(join(root, 'docs/config-reference.md'), renderConfigReference());
writeFileSync(join(root, 'docs/certpilot.schema.json'), `${JSON.stringify(configJsonSchema(), null, 2)}\n`);
writeFileSync(join(root, 'docs/errors.md'), renderErrorCatalog());
writeFileSync(join(root, 'docs/plugins.md'), renderPluginList());
console.log('wrote docs/config-reference.md, docs/certpilot.schema.json, docs/errors.md, docs/plugins.md');
