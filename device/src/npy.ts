import * as fs from 'node:fs';
import { AgentError, AgentErrorCode } from './errors';

/** The element types the agent reads, by NumPy `descr`. */
export type DType = 'float32' | 'float64' | 'int32' | 'int64' | 'uint8' | 'int8' | 'bool';

const DESCR: Record<string, { dtype: DType; size: number }> = {
  '<f4': { dtype: 'float32', size: 4 },
  '<f8': { dtype: 'float64', size: 8 },
  '<i4': { dtype: 'int32', size: 4 },
  '<i8': { dtype: 'int64', size: 8 },
  '|u1': { dtype: 'uint8', size: 1 },
  '<u1': { dtype: 'uint8', size: 1 },
  '|i1': { dtype: 'int8', size: 1 },
  '<i1': { dtype: 'int8', size: 1 },
  '|b1': { dtype: 'bool', size: 1 },
};

/** A NumPy array read from a `.npy` file: C order, little endian. */
export interface NpyArray {
  readonly dtype: DType;
  readonly shape: number[];
  readonly data: Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array | Int8Array;
}

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY

function fail(source: string, message: string): never {
  throw new AgentError(AgentErrorCode.DATASET_INVALID, `${source}: ${message}`);
}

/**
 * The header dict as numpy writes it (`numpy.lib.format`): exactly the keys descr (a string),
 * fortran_order (True or False) and shape (a tuple of whole numbers, `(n,)` for one dimension),
 * each once, in any order, with a trailing comma allowed, padded with spaces and ending in a
 * newline. numpy reads it with `ast.literal_eval` and refuses other keys; so does this.
 */
function parseHeader(header: string, source: string): { descr: string; fortran: boolean; shape: number[] } {
  const bad = (why: string): never => fail(source, `the header ${JSON.stringify(header.slice(0, 120))} is not a .npy header: ${why}`);
  if (!header.endsWith('\n')) bad('it does not end with a newline');
  const body = /^\s*\{(.*)\}\s*$/s.exec(header.slice(0, -1))?.[1] ?? bad('it is not one dict literal');
  const ENTRY = /^\s*'([a-z_]+)'\s*:\s*('[^'\\]*'|True|False|\(\s*(?:\d+\s*,\s*)*(?:\d+\s*,?\s*)?\))\s*(?:,|$)/;
  const found: Record<string, string> = {};
  let rest = body;
  while (rest.trim() !== '') {
    const m = ENTRY.exec(rest) ?? bad(`${JSON.stringify(rest.trim().slice(0, 40))} is not a key: value entry`);
    if (!['descr', 'fortran_order', 'shape'].includes(m[1])) bad(`key ${m[1]} is not one of descr, fortran_order, shape`);
    if (m[1] in found) bad(`key ${m[1]} appears twice`);
    found[m[1]] = m[2];
    rest = rest.slice(m[0].length);
  }
  const { descr, fortran_order: fortran, shape } = found;
  if (descr === undefined || !descr.startsWith("'")) bad('descr must be a string');
  if (fortran !== 'True' && fortran !== 'False') bad('fortran_order must be True or False');
  if (shape === undefined || !shape.startsWith('(')) bad('shape must be a tuple');
  const dims = shape.slice(1, -1).split(',').map((d) => d.trim()).filter((d) => d !== '');
  if (dims.length === 1 && !/,\s*\)$/.test(shape)) bad(`shape ${shape} is a number in parentheses, not a tuple (numpy writes (${dims[0]},))`);
  return { descr: descr.slice(1, -1), fortran: fortran === 'True', shape: dims.map((d) => Number(d)) };
}

/**
 * Parses a `.npy` file strictly: format versions 1-3, a little-endian dtype
 * the agent knows, C order, and exactly as many data bytes as the shape
 * needs. Anything else is refused with a message that says what was found.
 */
export function parseNpy(bytes: Buffer, source = 'the .npy file'): NpyArray {
  if (bytes.length < 10 || !bytes.subarray(0, 6).equals(MAGIC)) fail(source, 'not a NumPy .npy file (no \\x93NUMPY magic): save it with numpy.save');
  const major = bytes[6];
  if (major < 1 || major > 3) fail(source, `.npy format version ${major}.${bytes[7]} is not 1, 2 or 3`);
  const headerLength = major === 1 ? bytes.readUInt16LE(8) : bytes.readUInt32LE(8);
  const headerStart = major === 1 ? 10 : 12;
  const dataStart = headerStart + headerLength;
  if (dataStart > bytes.length) fail(source, 'the header runs past the end of the file (truncated)');
  const header = bytes.subarray(headerStart, dataStart).toString(major === 3 ? 'utf8' : 'latin1');
  const { descr, fortran, shape } = parseHeader(header, source);
  if (fortran) fail(source, 'the array is in Fortran order: save numpy.ascontiguousarray(x) instead');
  const type = DESCR[descr];
  if (!type) {
    const hint = descr.startsWith('>') ? ' (big-endian: save x.astype(x.dtype.newbyteorder("<")))' : '';
    fail(source, `dtype ${descr} is not one the agent reads (${Object.keys(DESCR).join(', ')})${hint}`);
  }
  const count = shape.reduce((a, b) => a * b, 1);
  const needed = count * type.size;
  const available = bytes.length - dataStart;
  if (available < needed) fail(source, `the data is truncated: shape (${shape.join(', ')}) of ${descr} needs ${needed} bytes, the file has ${available}`);
  if (available > needed) fail(source, `${available - needed} bytes follow the data of shape (${shape.join(', ')}): the file is not one array`);
  // Copy so the typed array is aligned whatever the header length.
  const raw = Buffer.from(bytes.subarray(dataStart, dataStart + needed));
  const buffer = raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength);
  switch (type.dtype) {
    case 'float32': return { dtype: 'float32', shape, data: new Float32Array(buffer) };
    case 'float64': return { dtype: 'float64', shape, data: new Float64Array(buffer) };
    case 'int32': return { dtype: 'int32', shape, data: new Int32Array(buffer) };
    case 'int64': return { dtype: 'int64', shape, data: new BigInt64Array(buffer) };
    case 'int8': return { dtype: 'int8', shape, data: new Int8Array(buffer) };
    default: return { dtype: type.dtype, shape, data: new Uint8Array(buffer) };
  }
}

/** Reads and parses a `.npy` file. */
export function readNpy(path: string): NpyArray {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(path);
  } catch (err) {
    throw new AgentError(AgentErrorCode.DATASET_INVALID, `${path} cannot be read: ${(err as Error).message}`);
  }
  return parseNpy(bytes, path);
}

/** Writes a `.npy` file (format 1.0), for tests and tools. */
export function encodeNpy(array: { dtype: 'float32' | 'int64' | 'uint8'; shape: number[]; data: Float32Array | BigInt64Array | Uint8Array }): Buffer {
  const descr = { float32: '<f4', int64: '<i8', uint8: '|u1' }[array.dtype];
  const shape = array.shape.length === 1 ? `(${array.shape[0]},)` : `(${array.shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const head = Buffer.alloc(10);
  MAGIC.copy(head);
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  return Buffer.concat([head, Buffer.from(header, 'latin1'), Buffer.from(array.data.buffer, array.data.byteOffset, array.data.byteLength)]);
}
