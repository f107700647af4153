// @ts-check
// binaryen.js with the types its own index.d.ts lacks (binaryen.d.ts): every file of the
// metering pass imports the library from here.
import binaryen from 'binaryen';

/** @typedef {Omit<typeof binaryen, 'Operations'> & import('./binaryen.js').Classes} Binaryen */

export default /** @type {Binaryen} */ (/** @type {unknown} */ (binaryen));
