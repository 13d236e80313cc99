/** One JSON line per event, so CloudWatch Logs Insights can query the fields. */
export function log(level: 'INFO' | 'WARN' | 'ERROR', message: string, fields: Record<string, unknown> = {}): void {
  const line = JSON.stringify({ level, message, ...fields });
  if (level === 'ERROR') process.stderr.write(`${line}\n`);
  else process.stdout.write(`${line}\n`);
}
