// The package registry this project is built against serves only linux-x64 (glibc) builds of
// DuckDB's and Biome's platform packages, so `npm install` cannot record the other platforms'
// optional packages in package-lock.json, and `npm ci` then refuses the lock as out of sync.
// This adds lock entries for them with their platform constraints: npm skips them on any other
// platform without fetching, and installs them as usual where they apply.
// Run after changing dependencies: node scripts/lock-platform-optionals.mjs
import { readFileSync, writeFileSync } from 'node:fs';

const lockPath = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(lockPath, 'utf8'));
const packages = lock.packages;
let added = 0;

function platformOf(name) {
  const base = name.split('/').pop();
  const os = ['darwin', 'win32', 'linux', 'android', 'freebsd'].find((o) => base.includes(o));
  const cpu = ['arm64', 'x64', 'ia32', 'arm'].find((c) => base.includes(c));
  const libc = base.includes('musl') ? 'musl' : os === 'linux' ? 'glibc' : undefined;
  return { os, cpu, libc };
}

for (const [path, entry] of Object.entries(packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const key = `node_modules/${name}`;
    if (packages[key] || packages[`${path}/${key}`]) continue;
    const { os, cpu, libc } = platformOf(name);
    if (!os || !cpu) continue;
    packages[key] = {
      version,
      ...(entry.dev ? { dev: true } : {}),
      optional: true,
      os: [os],
      cpu: [cpu],
      ...(libc ? { libc: [libc] } : {}),
    };
    added++;
  }
}
const sorted = Object.fromEntries(Object.entries(packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))));
lock.packages = sorted;
writeFileSync(lockPath, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`added ${added} platform-specific optional packages to package-lock.json`);
