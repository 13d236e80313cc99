import { encodeNpy, parseNpy, readNpy } from '../src/npy';
import { FIXTURES } from '../../test/support/archives';

describe('the .npy reader', () => {
  test('reads what NumPy wrote: the fixture inputs, labels and reference outputs', () => {
    const inputs = readNpy(`${FIXTURES}/digits/validation/inputs.npy`);
    expect(inputs.dtype).toBe('float32');
    expect(inputs.shape).toEqual([360, 1, 8, 8]);
    expect(Math.max(...inputs.data as Float32Array)).toBeLessThanOrEqual(1);
    const labels = readNpy(`${FIXTURES}/digits/validation/labels.npy`);
    expect(labels).toMatchObject({ dtype: 'int64', shape: [360] });
    expect(readNpy(`${FIXTURES}/digits/validation/reference.npy`).shape).toEqual([360, 10]);
  });

  test('round-trips what it encodes', () => {
    const data = Float32Array.from([1.5, -2, 3.25, 0]);
    const back = parseNpy(encodeNpy({ dtype: 'float32', shape: [2, 2], data }));
    expect(back).toEqual({ dtype: 'float32', shape: [2, 2], data });
  });

  /** The 16 data bytes of `good` under another header (padded and counted as numpy does). */
  const withHeader = (dict: string): Buffer => {
    const text = `${dict}${' '.repeat((64 - ((10 + dict.length + 1) % 64)) % 64)}\n`;
    const head = Buffer.from([0x93, ...Buffer.from('NUMPY'), 1, 0, 0, 0]);
    head.writeUInt16LE(text.length, 8);
    return Buffer.concat([head, Buffer.from(text, 'latin1'), Buffer.alloc(16)]);
  };
  test('reads a header as numpy does: keys in any order, spacing free, trailing comma optional', () => {
    expect(parseNpy(withHeader("{'shape':(2,2),'fortran_order':False,'descr':'<f4'}")).shape).toEqual([2, 2]);
    expect(parseNpy(withHeader("{ 'descr' : '<f4' , 'fortran_order' : False , 'shape' : ( 4 , ) , }")).shape).toEqual([4]);
  });

  const good = encodeNpy({ dtype: 'float32', shape: [4], data: Float32Array.from([1, 2, 3, 4]) });
  test.each<[string, Buffer, RegExp]>([
    ['a file that is not .npy', Buffer.from('PK\u0003\u0004 a zip'), /not a NumPy .npy file/],
    ['a truncated data block', good.subarray(0, good.length - 3), /the data is truncated: shape \(4\) of <f4 needs 16 bytes, the file has 13/],
    ['bytes after the data', Buffer.concat([good, Buffer.alloc(8)]), /8 bytes follow the data/],
    ['a big-endian array', Buffer.from(good.toString('latin1').replace("'<f4'", "'>f4'"), 'latin1'), /dtype >f4 .*big-endian/],
    ['a Fortran-order array', Buffer.from(good.toString('latin1').replace('False', 'True '), 'latin1'), /Fortran order/],
    ['an object array', Buffer.from(good.toString('latin1').replace("'<f4'", "'|O8'"), 'latin1'), /dtype \|O8 is not one the agent reads/],
    ['a header cut short', good.subarray(0, 20), /header runs past the end/],
    // numpy reads the header with ast.literal_eval: what it refuses, this refuses, instead of reading it differently.
    ['a shape key given twice', withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), 'shape': (2, 2)}"), /key shape appears twice/],
    ['a key numpy does not write', withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), 'strides': (4,)}"), /key strides is not one of descr, fortran_order, shape/],
    ['a key missing', withHeader("{'descr': '<f4', 'shape': (4,)}"), /fortran_order must be True or False/],
    ['a header that is not a dict', withHeader("['descr', '<f4']"), /is not one dict literal/],
    ['a shape that is a number in parentheses', withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (4)}"), /shape \(4\) is a number in parentheses/],
    ['a shape of other than whole numbers', withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (-4,)}"), /is not a key: value entry/],
  ])('refuses %s', (_label, bytes, message) => {
    expect(() => parseNpy(bytes, 'x.npy')).toThrow(message);
  });
});
