// Builds the component: npm run build [-- OUTPUT.wasm]
// (default: <project dir name>.wasm here). The entry is
// sluice-transform/component.js, which exports `stage` from app.js; imports
// are resolved now, at build time, within this directory.
import { componentize } from '@bytecodealliance/componentize-js';
import { mkdir, rename, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = dirname(fileURLToPath(import.meta.url));
const arg = process.argv[2];
const out = arg ? resolve(process.env.INIT_CWD ?? process.cwd(), arg) : resolve(dir, `${basename(dir)}.wasm`);

process.chdir(dir); // the component sees this directory as its root
const { component } = await componentize({
  sourcePath: 'sluice-transform/component.js',
  witPath: 'wit',
  worldName: 'transform',
  // No fetch() and no incoming HTTP: the host provides no wasi:http.
  disableFeatures: ['http', 'fetch-event'],
});
await mkdir(dirname(out), { recursive: true });
// Rename into place: a running Sluice never sees half a file.
await writeFile(`${out}.tmp`, component);
await rename(`${out}.tmp`, out);
console.log(`${out}: ${((await stat(out)).size / 1048576).toFixed(1)} MiB`);
