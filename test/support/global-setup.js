// Bundles the handlers once before the tests, so constructs find their assets
// whether jest runs alone or through `npm test`; and says at once which system tool a test
// needs is missing (README, Develop), instead of a failure deep in one test.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

/** What the tests run besides Node.js: archives, the DLR stand-in library, Python's zipfile, the report's browser. */
const TOOLS = ['tar', 'gzip', 'cc', 'python3'];
const CHROMIUM = '/usr/bin/chromium';

function onPath(tool) {
  return (process.env.PATH ?? '').split(path.delimiter).some((dir) => dir && fs.existsSync(path.join(dir, tool)));
}

module.exports = async () => {
  const missing = [...TOOLS.filter((t) => !onPath(t)), ...(fs.existsSync(CHROMIUM) ? [] : [CHROMIUM])];
  if (missing.length) {
    throw new Error(`the tests need ${missing.join(', ')}: on Debian, as root, apt-get install -y tar gzip gcc python3 chromium (README, Develop)`);
  }
  execFileSync(process.execPath, [path.join(__dirname, '..', '..', 'scripts', 'bundle-lambdas.mjs')], { stdio: 'ignore' });
};
