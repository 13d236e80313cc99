/**
 * Reads the graph input names of an ONNX model in one streaming pass, with
 * bounded memory: only names are kept; weights are skipped as they stream by.
 *
 * ONNX is protobuf: ModelProto.graph (7) → GraphProto.input (11) →
 * ValueInfoProto.name (1), and GraphProto.initializer (5) → TensorProto.name
 * (8). Older exporters list initializers among the inputs too; the real
 * inputs are the ones that are not initializers.
 */

/** What {@link OnnxInputReader} found. */
export interface OnnxGraphInputs {
  /** Inputs that are not initializers, in graph order. */
  readonly inputs: string[];
  /** Every name under graph.input. */
  readonly declaredInputs: string[];
}

/** The data is not an ONNX model. */
export class OnnxFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OnnxFormatError';
  }
}

type FrameKind = 'model' | 'graph' | 'input' | 'initializer';
interface Frame { kind: FrameKind; end: number; name?: string }

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;
const MAX_NAME = 4096;
const MAX_VALID_MODEL_FIELD = 20;

/** Push-based reader: `write()` the bytes of a `.onnx` file, then `end()`. */
export class OnnxInputReader {
  private readonly stack: Frame[] = [{ kind: 'model', end: Infinity }];
  private offset = 0;
  private state: 'tag' | 'len' | 'varint' | 'skip' | 'capture' = 'tag';
  private varint = 0;
  private varintShift = 0;
  private field = 0;
  private skipLeft = 0;
  private capture: Buffer[] = [];
  private captureLeft = 0;
  private readonly declared: string[] = [];
  private readonly initializers = new Set<string>();
  private sawGraph = false;

  public write(chunk: Buffer): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.state === 'skip') {
        const take = Math.min(this.skipLeft, chunk.length - i);
        i += take;
        this.offset += take;
        this.skipLeft -= take;
        if (this.skipLeft === 0) this.fieldDone();
        continue;
      }
      if (this.state === 'capture') {
        const take = Math.min(this.captureLeft, chunk.length - i);
        this.capture.push(Buffer.from(chunk.subarray(i, i + take)));
        i += take;
        this.offset += take;
        this.captureLeft -= take;
        if (this.captureLeft === 0) this.captured(Buffer.concat(this.capture).toString('utf8'));
        continue;
      }
      // tag, len or varint: one byte at a time
      const byte = chunk[i++];
      this.offset++;
      this.varint += (byte & 0x7f) * 2 ** this.varintShift;
      this.varintShift += 7;
      if (this.varintShift > 63) throw new OnnxFormatError('a varint is longer than 10 bytes');
      if (byte & 0x80) continue;
      const value = this.varint;
      this.varint = 0;
      this.varintShift = 0;
      if (this.state === 'tag') this.onTag(value);
      else if (this.state === 'len') this.onLength(value);
      else this.fieldDone();
    }
  }

  /** Ends the stream and returns the inputs; throws if the data stopped mid-message. */
  public end(): OnnxGraphInputs {
    if (this.state !== 'tag' || this.varintShift !== 0 || this.stack.length !== 1) {
      throw new OnnxFormatError('the model file ends in the middle of a message (truncated)');
    }
    if (!this.sawGraph) throw new OnnxFormatError('the file has no ONNX graph');
    return {
      inputs: this.declared.filter((n) => !this.initializers.has(n)),
      declaredInputs: [...this.declared],
    };
  }

  private top(): Frame {
    return this.stack[this.stack.length - 1];
  }

  private onTag(tag: number): void {
    this.field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (this.field === 0) throw new OnnxFormatError('a protobuf field number is 0');
    if (this.top().kind === 'model' && this.field > MAX_VALID_MODEL_FIELD) {
      throw new OnnxFormatError(`field ${this.field} is not a field of ModelProto`);
    }
    switch (wire) {
      case WIRE_VARINT: this.state = 'varint'; return;
      case WIRE_I64: this.startSkip(8); return;
      case WIRE_I32: this.startSkip(4); return;
      case WIRE_LEN: this.state = 'len'; return;
      default: throw new OnnxFormatError(`wire type ${wire} is not used by ONNX`);
    }
  }

  private onLength(length: number): void {
    const frame = this.top();
    const end = this.offset + length;
    if (end > frame.end) throw new OnnxFormatError('a field runs past the end of its message');
    const kind = frame.kind;
    const f = this.field;
    if (kind === 'model' && f === 7) return this.push('graph', end);
    if (kind === 'graph' && f === 11) return this.push('input', end);
    if (kind === 'graph' && f === 5) return this.push('initializer', end);
    if ((kind === 'input' && f === 1) || (kind === 'initializer' && f === 8)) {
      if (length > MAX_NAME) throw new OnnxFormatError(`a name of ${length} bytes`);
      if (length === 0) return this.captured('');
      this.state = 'capture';
      this.capture = [];
      this.captureLeft = length;
      return;
    }
    this.startSkip(length);
  }

  private push(kind: FrameKind, end: number): void {
    if (kind === 'graph') this.sawGraph = true;
    this.stack.push({ kind, end });
    this.state = 'tag';
    this.popFinished();
  }

  private startSkip(n: number): void {
    if (n === 0) return this.fieldDone();
    this.state = 'skip';
    this.skipLeft = n;
  }

  private captured(text: string): void {
    this.top().name = text;
    this.fieldDone();
  }

  private fieldDone(): void {
    this.state = 'tag';
    this.popFinished();
  }

  private popFinished(): void {
    while (this.stack.length > 1 && this.offset >= this.top().end) {
      const frame = this.stack.pop()!;
      if (frame.kind === 'input' && frame.name !== undefined) this.declared.push(frame.name);
      if (frame.kind === 'initializer' && frame.name !== undefined) this.initializers.add(frame.name);
    }
  }
}
