// The third-party packages an esbuild bundle holds, with their licenses: minified bundles drop
// the packages' own comments (legalComments: 'none'), so their notices ship beside the bundle.
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';

/** The package directory of each node_modules input of esbuild metafiles, by package name. */
function packagesOf(metafiles, cwd) {
  const found = new Map();
  for (const meta of metafiles) {
    for (const input of Object.keys(meta.inputs)) {
      const parts = input.split('/');
      const at = parts.lastIndexOf('node_modules');
      if (at < 0) continue;
      const name = parts[at + 1].startsWith('@') ? `${parts[at + 1]}/${parts[at + 2]}` : parts[at + 1];
      const dir = join(cwd, ...parts.slice(0, at + 1), ...name.split('/'));
      found.set(name, dir);
    }
  }
  return found;
}

/** A package's license file, if it has one. */
function licenseText(dir) {
  const file = readdirSync(dir).find((f) => /^(licen[cs]e|copying)(\.|$)/i.test(f));
  return file ? readFileSync(join(dir, file), 'utf8').trim() : undefined;
}

/**
 * Writes `file`: every package the bundles of `metafiles` (built from `cwd`) hold, its version and
 * license, and its license text. Returns the package names.
 */
export function writeThirdPartyLicenses(file, metafiles, cwd) {
  const packages = [...packagesOf(metafiles, cwd)].sort(([a], [b]) => a.localeCompare(b));
  const sections = packages.map(([name, dir]) => {
    if (!existsSync(join(dir, 'package.json'))) throw new Error(`bundled package ${name} has no package.json at ${dir.split(sep).slice(-3).join('/')}`);
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    const license = typeof pkg.license === 'string' ? pkg.license : pkg.license?.type ?? 'see its license text';
    const text = licenseText(dir);
    return `${name}@${pkg.version} (${license})\n\n${text ?? `No license file in the package; its package.json names ${license}.`}\n`;
  });
  const header = `Third-party packages bundled into ${dirname(file).split(sep).slice(-2).join('/')}, with their licenses.\n`;
  writeFileSync(file, sections.length ? [header, ...sections].join(`\n${'-'.repeat(72)}\n\n`) : `${header}\nNone: the bundle is this package's own code.\n`);
  return packages.map(([name]) => name);
}
