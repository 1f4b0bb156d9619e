#!/usr/bin/env node
// Open and save model files as a standard bpmn.io editor does: parse with bpmn-moddle / dmn-moddle
// and write them back with toXML (no SpiffWorkflow descriptor unless --extension FILE is given:
// then that moddle descriptor, e.g. the browser editor's spiffworkflow one, is loaded too).
//
//   node tests/bpmnio/roundtrip.mjs OUTDIR [--extension descriptor.json] FILE.bpmn|FILE.dmn ...
//
// Writes OUTDIR/<basename> for each file and prints one JSON line per file: {file, out, warnings}.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { BpmnModdle } from 'bpmn-moddle';
import { DmnModdle } from 'dmn-moddle';

const args = process.argv.slice(2);
const outdir = args.shift();
let extension = null;
if (args[0] === '--extension') {
  args.shift();
  const descriptor = JSON.parse(await readFile(args.shift(), 'utf8'));
  extension = { [descriptor.prefix]: descriptor };
}
if (!outdir || !args.length) {
  console.error('usage: node roundtrip.mjs OUTDIR [--extension descriptor.json] FILE ...');
  process.exit(2);
}
for (const file of args) {
  const xml = await readFile(file, 'utf8');
  const moddle = file.endsWith('.dmn') ? new DmnModdle() : new BpmnModdle(extension || {});
  const { rootElement, warnings } = await moddle.fromXML(xml);
  const { xml: saved } = await moddle.toXML(rootElement, { format: true });
  const out = path.join(outdir, path.basename(file));
  await writeFile(out, saved);
  console.log(JSON.stringify({ file, out, warnings: warnings.map(w => w.message.split('\n')[0]) }));
}
