// The browser process editor: bpmn-js (with the properties panel and our spiffworkflow provider)
// for BPMN, dmn-js for decision tables, and a JSON-Schema form editor whose preview the server
// renders exactly as a task page would. Validate, save a draft and deploy go to the server.
import BpmnModeler from 'bpmn-js/lib/Modeler';
import DmnModeler from 'dmn-js/lib/Modeler';
import { BpmnPropertiesPanelModule, BpmnPropertiesProviderModule } from 'bpmn-js-properties-panel';

import spiffModdle from './spiffworkflow-moddle.json';
import { SpiffPropertiesModule } from './spiff-provider.js';
import { config, setConfig, t } from './config.js';
import translateFor from './translate.js';

const root = document.getElementById('modeler');
const urls = root.dataset;
const $ = id => document.getElementById(id);

const files = {};        // name → text as it will be sent
const original = {};     // name → text as loaded (kept when the editor changed nothing)
const baseline = {};     // name → the editor's own serialisation right after import
let current = null;      // the file on screen
let bpmn = null;
let dmn = null;

function say(kind, lines) {
  const box = $('modeler-messages');
  box.className = 'modeler-messages ' + kind;
  box.replaceChildren();
  for (const line of [].concat(lines)) {
    const p = document.createElement('p');
    p.textContent = line;
    box.appendChild(p);
  }
}

async function post(url, body) {
  const response = await fetch(url, {
    method: 'POST', credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', 'X-CSRFToken': urls.csrf, 'Accept': 'application/json' },
    body: JSON.stringify(body)
  });
  let data = {};
  try { data = await response.json(); } catch (e) { data = { errors: [ t('serverError') + ' ' + response.status ] }; }
  data.status = response.status;
  return data;
}

const kindOf = name => name.endsWith('.bpmn') ? 'bpmn' : name.endsWith('.dmn') ? 'dmn'
  : name.endsWith('-uischema.json') ? 'ui' : 'form';

// --- BPMN ------------------------------------------------------------------------------------

function bpmnModeler() {
  if (!bpmn) {
    bpmn = new BpmnModeler({
      container: '#bpmn-canvas',
      propertiesPanel: { parent: '#bpmn-properties' },
      additionalModules: [ BpmnPropertiesPanelModule, BpmnPropertiesProviderModule, SpiffPropertiesModule,
        { translate: [ 'value', translateFor(document.documentElement.lang) ] } ],
      moddleExtensions: { spiffworkflow: spiffModdle }
    });
  }
  return bpmn;
}

function fillElementList() {
  const list = $('element-list');
  list.replaceChildren();
  bpmn.get('elementRegistry').getAll()
    .filter(e => e.businessObject && e.businessObject.id && e.type !== 'label' && !e.type.startsWith('bpmndi'))
    .forEach(e => {
      const o = document.createElement('option');
      o.value = e.id;
      o.label = e.businessObject.name ? `${e.businessObject.name}（${e.type.replace('bpmn:', '')}）` : e.type.replace('bpmn:', '');
      list.appendChild(o);
    });
}

function goToElement() {
  const wanted = $('element-search').value.trim();
  if (!bpmn || !wanted) return;
  const registry = bpmn.get('elementRegistry');
  const element = registry.get(wanted) ||
    registry.filter(e => e.businessObject && e.businessObject.name === wanted && e.type !== 'label')[0];
  if (!element) { say('error', t('notFound') + ' ' + wanted); return; }
  const canvas = bpmn.get('canvas');
  canvas.zoom(1);
  canvas.scrollToElement(element);
  bpmn.get('selection').select(element);
}

// --- DMN -------------------------------------------------------------------------------------

function dmnModeler() {
  if (!dmn) dmn = new DmnModeler({ container: '#dmn-container', common: { keyboard: { bindTo: document } } });
  return dmn;
}

// --- forms -----------------------------------------------------------------------------------

let previewTimer = null;
function uiNameFor(schemaName) { return schemaName.replace(/-schema\.json$/, '-uischema.json'); }

function schedulePreview() {
  clearTimeout(previewTimer);
  previewTimer = setTimeout(preview, 300);
}

async function preview() {
  if (!current || kindOf(current) !== 'form') return;
  files[current] = $('form-schema').value;
  const ui = uiNameFor(current);
  if (ui in files) files[ui] = $('form-uischema').value;
  const data = await post(urls.previewUrl, { schema: $('form-schema').value, uischema: $('form-uischema').value });
  const box = $('form-preview');
  if (data.html !== undefined) {
    box.innerHTML = data.html;   // rendered and escaped by the server's form template
    $('form-preview-error').textContent = '';
  } else {
    $('form-preview-error').textContent = (data.errors || []).join('；');
  }
}

// --- switching files -------------------------------------------------------------------------

async function flush() {
  if (!current) return;
  const kind = kindOf(current);
  if (kind === 'bpmn' && bpmn) {
    const { xml } = await bpmn.saveXML({ format: true });
    files[current] = xml === baseline[current] ? original[current] : xml;
  } else if (kind === 'dmn' && dmn) {
    const { xml } = await dmn.saveXML({ format: true });
    files[current] = xml === baseline[current] ? original[current] : xml;
  } else if (kind === 'form') {
    files[current] = $('form-schema').value;
    const ui = uiNameFor(current);
    if (ui in files) files[ui] = $('form-uischema').value;
  }
}

function show(pane) {
  for (const id of [ 'bpmn-pane', 'dmn-pane', 'form-pane' ]) $(id).hidden = id !== pane;
}

async function open(name) {
  await flush();
  current = name;
  const kind = kindOf(name);
  $('element-tools').hidden = kind !== 'bpmn';
  if (kind === 'bpmn') {
    show('bpmn-pane');
    const modeler = bpmnModeler();
    const result = await modeler.importXML(files[name]);
    if (!(name in baseline)) baseline[name] = (await modeler.saveXML({ format: true })).xml;
    modeler.get('canvas').zoom('fit-viewport');
    fillElementList();
    if (result.warnings && result.warnings.length) {
      say('warn', result.warnings.slice(0, 5).map(w => w.message.split('\n')[0]));
    }
  } else if (kind === 'dmn') {
    show('dmn-pane');
    const modeler = dmnModeler();
    await modeler.importXML(files[name]);
    if (!(name in baseline)) baseline[name] = (await modeler.saveXML({ format: true })).xml;
    const table = modeler.getViews().find(v => v.type === 'decisionTable');
    if (table) await modeler.open(table);
  } else {
    show('form-pane');
    $('form-schema').value = files[name];
    const ui = uiNameFor(name);
    $('form-uischema').value = ui in files ? files[ui] : '{}';
    $('form-uischema').disabled = !(ui in files);
    preview();
  }
}

async function collect() {
  await flush();
  return { ...files };
}

// --- actions ---------------------------------------------------------------------------------

async function validate() {
  say('busy', t('validating'));
  const data = await post(urls.validateUrl, { files: await collect() });
  if (data.ok) say('ok', t('valid'));
  else say('error', data.errors || [ t('serverError') ]);
  return data.ok;
}

async function saveDraft() {
  say('busy', t('saving'));
  const data = await post(urls.draftUrl, { files: await collect() });
  if (data.saved_at) say('ok', data.message || t('saved'));
  else say('error', data.errors || [ t('serverError') ]);
}

async function deploy() {
  say('busy', t('deploying'));
  const bind = [ ...document.querySelectorAll('input[name="bind"]:checked') ].map(b => parseInt(b.value, 10));
  const data = await post(urls.deployUrl, { files: await collect(), note: $('deploy-note').value, bind });
  if (data.ids) {
    say('ok', data.message);
    const link = document.createElement('a');
    link.href = urls.versionsUrl;
    link.id = 'deployed-link';
    link.textContent = t('toVersions');
    $('modeler-messages').appendChild(link);
  } else {
    say('error', data.errors || [ t('serverError') ]);
  }
}

async function start() {
  const response = await fetch(urls.filesUrl, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
  const data = await response.json();
  const names = Object.keys(data.files);
  setConfig({ ...data.config,
    schemas: names.filter(n => kindOf(n) === 'form').map(n => n.replace(/^forms\//, '')),
    uiSchemas: names.filter(n => kindOf(n) === 'ui').map(n => n.replace(/^forms\//, '')) });
  Object.assign(files, data.files);
  Object.assign(original, data.files);
  const select = $('modeler-file');
  for (const name of names.filter(n => kindOf(n) !== 'ui')) {
    const o = document.createElement('option');
    o.value = name;
    o.textContent = name;
    select.appendChild(o);
  }
  select.addEventListener('change', () => open(select.value).catch(e => say('error', String(e))));
  $('element-go').addEventListener('click', goToElement);
  $('element-search').addEventListener('keydown', e => { if (e.key === 'Enter') { e.preventDefault(); goToElement(); } });
  $('form-schema').addEventListener('input', schedulePreview);
  $('form-uischema').addEventListener('input', schedulePreview);
  $('validate').addEventListener('click', () => validate().catch(e => say('error', String(e))));
  $('save-draft').addEventListener('click', () => saveDraft().catch(e => say('error', String(e))));
  $('deploy').addEventListener('click', () => deploy().catch(e => say('error', String(e))));
  if (data.draft) say('ok', data.draft);
  await open(data.main || names[0]);
  select.value = current;
  root.dataset.ready = '1';
}

start().catch(e => say('error', String(e)));
