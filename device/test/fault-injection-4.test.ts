/**
 * @jest-environment ./test/support/native-environment.js
 */
import { describeFaultShard } from './support/fault-matrix';

/** The fault-injection matrix (see fault-injection-1) of the ONNX Runtime pipeline (no Neo) and the Model Registry pipeline. */
describeFaultShard('ONNX Runtime');
describeFaultShard('Model Registry');
