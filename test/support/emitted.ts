function capture(): { lines: string[]; restore: () => void } {
  const lines: string[] = [];
  const level = process.env.LOG_LEVEL;
  process.env.LOG_LEVEL = 'INFO';
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  return {
    lines,
    restore: () => {
      spy.mockRestore();
      if (level === undefined) delete process.env.LOG_LEVEL;
      else process.env.LOG_LEVEL = level;
    },
  };
}

const parse = (lines: string[]) => lines.join('').trim().split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);

/** The JSON log lines a handler writes to stdout while `fn` runs. */
export function emitted(fn: () => void): Record<string, unknown>[] {
  const { lines, restore } = capture();
  try {
    fn();
  } finally {
    restore();
  }
  return parse(lines);
}

/** The JSON log lines a handler writes to stdout until `fn`'s promise settles. */
export async function emittedAsync(fn: () => Promise<unknown>): Promise<Record<string, unknown>[]> {
  const { lines, restore } = capture();
  try {
    await fn();
  } finally {
    restore();
  }
  return parse(lines);
}
