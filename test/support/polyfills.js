// aws-local-stepfunctions uses Promise.withResolvers, which Node 20 lacks.
// Without it a Task fails into its Catch silently.
if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function withResolvers() {
    let resolve;
    let reject;
    const promise = new Promise((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}
