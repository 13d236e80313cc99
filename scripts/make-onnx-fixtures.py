#!/usr/bin/python3
"""Writes the small ONNX models the compile preflight tests read.

Run with Debian's interpreter (python3-onnx, python3-numpy):
    /usr/bin/python3 scripts/make-onnx-fixtures.py
The files are committed, so the tests need neither package.
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'onnx')
rng = np.random.default_rng(7)


def mlp(extra_inputs=(), initializers_as_inputs=False):
    w1 = numpy_helper.from_array(rng.standard_normal((64, 16)).astype(np.float32), 'w1')
    b1 = numpy_helper.from_array(np.zeros(16, np.float32), 'b1')
    w2 = numpy_helper.from_array(rng.standard_normal((16, 10)).astype(np.float32), 'w2')
    b2 = numpy_helper.from_array(np.zeros(10, np.float32), 'b2')
    inits = [w1, b1, w2, b2]
    inputs = [helper.make_tensor_value_info('pixels', TensorProto.FLOAT, [1, 64])]
    nodes = [
        helper.make_node('Gemm', ['pixels', 'w1', 'b1'], ['h']),
        helper.make_node('Relu', ['h'], ['r']),
        helper.make_node('Gemm', ['r', 'w2', 'b2'], ['logits0']),
    ]
    out = 'logits0'
    for name in extra_inputs:
        inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, 10]))
        nodes.append(helper.make_node('Add', [out, name], [f'{out}_{name}']))
        out = f'{out}_{name}'
    nodes.append(helper.make_node('Identity', [out], ['logits']))
    if initializers_as_inputs:
        inputs += [helper.make_tensor_value_info(t.name, TensorProto.FLOAT, list(t.dims)) for t in inits]
    graph = helper.make_graph(nodes, 'digits-mlp', inputs,
                              [helper.make_tensor_value_info('logits', TensorProto.FLOAT, [1, 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 13)], producer_name='cdk-edge-model-pipeline-fixtures')
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def main():
    os.makedirs(OUT, exist_ok=True)
    fixtures = {
        'mlp.onnx': mlp(),
        'mlp-legacy-inputs.onnx': mlp(initializers_as_inputs=True),
        'two-inputs.onnx': mlp(extra_inputs=('bias',)),
    }
    for name, model in fixtures.items():
        onnx.save(model, os.path.join(OUT, name))
        real = [i.name for i in model.graph.input if i.name not in {t.name for t in model.graph.initializer}]
        print(f'{name}: inputs {real}')


if __name__ == '__main__':
    main()
