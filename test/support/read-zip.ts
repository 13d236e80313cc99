import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';

/** One entry of a ZIP as Python's zipfile (an independent reader) sees it. */
export interface ZipEntryInfo {
  readonly name: string;
  readonly dateTime: number[];
  readonly mode: number;
  readonly compressType: number;
  readonly size: number;
  readonly sha256: string;
}

const READER = `
import hashlib, json, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    bad = z.testzip()
    entries = []
    for info in z.infolist():
        data = z.read(info)
        entries.append({"name": info.filename, "dateTime": list(info.date_time), "mode": info.external_attr >> 16,
                        "compressType": info.compress_type, "size": info.file_size,
                        "sha256": hashlib.sha256(data).hexdigest()})
    print(json.dumps({"bad": bad, "entries": entries}))
`;

const PYTHON = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

/** Reads a ZIP back with Python's zipfile, checking every CRC; throws on a bad entry. */
export function readZip(path: string): ZipEntryInfo[] {
  const out = JSON.parse(execFileSync(PYTHON, ['-c', READER, path], { encoding: 'utf8' })) as { bad: string | null; entries: ZipEntryInfo[] };
  if (out.bad) throw new Error(`${path}: entry ${out.bad} fails its CRC check`);
  return out.entries;
}
