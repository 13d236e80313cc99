/**
 * @jest-environment ./test/support/native-environment.js
 */
import { describeFaultShard } from './support/fault-matrix';

/** The fault-injection matrix (see fault-injection-1) of the single Jetson pipeline. */
describeFaultShard('single Jetson');
