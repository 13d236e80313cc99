import { onnx } from 'onnx-proto';

/** Test models written with ONNX's own protobuf schema (onnx-proto): shapes the committed fixtures do not have. */

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const tensor = (name: string, elemType: number, dims: number[]): onnx.IValueInfoProto => ({
  name, type: { tensorType: { elemType, shape: { dim: dims.map((d) => ({ dimValue: d })) } } },
});

function model(graph: onnx.IGraphProto): Buffer {
  return Buffer.from(onnx.ModelProto.encode({ irVersion: 8, opsetImport: [{ domain: '', version: 13 }], producerName: 'cdk-edge-model-pipeline-tests', graph }).finish());
}

/** A classifier of `classes` classes whose scores are its input (input `pixels` [1, classes], output `logits`). */
export function identityClassifier(classes: number): Buffer {
  return model({
    name: 'identity-classifier',
    node: [{ opType: 'Identity', input: ['pixels'], output: ['logits'] }],
    input: [tensor('pixels', FLOAT, [1, classes])],
    output: [tensor('logits', FLOAT, [1, classes])],
  });
}

/**
 * A model that never returns: a Loop of 2^63 - 1 iterations whose body passes its state through
 * (input `pixels` [1, classes], output `logits`).
 */
export function endlessModel(classes: number): Buffer {
  const body: onnx.IGraphProto = {
    name: 'forever',
    node: [
      { opType: 'Identity', input: ['cond_in'], output: ['cond_out'] },
      { opType: 'Identity', input: ['x_in'], output: ['x_out'] },
    ],
    input: [tensor('i', onnx.TensorProto.DataType.INT64, []), tensor('cond_in', onnx.TensorProto.DataType.BOOL, []), tensor('x_in', FLOAT, [1, classes])],
    output: [tensor('cond_out', onnx.TensorProto.DataType.BOOL, []), tensor('x_out', FLOAT, [1, classes])],
  };
  return model({
    name: 'endless',
    initializer: [
      { name: 'trips', dataType: onnx.TensorProto.DataType.INT64, dims: [], int64Data: ['9223372036854775807'] },
      { name: 'always', dataType: onnx.TensorProto.DataType.BOOL, dims: [], int32Data: [1] },
    ],
    node: [{ opType: 'Loop', input: ['trips', 'always', 'pixels'], output: ['logits'], attribute: [{ name: 'body', type: onnx.AttributeProto.AttributeType.GRAPH, g: body }] }],
    input: [tensor('pixels', FLOAT, [1, classes])],
    output: [tensor('logits', FLOAT, [1, classes])],
  });
}
