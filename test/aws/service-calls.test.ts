import { Template } from 'aws-cdk-lib/assertions';
import { Account, AccessDeniedInTest } from '../support/iam/account';
import { serviceCalls, storeBucketsOf } from '../support/iam/service-calls';
import { EXAMPLE_STACKS, exampleStack } from '../support/example-stacks';

/**
 * The calls AWS services make on each example stack's behalf, authorized against the stack's
 * own policies: CloudWatch publishing alarms to the encrypted topic, EventBridge invoking the
 * trigger and writing its dead letters, IoT rules invoking the collector and writing metrics
 * and dead letters, and every token exchange role downloading the agent's artifact and a
 * model package as the Greengrass nucleus does.
 */
describe.each(EXAMPLE_STACKS)('the %s example', (_label, Example) => {
  const account = Account.of(Template.fromStack(exampleStack(Example)).toJSON() as never);
  const calls = serviceCalls(account, storeBucketsOf(account));

  test('has service calls to check (a store, and devices or triggers)', () => {
    expect(storeBucketsOf(account)).toHaveLength(1);
    // The compile example has no devices, alarms or triggers: its service calls are
    // SageMaker's, authorized in its local runs.
    if (_label !== 'compile') expect(calls.length).toBeGreaterThan(0);
  });

  test('every call a service makes for the stack is allowed', async () => {
    const denied: string[] = [];
    for (const call of calls) {
      const d = await account.authorize(call);
      if (!d.allowed) denied.push(new AccessDeniedInTest(d).message);
    }
    expect(denied).toEqual([]);
  });
});
