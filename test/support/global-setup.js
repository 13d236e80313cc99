// Bundles the handlers once before the tests, so constructs find their assets
// whether jest runs alone or through `npm test`.
const { execFileSync } = require('node:child_process');
const path = require('node:path');

module.exports = async () => {
  execFileSync(process.execPath, [path.join(__dirname, '..', '..', 'scripts', 'bundle-lambdas.mjs')], { stdio: 'ignore' });
};
