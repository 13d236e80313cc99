import { ArchiveBoundsError, DEFAULT_ARCHIVE_LIMITS } from '../shared/archive-bounds';
import { ArchiveFormatError, EntrySink, scanTarGz } from '../shared/tar';

/**
 * The most a model archive may unpack to: what the packager takes at its largest
 * `maxArtifactSize` (4 GiB), so a model refused here could not have shipped anyway. Checked
 * from the headers, before the data is inflated.
 */
export const MAX_MODEL_UNPACKED_BYTES = 4 * 1024 ** 3;
import { OnnxFormatError, OnnxInputReader } from '../shared/onnx';

/** What the preflight found in a model archive. */
export interface ArchiveReport {
  readonly files: string[];
  readonly modelFiles: string[];
  /** ONNX only: the graph inputs (initializers excluded). */
  readonly onnxInputs?: string[];
}

/** One reason Neo would refuse the archive. */
export class ArchiveRefusal extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArchiveRefusal';
  }
}

interface FrameworkRule {
  /** What Neo looks for, for the message. */
  readonly expects: string;
  /** Files that are the model. */
  readonly isModelFile: (name: string) => boolean;
  /** Neo takes exactly one such file. */
  readonly single?: boolean;
  /** Files that must all be there besides (each a test over the names). */
  readonly companions?: { describe: string; test: (name: string) => boolean }[];
}

const base = (name: string) => name.slice(name.lastIndexOf('/') + 1);

const RULES: Record<string, FrameworkRule> = {
  ONNX: { expects: 'exactly one .onnx file', isModelFile: (n) => n.endsWith('.onnx'), single: true },
  PYTORCH: { expects: 'exactly one traced model file (.pth or .pt)', isModelFile: (n) => /\.(pth|pt)$/.test(n), single: true },
  KERAS: { expects: 'exactly one .h5 file', isModelFile: (n) => n.endsWith('.h5'), single: true },
  TENSORFLOW: {
    expects: 'exactly one .pb file (saved_model.pb of a SavedModel, or a frozen graph)',
    isModelFile: (n) => n.endsWith('.pb'),
    single: true,
  },
  TFLITE: { expects: 'exactly one .tflite file', isModelFile: (n) => n.endsWith('.tflite'), single: true },
  MXNET: {
    expects: 'a -symbol.json file and a .params file',
    isModelFile: (n) => n.endsWith('-symbol.json'),
    single: true,
    companions: [{ describe: 'a .params file', test: (n) => n.endsWith('.params') }],
  },
  DARKNET: {
    expects: 'a .cfg file and a .weights file',
    isModelFile: (n) => n.endsWith('.cfg'),
    single: true,
    companions: [{ describe: 'a .weights file', test: (n) => n.endsWith('.weights') }],
  },
  XGBOOST: { expects: 'one model file', isModelFile: (n) => !base(n).startsWith('.') },
  SKLEARN: { expects: 'one model file', isModelFile: (n) => !base(n).startsWith('.') },
};

/** Frameworks the preflight knows. */
export const KNOWN_FRAMEWORKS = Object.keys(RULES);

/**
 * Reads a model archive in one pass and refuses what Neo would refuse:
 * anything but a gzip'd tar, no model file, several model files where Neo
 * takes one, and ONNX input names that are not the ones in DataInputConfig.
 */
export async function inspectArchive(
  source: AsyncIterable<Uint8Array>,
  framework: string,
  expectedInputNames: string[],
): Promise<ArchiveReport> {
  const rule = RULES[framework];
  if (!rule) throw new ArchiveRefusal(`the framework ${JSON.stringify(framework)} is not one Neo knows (${KNOWN_FRAMEWORKS.join(', ')})`);
  const files: string[] = [];
  const onnxReaders = new Map<string, OnnxInputReader>();
  const onnxErrors = new Map<string, string>();
  try {
    await scanTarGz(source, (entry) => {
      if (entry.type !== 'file') return undefined;
      files.push(entry.name);
      if (framework !== 'ONNX' || !entry.name.endsWith('.onnx')) return undefined;
      const reader = new OnnxInputReader();
      onnxReaders.set(entry.name, reader);
      const sink: EntrySink = {
        write: (chunk) => {
          if (onnxErrors.has(entry.name)) return;
          try { reader.write(chunk); } catch (err) { onnxErrors.set(entry.name, (err as Error).message); }
        },
        end: () => undefined,
      };
      return sink;
    }, { ...DEFAULT_ARCHIVE_LIMITS, maxUnpackedBytes: MAX_MODEL_UNPACKED_BYTES });
  } catch (err) {
    if (err instanceof ArchiveBoundsError) {
      throw new ArchiveRefusal(`the model archive is refused: ${err.message} (bounds: ${DEFAULT_ARCHIVE_LIMITS.maxEntries} entries, ${MAX_MODEL_UNPACKED_BYTES} bytes unpacked, paths of ${DEFAULT_ARCHIVE_LIMITS.maxPathBytes} bytes, components of ${DEFAULT_ARCHIVE_LIMITS.maxComponentBytes})`);
    }
    if (err instanceof ArchiveFormatError) {
      throw new ArchiveRefusal(`the model object is not a gzip-compressed tar archive: ${err.message}. Neo unpacks one model.tar.gz: make it with "tar -czf model.tar.gz <model files>"`);
    }
    throw err;
  }

  const visible = files.filter((f) => !base(f).startsWith('._'));
  const modelFiles = visible.filter(rule.isModelFile);
  const found = visible.length ? `it holds ${list(visible)}` : 'it holds no files';
  if (modelFiles.length === 0) {
    throw new ArchiveRefusal(`no ${framework} model file in the archive: ${found}; Neo expects ${rule.expects}`);
  }
  if (rule.single && modelFiles.length > 1) {
    throw new ArchiveRefusal(`${modelFiles.length} ${framework} model files in the archive (${list(modelFiles)}); Neo expects ${rule.expects}: keep one`);
  }
  for (const companion of rule.companions ?? []) {
    if (!visible.some(companion.test)) {
      throw new ArchiveRefusal(`the ${framework} archive has no ${companion.describe}: ${found}; Neo expects ${rule.expects}`);
    }
  }

  let onnxInputs: string[] | undefined;
  if (framework === 'ONNX') {
    const name = modelFiles[0];
    const error = onnxErrors.get(name);
    if (error) throw new ArchiveRefusal(`${name} is not a readable ONNX model: ${error}`);
    try {
      onnxInputs = onnxReaders.get(name)!.end().inputs;
    } catch (err) {
      if (err instanceof OnnxFormatError) throw new ArchiveRefusal(`${name} is not a readable ONNX model: ${err.message}`);
      throw err;
    }
    const expected = [...expectedInputNames].sort();
    const actual = [...onnxInputs].sort();
    if (expected.join('\u0000') !== actual.join('\u0000')) {
      throw new ArchiveRefusal(`the ONNX graph's inputs are ${list(onnxInputs)} but DataInputConfig names ${list(expectedInputNames)}; Neo matches shapes to inputs by name: name the inputs of the model source as the graph does`);
    }
  }
  return { files, modelFiles, onnxInputs };
}

function list(names: string[]): string {
  const shown = names.slice(0, 10).map((n) => JSON.stringify(n)).join(', ');
  return names.length > 10 ? `[${shown}, … ${names.length - 10} more]` : `[${shown}]`;
}
