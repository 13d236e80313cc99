import * as path from 'node:path';

/**
 * The bounds every archive reader works within, checked from the headers as the archive
 * streams, before any entry's data is read or written.
 */
export interface ArchiveLimits {
  /** Entries of any kind (files, folders, links). */
  readonly maxEntries: number;
  /** The sum of the regular files' sizes, as their headers declare them. */
  readonly maxUnpackedBytes: number;
  /** One entry's path, in UTF-8 bytes. */
  readonly maxPathBytes: number;
  /** One component of a path (what a Linux file system holds: 255 bytes). */
  readonly maxComponentBytes: number;
  /** Folders deep. */
  readonly maxDepth: number;
}

export const DEFAULT_ARCHIVE_LIMITS: ArchiveLimits = {
  maxEntries: 10_000,
  maxUnpackedBytes: 8 * 1024 ** 3,
  maxPathBytes: 1024,
  maxComponentBytes: 255,
  maxDepth: 32,
};

/** An archive past one of its bounds, or holding a path that cannot be unpacked safely. */
export class ArchiveBoundsError extends Error {
  constructor(
    public readonly reason: 'entries' | 'unpacked-bytes' | 'path',
    message: string,
  ) {
    super(message);
    this.name = 'ArchiveBoundsError';
  }
}

/**
 * An entry's path as it unpacks: the one normalization every reader uses (`./`, `//` and `.`
 * segments removed, a trailing `/` dropped; `.` for the root), so two names that unpack to one
 * file compare equal.
 * Refuses (ArchiveBoundsError `path`) absolute paths, `..`, NUL and backslashes, and paths or
 * components longer than the limits allow.
 */
export function archivePath(raw: string, limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS): string {
  const shown = raw.length > 80 ? `${JSON.stringify(raw.slice(0, 80))}… (${Buffer.byteLength(raw)} bytes)` : JSON.stringify(raw);
  const refuse = (why: string): never => {
    throw new ArchiveBoundsError('path', `the entry ${shown} ${why}`);
  };
  if (Buffer.byteLength(raw) > limits.maxPathBytes) refuse(`has a path longer than ${limits.maxPathBytes} bytes`);
  if (raw.includes('\0')) refuse('has a NUL byte');
  if (raw.includes('\\')) refuse('has a backslash (a Windows path)');
  if (raw.startsWith('/') || /^[A-Za-z]:/.test(raw)) refuse('is an absolute path');
  const parts = raw.split('/');
  if (parts.includes('..')) refuse('climbs out of the archive with ".."');
  const normal = path.posix.normalize(raw).replace(/(.)\/+$/, '$1');
  // The archive's root (`./`, as `tar -C dir .` writes it).
  if (normal === '.' || normal === './') return '.';
  const components = normal.split('/');
  const long = components.find((c) => Buffer.byteLength(c) > limits.maxComponentBytes);
  if (long !== undefined) refuse(`has a component of ${Buffer.byteLength(long)} bytes; a Linux file system holds at most ${limits.maxComponentBytes}`);
  if (components.length > limits.maxDepth) refuse(`is ${components.length} levels deep, over the limit of ${limits.maxDepth}`);
  return normal;
}
