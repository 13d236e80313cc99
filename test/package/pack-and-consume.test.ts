import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ts from 'typescript';

/**
 * The package as it would be published: `npm pack` of this repository (built by `npm test`
 * before jest runs; `prepack` builds it for a publish), installed into a new CDK app made here,
 * whose stack is the README's Install example, compiled under every TypeScript module
 * resolution a consumer may use and then synthesized.
 */

const ROOT = path.join(__dirname, '..', '..');
const PACKAGE = 'cdk-edge-model-pipeline';

let app: string;
let files: string[];

/** The README's code block under `## Install` that starts with `// bin/app.ts`. */
function readmeApp(): string {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const install = readme.slice(readme.indexOf('\n## Install\n'));
  const block = /```ts\n(\/\/ bin\/app\.ts\n[\s\S]*?)```/.exec(install.slice(0, install.indexOf('\n## ', 5)));
  if (!block) throw new Error('README: no ```ts block starting with // bin/app.ts under ## Install');
  return block[1];
}

beforeAll(() => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'consumer-'));
  // Scripts are skipped: npm test built the package, and a build here would rewrite dist/ under the other test files.
  const packed = JSON.parse(execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })) as { filename: string; files: { path: string }[] }[];
  files = packed[0].files.map((f) => f.path);
  app = path.join(work, 'app');
  const installed = path.join(app, 'node_modules', PACKAGE);
  fs.mkdirSync(installed, { recursive: true });
  execFileSync('tar', ['-xzf', path.join(work, packed[0].filename), '-C', installed, '--strip-components=1']);
  // The peer dependencies and Node's types, as a CDK app has them (this repository's copies: no network).
  fs.mkdirSync(path.join(app, 'node_modules', '@types'));
  for (const peer of ['aws-cdk-lib', 'constructs', '@types/node']) fs.symlinkSync(path.join(ROOT, 'node_modules', peer), path.join(app, 'node_modules', peer), 'dir');
  fs.mkdirSync(path.join(app, 'bin'));
  fs.writeFileSync(path.join(app, 'bin', 'app.ts'), readmeApp());
  fs.writeFileSync(path.join(app, 'bin', 'errors.ts'), [
    "import { EdgePipelineValidationError } from 'cdk-edge-model-pipeline/errors';",
    "import { App, Stack } from 'aws-cdk-lib';",
    "import { ArtifactStore, ComponentArchitecture, ComponentOs, EdgeFleet, EdgeModelPipeline, Framework, InputShape } from 'cdk-edge-model-pipeline';",
    '',
    "const stack = new Stack(new App(), 'Bad');",
    "const store = new ArtifactStore(stack, 'Store');",
    "const canary = new EdgeFleet(stack, 'Canary', { deviceClass: 'gw', thingNamePrefix: 'gw-c-', store });",
    'try {',
    "  new EdgeModelPipeline(stack, 'Pipeline', {",
    "    pipelineName: 'digits', store, model: { framework: Framework.ONNX, inputs: [InputShape.named('pixels', [1, 64])] },",
    '    thresholds: { minAccuracy: 1.5 },',
    "    deviceClasses: [{ name: 'gw', platform: { os: ComponentOs.LINUX, architecture: ComponentArchitecture.AARCH64 }, canary, rings: [], datasetPath: 'relative.json' }],",
    '  });',
    '} catch (err) {',
    "  if (!(err instanceof EdgePipelineValidationError)) throw err;",
    '  process.stdout.write(err.message);',
    '}',
    '',
  ].join('\n'));
}, 120_000);

test('the package ships its built library, handlers, edge agent and its runtimes, jsii assembly, LICENSE and NOTICE, and no source or test', () => {
  for (const f of ['package.json', 'README.md', 'LICENSE', 'NOTICE', '.jsii', 'dist/lib/index.js', 'dist/lib/index.d.ts', 'dist/lib/core/errors.d.ts',
    'dist/lambda/quality-gate/index.js', 'dist/lambda/THIRD-PARTY-LICENSES.txt', 'device/dist/component/edge-agent.js', 'device/dist/component/THIRD-PARTY-LICENSES.txt', 'device/dist/component/dataset.schema.json',
    'device/dist/runtimes/runtimes.json', 'device/dist/runtimes/runtime-linux-aarch64.tar.gz', 'device/dist/runtimes/runtime-linux-amd64.tar.gz']) {
    expect(files).toContain(f);
  }
  expect(files.filter((f) => /^(lib|lambda|test|bench|examples|scripts)\//.test(f) || /\.test\./.test(f))).toEqual([]);
  // A publish builds first: npm runs prepack before it packs.
  expect(JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).scripts.prepack).toBe('npm run build');
});

test('every bundled third-party package is listed with its license text', () => {
  const listed = fs.readFileSync(path.join(app, 'node_modules', PACKAGE, 'dist', 'lambda', 'THIRD-PARTY-LICENSES.txt'), 'utf8');
  // The handlers validate with ajv: it is in the bundles, and so in the list, with its MIT text.
  expect(listed).toMatch(/^ajv@\d+\.\d+\.\d+ \(MIT\)$/m);
  expect(listed).toContain('Permission is hereby granted, free of charge');
});

const RESOLUTIONS: [string, ts.ModuleKind, ts.ModuleResolutionKind][] = [
  ['node (node10)', ts.ModuleKind.CommonJS, ts.ModuleResolutionKind.Node10],
  ['node16', ts.ModuleKind.Node16, ts.ModuleResolutionKind.Node16],
  ['nodenext', ts.ModuleKind.NodeNext, ts.ModuleResolutionKind.NodeNext],
  ['bundler', ts.ModuleKind.ESNext, ts.ModuleResolutionKind.Bundler],
];

test.each(RESOLUTIONS)('the README app and the errors entry compile under moduleResolution %s', (_name, module, moduleResolution) => {
  const program = ts.createProgram([path.join(app, 'bin', 'app.ts'), path.join(app, 'bin', 'errors.ts')], {
    strict: true, noEmit: true, target: ts.ScriptTarget.ES2022, module, moduleResolution, skipLibCheck: true, types: ['node'], typeRoots: [path.join(app, 'node_modules', '@types')],
  });
  const problems = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  expect(problems).toEqual([]);
});

test('the README app synthesizes from the installed package: its pipeline, class rollout and fleets', () => {
  const out = path.join(app, 'cdk.out');
  for (const name of ['app', 'errors']) {
    const js = ts.transpileModule(fs.readFileSync(path.join(app, 'bin', `${name}.ts`), 'utf8'), { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 } }).outputText;
    fs.writeFileSync(path.join(app, 'bin', `${name}.js`), js);
  }
  execFileSync(process.execPath, [path.join(app, 'bin', 'app.js')], { cwd: app, env: { ...process.env, CDK_OUTDIR: out }, stdio: 'pipe' });
  const template = JSON.parse(fs.readFileSync(path.join(out, 'GatewayPipeline.template.json'), 'utf8')) as { Resources: Record<string, { Type: string }> };
  const count = (type: string) => Object.values(template.Resources).filter((r) => r.Type === type).length;
  expect(count('AWS::StepFunctions::StateMachine')).toBe(2);
  expect(count('AWS::IoT::ThingGroup')).toBe(2);
  expect(count('AWS::GreengrassV2::ComponentVersion')).toBe(1);
  // The Lambda code and the agent come from the package's own files.
  const assets = fs.readdirSync(out).filter((f) => f.startsWith('asset.') && fs.statSync(path.join(out, f)).isDirectory()).flatMap((f) => fs.readdirSync(path.join(out, f)));
  expect(assets).toEqual(expect.arrayContaining(['index.js', 'edge-agent.js']));
  // The walkthrough's placeholders are this stack's outputs (the approval function's only with an
  // approval step, which this stack has not: test/pipeline/edge-model-pipeline.test.ts checks it).
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const walkthrough = readme.slice(readme.indexOf("\n## An operator's first day\n"), readme.indexOf('\n## Develop\n'));
  const placeholders = new Set([...walkthrough.matchAll(/<([A-Z][A-Za-z]+)>/g)].map((m) => m[1]));
  expect(placeholders.size).toBeGreaterThanOrEqual(5);
  const outputs = Object.keys((template as unknown as { Outputs: Record<string, unknown> }).Outputs);
  expect([...placeholders].filter((p) => p !== 'ApprovalFunctionName' && !outputs.some((o) => new RegExp(`${p}[0-9A-F]{8}$`).test(o)))).toEqual([]);
  // A props problem is one EdgePipelineValidationError from the errors entry, every problem listed.
  const message = execFileSync(process.execPath, [path.join(app, 'bin', 'errors.js')], { cwd: app, encoding: 'utf8' });
  expect(message).toContain('thresholds.minAccuracy');
  expect(message).toContain('datasetPath');
}, 120_000);
