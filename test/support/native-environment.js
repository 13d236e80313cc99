// A jest environment for tests that hand typed arrays to native addons
// (onnxruntime-node, koffi). Jest runs each test file in its own realm, so a
// Float32Array made in a test is not the Float32Array the addon checks
// against ("must be type of function Float32Array()"). This shares the outer
// realm's typed-array constructors with the test realm.
const { TestEnvironment } = require('jest-environment-node');

const SHARED = ['ArrayBuffer', 'SharedArrayBuffer', 'DataView', 'Float32Array', 'Float64Array', 'Int8Array', 'Int16Array', 'Int32Array',
  'Uint8Array', 'Uint8ClampedArray', 'Uint16Array', 'Uint32Array', 'BigInt64Array', 'BigUint64Array', 'Buffer'];

class NativeEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of SHARED) this.global[name] = globalThis[name];
  }
}

module.exports = NativeEnvironment;
