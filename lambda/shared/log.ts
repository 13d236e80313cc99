const LEVELS = { DEBUG: 10, INFO: 20, WARN: 30, ERROR: 40, OFF: 100 } as const;
type Level = Exclude<keyof typeof LEVELS, 'OFF'>;

/** The lowest level written, from LOG_LEVEL (DEBUG, INFO, WARN, ERROR or OFF); INFO by default. */
function threshold(): number {
  const name = (process.env.LOG_LEVEL ?? 'INFO').toUpperCase() as keyof typeof LEVELS;
  return LEVELS[name] ?? LEVELS.INFO;
}

/** One JSON line per event, so CloudWatch Logs Insights can query the fields. */
export function log(level: Level, message: string, fields: Record<string, unknown> = {}): void {
  if (LEVELS[level] < threshold()) return;
  const line = JSON.stringify({ level, message, ...fields });
  if (level === 'ERROR') process.stderr.write(`${line}\n`);
  else process.stdout.write(`${line}\n`);
}
