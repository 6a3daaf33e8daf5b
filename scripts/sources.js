// Prints native source lists from native/sources.json, one per line, for binding.gyp's <!@(...) expansion.
// Usage: node scripts/sources.js core addon
'use strict';
const path = require('node:path');
const lists = require(path.join(__dirname, '..', 'native', 'sources.json'));
const out = [];
for (const name of process.argv.slice(2)) {
  if (!Array.isArray(lists[name])) throw new Error(`native/sources.json has no list "${name}"`);
  out.push(...lists[name]);
}
process.stdout.write(out.join('\n') + '\n');
