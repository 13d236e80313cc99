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

// The handlers log one JSON line per event; the tests assert on results instead.
process.env.LOG_LEVEL = process.env.LOG_LEVEL || 'OFF';
