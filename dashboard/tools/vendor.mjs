// Copies the browser bundle of MQTT.js from node_modules into web/vendor/.
// The copy is committed so the dashboard works offline and needs no build step;
// run `npm install && npm run vendor` here only to change the MQTT.js version.
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const pkgDir = join(root, 'node_modules', 'mqtt');
const out = join(root, 'web', 'vendor');

const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
// mqtt.min.js is the classic-script (IIFE) build that defines a global `mqtt`;
// see README.md for why the dashboard loads classic scripts, not ES modules.
copyFileSync(join(pkgDir, 'dist', 'mqtt.min.js'), join(out, 'mqtt.min.js'));
copyFileSync(join(pkgDir, 'LICENSE.md'), join(out, 'mqtt.LICENSE.md'));
writeFileSync(join(out, 'VERSIONS'),
  `mqtt ${pkg.version} ${pkg.license} dist/mqtt.min.js (bundled third-party licences listed at its end)\n`);
console.log(`vendored mqtt ${pkg.version} into ${out}`);
