import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ts from 'typescript';
import * as lib from '../lib';

/**
 * Every TypeScript block of the README compiles as written and runs: the Install block is a
 * program of its own; every other block is the body of a stack's constructor, with the library
 * and `aws-cdk-lib` (`Duration`, `NestedStack`, `iam`, `s3`) imported. The blocks of the
 * Constructs section are one tour: they run in order in one stack, each using what the ones
 * before it made, as a reader who follows them would.
 */

const ROOT = path.join(__dirname, '..');
const DIST = path.join(ROOT, 'dist', 'lib');

interface Block { readonly line: number; readonly code: string; readonly section: string }

function blocks(): Block[] {
  const lines = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8').split('\n');
  const out: Block[] = [];
  let section = '';
  for (let i = 0; i < lines.length; i++) {
    if (/^## /.test(lines[i])) section = lines[i].slice(3);
    if (lines[i] !== '```ts') continue;
    const start = i + 1;
    while (lines[++i] !== '```') if (i >= lines.length) throw new Error(`README line ${start}: a ts block that never ends`);
    out.push({ line: start, code: lines.slice(start, i).join('\n'), section });
  }
  return out;
}

/** A module whose stack runs `bodies`, in order, in one constructor. */
function stackModule(bodies: Block[]): string {
  // The names the package exports (dist/lib is built from lib/).
  const library = Object.keys(lib).join(', ');
  return [
    `import { ${library} } from ${JSON.stringify(DIST)};`,
    "import { App, Duration, NestedStack, Stack } from 'aws-cdk-lib';",
    "import * as iam from 'aws-cdk-lib/aws-iam';",
    "import * as s3 from 'aws-cdk-lib/aws-s3';",
    '',
    'class ReadmeStack extends Stack {',
    '  constructor() {',
    "    super(new App(), 'Readme', { env: { account: '111122223333', region: 'eu-west-1' } });",
    ...bodies.map((b) => `    // README line ${b.line}\n${b.code}`),
    '  }',
    '}',
    '',
    'export function synth(): unknown {',
    '  return App.of(new ReadmeStack())!.synth();',
    '}',
    '',
  ].join('\n');
}

const all = blocks();
const install = all.filter((b) => b.section === 'Install');
const tour = all.filter((b) => b.section === 'Constructs');
const alone = all.filter((b) => b.section !== 'Install' && b.section !== 'Constructs');

let dir: string;
const units: { name: string; file: string }[] = [];

beforeAll(() => {
  if (!fs.existsSync(path.join(DIST, 'index.d.ts'))) throw new Error('dist/lib is not built: run npm run build (npm test does) first');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'readme-code-'));
  const write = (name: string, text: string) => {
    const file = path.join(dir, `${name}.ts`);
    fs.writeFileSync(file, text);
    units.push({ name, file });
  };
  // The Install program imports the package by name: here it is this repository's build.
  install.forEach((b, i) => write(`install-${i}`, b.code.replace(/'cdk-edge-model-pipeline'/g, JSON.stringify(DIST)).replace(/^app\.synth\(\);$/m, '')));
  write('tour', stackModule(tour));
  alone.forEach((b, i) => write(`alone-${i}`, stackModule([b])));
});

test('the README has its blocks where this test looks for them', () => {
  expect(install).toHaveLength(1);
  expect(tour.length).toBeGreaterThanOrEqual(6);
  expect(alone.length).toBeGreaterThanOrEqual(2);
});

test('every block type-checks (strict), its names defined in it or in the blocks before it', () => {
  const program = ts.createProgram(units.map((u) => u.file), {
    strict: true, noEmit: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS, moduleResolution: ts.ModuleResolutionKind.Node10,
    skipLibCheck: true, types: ['node'], typeRoots: [path.join(ROOT, 'node_modules', '@types')], baseUrl: ROOT, paths: { '*': [path.join(ROOT, 'node_modules', '*')] },
    noUnusedLocals: false,
  });
  const problems = ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file && d.start !== undefined ? `${path.basename(d.file.fileName)}:${d.file.getLineAndCharacterOfPosition(d.start).line + 1}` : '';
    return `${where} ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
  });
  expect(problems).toEqual([]);
}, 120_000);

test('every block runs and synthesizes: the tour in order in one stack, the others alone', () => {
  for (const u of units) {
    const js = ts.transpileModule(fs.readFileSync(u.file, 'utf8'), { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true } }).outputText;
    const file = path.join(dir, `${u.name}.js`);
    fs.writeFileSync(file, js);
    // Resolved from this repository (aws-cdk-lib, constructs), as the consumer's node_modules would.
    const load = new Function('require', 'module', 'exports', js) as (r: NodeRequire, m: { exports: Record<string, unknown> }, e: Record<string, unknown>) => void;
    const mod = { exports: {} as Record<string, unknown> };
    expect(() => load(require, mod, mod.exports)).not.toThrow();
    if (typeof mod.exports.synth === 'function') expect(() => (mod.exports.synth as () => unknown)()).not.toThrow();
  }
}, 120_000);
