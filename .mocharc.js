// Specs are named by the npm scripts, so `npx mocha <file>` runs just that file.
module.exports = {
  require: ['ts-node/register/transpile-only'],
  extension: ['ts'],
  timeout: 20000,
};
