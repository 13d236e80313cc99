/**
 * @jest-environment ./test/support/native-environment.js
 */
import { describeFaultShard } from './support/fault-matrix';

/**
 * Every Task state of the mixed-fleet pipeline, read from its synthesized definition, gets each
 * fault (a service error no Retry matches, a throttle that outlasts the retries, a crash of a
 * Lambda's code) in a scenario that reaches it (`support/fault-matrix.ts`). Two shards, so the
 * two test workers share the work; `npm run fault-matrix` prints the whole matrix.
 */
describeFaultShard('mixed-fleet', 0, 2);
