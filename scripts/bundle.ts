// Bundles s6-tlsc-io's compiled entry (dist/src/bin/s6-tlsc-io.js and the
// modules it imports) into one file beside it, s6-tlsc-io.bundle.js, which
// bin/s6-tlsc-io loads: start-up then reads and compiles one small file
// instead of resolving and loading a dozen (the program runs once per
// connection, so start-up is paid every time). Run by `npm run build`, thus
// by `npm install` through "prepare".

import { buildSync } from 'esbuild';
import { join } from 'path';

const root = join(__dirname, '..', '..');
const programs = ['s6-tlsc-io', 's6-tlsc', 's6-tlsclient', 's6-ucspitlsc'];

for (const name of programs) {
  buildSync({
    entryPoints: [join(root, 'dist', 'src', 'bin', `${name}.js`)],
    outfile: join(root, 'dist', 'src', 'bin', `${name}.bundle.js`),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    // Node's own modules stay require()s; only ours are inlined.
    packages: 'external',
    minify: true,
    legalComments: 'none',
    logLevel: 'warning',
  });
}
