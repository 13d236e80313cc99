/**
 * An error whose name Step Functions sees as the error name of the Task
 * (Lambda reports `errorType` from `name`), so a state machine can Catch it.
 */
export class NamedError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}
