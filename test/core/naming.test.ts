import { compilationJobName, ENTITY_NAME_PATTERN } from '../../lib/core/naming';

describe('compilation job names', () => {
  test('are readable, deterministic and end with a hash', () => {
    const name = compilationJobName('digits', 'digits-v7', 'rasp4b');
    expect(name).toMatch(/^digits-digits-v7-rasp4b-[0-9a-f]{10}$/);
    expect(compilationJobName('digits', 'digits-v7', 'rasp4b')).toBe(name);
  });

  test('fit the service pattern and 63 characters whatever the run id and variant', () => {
    const runIds = ['r', 'A.B_C-d', 'x'.repeat(80), `${'long-model-name-'.repeat(4)}v1.2.3`, '9..9__9'];
    const variants = ['rasp4b', 'linux-arm64-nvidia-sm72', 'v'.repeat(40)];
    for (const prefix of ['p', 'edge-model', 'a'.repeat(24)]) {
      for (const runId of runIds) {
        for (const variant of variants) {
          const name = compilationJobName(prefix, runId, variant);
          expect(name.length).toBeLessThanOrEqual(63);
          expect(name).toMatch(ENTITY_NAME_PATTERN);
          expect(name).toBe(name.toLowerCase());
          expect(name.startsWith(`${prefix}-`)).toBe(true);
        }
      }
    }
  });

  test('never collide when long names are cut to the same readable text', () => {
    const base = 'a'.repeat(70);
    const a = compilationJobName('edge-model', `${base}-v1`, 'rasp4b');
    const b = compilationJobName('edge-model', `${base}-v2`, 'rasp4b');
    expect(a.slice(0, -11)).toBe(b.slice(0, -11));
    expect(a).not.toBe(b);
  });

  test('differ for run ids that differ only in case or punctuation', () => {
    expect(compilationJobName('p', 'Run-1', 'x')).not.toBe(compilationJobName('p', 'run-1', 'x'));
    expect(compilationJobName('p', 'run.1', 'x')).not.toBe(compilationJobName('p', 'run_1', 'x'));
  });

  test('a scope (the compile stage\'s stack and path) changes the hash only: same prefix, different names', () => {
    const dev = compilationJobName('cams', 'resnet-edge-v7', 'rasp4b', 'Dev/CamsCompile1A2B3C4D');
    const prod = compilationJobName('cams', 'resnet-edge-v7', 'rasp4b', 'Prod/CamsCompile1A2B3C4D');
    expect(dev).not.toBe(prod);
    expect(dev.replace(/[0-9a-f]{10}$/, '')).toBe(prod.replace(/[0-9a-f]{10}$/, ''));
    expect(dev).toMatch(/^cams-resnet-edge-v7-rasp4b-[0-9a-f]{10}$/);
  });
});
