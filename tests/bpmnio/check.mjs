#!/usr/bin/env node
// Parse BPMN / DMN files with bpmn.io's own parsers (bpmn-moddle, dmn-moddle)
// and check that bpmn.io would open them cleanly.
//
//   node tests/bpmnio/check.mjs bpmn/*.bpmn bpmn/*.dmn
//
// Prints one JSON object per file (one per line):
//   {file, kind, errors, warnings, acceptedWarnings, elements, shapes, edges, ...}
// and exits 1 if any file has errors, unaccepted warnings or missing DI.
//
// Warnings are accepted (listed under acceptedWarnings, not fatal) only when they are:
//   * "spiffworkflow-namespace": an unknown-element warning for an element of the
//     spiffworkflow: namespace (bpmn-moddle has no descriptor for it). In practice
//     bpmn-moddle keeps unknown-namespace extension elements as generic elements
//     and does not warn about them at all.
//   * "spiffworkflow-loop-ref": "unresolved reference <name>" on a
//     multiInstanceLoopCharacteristics loopDataInputRef / loopDataOutputRef whose
//     text is a plain variable name. That is how SpiffWorkflow (and its
//     bpmn-js-spiffworkflow modeler) writes the input/output collection of a
//     multi-instance task; BPMN itself expects the id of an ItemAwareElement.
//     Plain bpmn.io still opens the diagram, but it drops the reference when the
//     diagram is saved again (see "lostOnSave").
// Everything else is fatal.

import { readFile } from 'node:fs/promises';
import path from 'node:path';

import { BpmnModdle } from 'bpmn-moddle';
import { DmnModdle } from 'dmn-moddle';

const SPIFF_PREFIX = 'spiffworkflow:';
const LOOP_REF_PROPERTIES = new Set([ 'bpmn:loopDataInputRef', 'bpmn:loopDataOutputRef' ]);
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

function describeWarning(w) {
  const out = { message: w.message.split('\n')[0] };
  if (w.element && w.element.$type) out.elementType = w.element.$type;
  if (w.element && w.element.id) out.elementId = w.element.id;
  if (w.element && w.element.$parent && w.element.$parent.id) out.parentId = w.element.$parent.id;
  if (w.property) out.property = w.property;
  if (w.value !== undefined) out.value = w.value;
  return out;
}

function classifyWarning(w) {
  const message = w.message || '';

  // moddle-xml reports elements it cannot place as
  // "unparsable content <prefix:name> detected ... unrecognized element <prefix:name>"
  if (/^unparsable content <spiffworkflow:[^>]*> detected/.test(message) &&
      /unrecognized element <spiffworkflow:/.test(message)) {
    return 'spiffworkflow-namespace';
  }

  if (/^unresolved reference <[^>]*>$/.test(message) &&
      w.element && w.element.$type === 'bpmn:MultiInstanceLoopCharacteristics' &&
      LOOP_REF_PROPERTIES.has(w.property) &&
      typeof w.value === 'string' && IDENTIFIER.test(w.value)) {
    return 'spiffworkflow-loop-ref';
  }

  return null;
}

function splitWarnings(warnings, result) {
  for (const w of warnings) {
    const kind = classifyWarning(w);
    const described = describeWarning(w);
    if (kind) {
      described.kind = kind;
      if (kind === 'spiffworkflow-loop-ref') described.lostOnSave = true;
      result.acceptedWarnings.push(described);
    } else {
      result.warnings.push(described);
    }
  }
}

// ---------------------------------------------------------------- BPMN

function collectProcessContent(container, acc) {
  for (const el of container.flowElements || []) {
    if (el.$instanceOf('bpmn:SequenceFlow')) {
      acc.sequenceFlows.push(el);
    } else if (el.$instanceOf('bpmn:FlowNode')) {
      acc.flowNodes.push(el);
      if (el.$instanceOf('bpmn:SubProcess')) collectProcessContent(el, acc);
    }
  }
  const laneSets = [ ...(container.laneSets || []) ];
  while (laneSets.length) {
    const laneSet = laneSets.shift();
    for (const lane of laneSet.lanes || []) {
      acc.lanes.push(lane);
      if (lane.childLaneSet) laneSets.push(lane.childLaneSet);
    }
  }
}

function checkBpmn(definitions, result) {
  const roots = definitions.rootElements || [];
  const processes = roots.filter(e => e.$type === 'bpmn:Process');
  const collaborations = roots.filter(e => e.$type === 'bpmn:Collaboration');

  const acc = { flowNodes: [], sequenceFlows: [], lanes: [] };
  processes.forEach(p => collectProcessContent(p, acc));
  const participants = collaborations.flatMap(c => c.participants || []);

  result.processes = processes.map(p => p.id);
  result.flowNodes = acc.flowNodes.length;
  result.sequenceFlows = acc.sequenceFlows.length;
  result.lanes = acc.lanes.length;
  result.participants = participants.length;

  const diagrams = definitions.diagrams || [];
  if (!diagrams.length || !diagrams[0].plane) {
    result.errors.push('no bpmndi:BPMNDiagram / BPMNPlane: bpmn.io would show an empty canvas');
    result.shapes = 0;
    result.edges = 0;
    return;
  }
  if (diagrams.length > 1) {
    result.diagrams = diagrams.length;
  }

  const plane = diagrams[0].plane;
  const expectedPlaneElement = collaborations[0] || processes[0];
  if (!plane.bpmnElement) {
    result.errors.push('BPMNPlane has no (resolvable) bpmnElement');
  } else if (expectedPlaneElement && plane.bpmnElement !== expectedPlaneElement) {
    result.errors.push(
      `BPMNPlane references <${plane.bpmnElement.id}>, expected <${expectedPlaneElement.id}> ` +
      '(bpmn.io would not render the pool)');
  }

  const shapeFor = new Map();
  const edgeFor = new Map();
  let shapes = 0;
  let edges = 0;
  for (const di of plane.planeElement || []) {
    const target = di.bpmnElement;
    const label = `${di.$type} <${di.id || '?'}>`;
    if (!target) {
      result.errors.push(`${label} has no (resolvable) bpmnElement`);
      continue;
    }
    if (di.$type === 'bpmndi:BPMNShape') {
      shapes++;
      if (shapeFor.has(target)) result.errors.push(`multiple BPMNShapes for <${target.id}>`);
      shapeFor.set(target, di);
      const b = di.bounds;
      if (!b || ![ b.x, b.y, b.width, b.height ].every(Number.isFinite)) {
        result.errors.push(`${label} has no complete dc:Bounds`);
      } else if (b.width <= 0 || b.height <= 0) {
        result.errors.push(`${label} has non-positive size`);
      }
    } else if (di.$type === 'bpmndi:BPMNEdge') {
      edges++;
      if (edgeFor.has(target)) result.errors.push(`multiple BPMNEdges for <${target.id}>`);
      edgeFor.set(target, di);
      const wps = di.waypoint || [];
      if (wps.length < 2) result.errors.push(`${label} has fewer than 2 waypoints`);
      if (!wps.every(p => Number.isFinite(p.x) && Number.isFinite(p.y))) {
        result.errors.push(`${label} has a waypoint without x/y`);
      }
    }
  }
  result.shapes = shapes;
  result.edges = edges;

  const missing = [];
  for (const node of acc.flowNodes) {
    if (!shapeFor.has(node)) missing.push(`BPMNShape for ${node.$type} <${node.id}>`);
  }
  for (const lane of acc.lanes) {
    if (!shapeFor.has(lane)) missing.push(`BPMNShape for bpmn:Lane <${lane.id}>`);
  }
  for (const participant of participants) {
    if (!shapeFor.has(participant)) missing.push(`BPMNShape for bpmn:Participant <${participant.id}>`);
  }
  for (const flow of acc.sequenceFlows) {
    if (!edgeFor.has(flow)) missing.push(`BPMNEdge for bpmn:SequenceFlow <${flow.id}>`);
    if (!flow.sourceRef || !flow.targetRef) {
      result.errors.push(`bpmn:SequenceFlow <${flow.id}> has an unresolved sourceRef/targetRef`);
    }
  }
  result.missingDi = missing;
}

// ---------------------------------------------------------------- DMN

function checkDmn(definitions, result) {
  const drgElements = definitions.drgElement || [];
  const decisions = drgElements.filter(e => e.$type === 'dmn:Decision');
  result.decisions = decisions.map(d => ({
    id: d.id,
    hitPolicy: d.decisionLogic && d.decisionLogic.hitPolicy,
    inputs: d.decisionLogic && (d.decisionLogic.input || []).length,
    outputs: d.decisionLogic && (d.decisionLogic.output || []).length,
    rules: d.decisionLogic && (d.decisionLogic.rule || []).length
  }));

  let shapes = 0;
  let edges = 0;
  const withShape = new Set();
  const dmnDiagrams = (definitions.dmnDI && definitions.dmnDI.diagrams) || [];
  for (const diagram of dmnDiagrams) {
    for (const di of diagram.diagramElements || []) {
      if (di.$type === 'dmndi:DMNShape') {
        shapes++;
        if (!di.dmnElementRef) {
          result.errors.push(`DMNShape <${di.id || '?'}> has no (resolvable) dmnElementRef`);
        } else {
          withShape.add(di.dmnElementRef);
        }
      } else if (di.$type === 'dmndi:DMNEdge') {
        edges++;
      }
    }
  }
  result.shapes = shapes;
  result.edges = edges;
  // dmn-js only draws DRG elements that have a DMNShape in the DRD view.
  result.missingDi = drgElements
    .filter(e => !withShape.has(e))
    .map(e => `DMNShape for ${e.$type} <${e.id}>`);

  for (const d of decisions) {
    const table = d.decisionLogic;
    if (!table || table.$type !== 'dmn:DecisionTable') continue;
    const nInputs = (table.input || []).length;
    const nOutputs = (table.output || []).length;
    for (const rule of table.rule || []) {
      if ((rule.inputEntry || []).length !== nInputs || (rule.outputEntry || []).length !== nOutputs) {
        result.errors.push(
          `rule <${rule.id}> of <${d.id}> has ${(rule.inputEntry || []).length}/${(rule.outputEntry || []).length} ` +
          `entries for ${nInputs} inputs/${nOutputs} outputs`);
      }
    }
  }
}

// ---------------------------------------------------------------- main

async function checkFile(file) {
  const ext = path.extname(file).toLowerCase();
  const kind = ext === '.bpmn' ? 'bpmn' : ext === '.dmn' ? 'dmn' : null;
  const result = {
    file,
    kind,
    errors: [],
    warnings: [],
    acceptedWarnings: [],
    elements: 0,
    shapes: 0,
    edges: 0,
    missingDi: []
  };

  if (!kind) {
    result.errors.push(`unsupported file extension <${ext}> (expected .bpmn or .dmn)`);
    return result;
  }

  let xml;
  try {
    xml = await readFile(file, 'utf8');
  } catch (err) {
    result.errors.push(`cannot read file: ${err.message}`);
    return result;
  }

  const moddle = kind === 'bpmn' ? new BpmnModdle() : new DmnModdle();
  let parsed;
  try {
    parsed = await moddle.fromXML(xml);
  } catch (err) {
    result.errors.push(`parse error: ${err.message}`);
    splitWarnings(err.warnings || [], result);
    return result;
  }

  splitWarnings(parsed.warnings || [], result);
  result.elements = Object.keys(parsed.elementsById || {}).length;

  const root = parsed.rootElement;
  const expectedRoot = kind === 'bpmn' ? 'bpmn:Definitions' : 'dmn:Definitions';
  if (!root || root.$type !== expectedRoot) {
    result.errors.push(`root element is ${root && root.$type}, expected ${expectedRoot}`);
    return result;
  }

  if (kind === 'bpmn') checkBpmn(root, result);
  else checkDmn(root, result);

  return result;
}

const files = process.argv.slice(2);
if (!files.length) {
  console.error('usage: node check.mjs FILE.bpmn|FILE.dmn ...');
  process.exit(2);
}

let failed = false;
for (const file of files) {
  const result = await checkFile(file);
  if (result.errors.length || result.warnings.length || result.missingDi.length) failed = true;
  console.log(JSON.stringify(result));
}
process.exit(failed ? 1 : 0);
