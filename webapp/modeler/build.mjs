// Builds the editor into webapp/static/modeler/ (committed; `make modeler` runs this).
import * as esbuild from 'esbuild';

const common = { bundle: true, minify: true, logLevel: 'info', legalComments: 'linked', outdir: '../static/modeler' };
await esbuild.build({ ...common, entryPoints: { modeler: 'src/editor.js' }, format: 'iife', target: [ 'es2020' ],
  loader: { '.json': 'json' } });
await esbuild.build({ ...common, entryPoints: { modeler: 'src/editor.css' },
  loader: { '.woff': 'file', '.woff2': 'file', '.ttf': 'file', '.eot': 'file', '.svg': 'file' },
  assetNames: '[name]-[hash]' });
