// Our own properties-panel provider for the spiffworkflow: extensions the county models use
// (forms, pre/post scripts, task properties, instructions, service operators, decisions),
// lanes as business roles, gateway conditions and script bodies. Written for this project.
import { h } from '@bpmn-io/properties-panel/preact';
import {
  TextFieldEntry, TextAreaEntry, SelectEntry,
  isTextFieldEntryEdited, isTextAreaEntryEdited, isSelectEntryEdited
} from '@bpmn-io/properties-panel';
import { useService } from 'bpmn-js-properties-panel';
import { getBusinessObject, is, isAny } from 'bpmn-js/lib/util/ModelUtil';

import { t, config } from './config.js';

// --- reading and writing extension elements (through the command stack: undo works) ----------

function extensionOf(bo, type) {
  const ext = bo.get('extensionElements');
  return ext ? (ext.get('values') || []).find(v => is(v, type)) : undefined;
}

function ensureExtensions(element, bo, services) {
  const { bpmnFactory, modeling } = services;
  let ext = bo.get('extensionElements');
  if (!ext) {
    ext = bpmnFactory.create('bpmn:ExtensionElements', { values: [] });
    ext.$parent = bo;
    modeling.updateModdleProperties(element, bo, { extensionElements: ext });
  }
  return ext;
}

function ensureExtension(element, bo, type, attrs, services) {
  const found = extensionOf(bo, type);
  if (found) return found;
  const ext = ensureExtensions(element, bo, services);
  const created = services.bpmnFactory.create(type, attrs || {});
  created.$parent = ext;
  services.modeling.updateModdleProperties(element, ext, { values: [ ...(ext.get('values') || []), created ] });
  return created;
}

function removeExtension(element, bo, item, services) {
  const ext = bo.get('extensionElements');
  if (!ext) return;
  services.modeling.updateModdleProperties(element, ext, { values: (ext.get('values') || []).filter(v => v !== item) });
}

export function getProperty(bo, name) {
  const props = extensionOf(bo, 'spiffworkflow:Properties');
  const prop = props && (props.get('properties') || []).find(p => p.name === name);
  return prop ? prop.value : '';
}

function setProperty(element, bo, name, value, services) {
  value = (value || '').trim();
  const existing = extensionOf(bo, 'spiffworkflow:Properties');
  if (!value && !existing) return;
  const props = existing || ensureExtension(element, bo, 'spiffworkflow:Properties', { properties: [] }, services);
  const list = props.get('properties') || [];
  const prop = list.find(p => p.name === name);
  if (!value) {
    if (prop) services.modeling.updateModdleProperties(element, props, { properties: list.filter(p => p !== prop) });
  } else if (prop) {
    services.modeling.updateModdleProperties(element, prop, { value });
  } else {
    const created = services.bpmnFactory.create('spiffworkflow:Property', { name, value });
    created.$parent = props;
    services.modeling.updateModdleProperties(element, props, { properties: [ ...list, created ] });
  }
}

function getBody(bo, type) {
  const found = extensionOf(bo, type);
  return found ? (found.get('value') || '') : '';
}

function setBody(element, bo, type, value, services) {
  const found = extensionOf(bo, type);
  if (!value || !value.trim()) {
    if (found) removeExtension(element, bo, found, services);
    return;
  }
  if (found) services.modeling.updateModdleProperties(element, found, { value });
  else ensureExtension(element, bo, type, { value }, services);
}

function useServices() {
  return {
    bpmnFactory: useService('bpmnFactory'),
    modeling: useService('modeling'),
    debounce: useService('debounceInput')
  };
}

// --- entry components ------------------------------------------------------------------------

function PropertyEntry(props) {
  const { element, id, name, label, description, options } = props;
  const services = useServices();
  const bo = getBusinessObject(element);
  const getValue = () => getProperty(bo, name);
  const setValue = value => setProperty(element, bo, name, value, services);
  if (options) {
    return h(SelectEntry, { element, id, label, description, getValue, setValue,
      getOptions: () => [ { value: '', label: '—' }, ...options().map(o => ({ value: o, label: o })) ] });
  }
  return h(TextFieldEntry, { element, id, label, description, getValue, setValue, debounce: services.debounce });
}

function BodyEntry(props) {
  const { element, id, type, label, description, rows } = props;
  const services = useServices();
  const bo = getBusinessObject(element);
  return h(TextAreaEntry, { element, id, label, description, rows: rows || 4, monospace: true,
    getValue: () => getBody(bo, type), setValue: value => setBody(element, bo, type, value, services),
    debounce: services.debounce });
}

function OperatorEntry(props) {
  const { element, id, field } = props;
  const services = useServices();
  const bo = getBusinessObject(element);
  const getValue = () => {
    const op = extensionOf(bo, 'spiffworkflow:ServiceTaskOperator');
    return op ? (op.get(field) || '') : '';
  };
  const setValue = value => {
    const op = ensureExtension(element, bo, 'spiffworkflow:ServiceTaskOperator', {}, services);
    services.modeling.updateModdleProperties(element, op, { [field]: value || undefined });
  };
  if (field === 'id') {
    return h(SelectEntry, { element, id, label: t('operator'), getValue, setValue,
      getOptions: () => [ { value: '', label: '—' }, ...config().operators.map(o => ({ value: o, label: o })) ] });
  }
  return h(TextFieldEntry, { element, id, label: t('resultVariable'), getValue, setValue, debounce: services.debounce });
}

function ParameterEntry(props) {
  const { element, id, parameter } = props;
  const services = useServices();
  return h(TextFieldEntry, { element, id, label: `${t('parameter')} ${parameter.id}（${parameter.type || 'str'}）`,
    getValue: () => parameter.value || '',
    setValue: value => services.modeling.updateModdleProperties(element, parameter, { value }),
    debounce: services.debounce });
}

function ConditionEntry(props) {
  const { element, id } = props;
  const services = useServices();
  const bo = getBusinessObject(element);
  const getValue = () => (bo.conditionExpression && bo.conditionExpression.body) || '';
  const setValue = value => {
    const expression = value && value.trim()
      ? services.bpmnFactory.create('bpmn:FormalExpression', { body: value.trim() }) : undefined;
    services.modeling.updateProperties(element, { conditionExpression: expression });
  };
  return h(TextAreaEntry, { element, id, label: t('condition'), description: t('conditionHelp'), rows: 2,
    monospace: true, getValue, setValue, debounce: services.debounce });
}

function ScriptEntry(props) {
  const { element, id } = props;
  const services = useServices();
  const bo = getBusinessObject(element);
  return h(TextAreaEntry, { element, id, label: t('script'), rows: 8, monospace: true,
    getValue: () => bo.script || '',
    setValue: value => services.modeling.updateProperties(element, { scriptFormat: 'python', script: value }),
    debounce: services.debounce });
}

function LaneRoleEntry(props) {
  const { element, id } = props;
  const services = useServices();
  const bo = getBusinessObject(element);
  return h(SelectEntry, { element, id, label: t('laneRole'), description: t('laneRoleHelp'),
    getValue: () => bo.name || '',
    setValue: value => services.modeling.updateProperties(element, { name: value }),
    getOptions: () => {
      const roles = config().roles.map(r => ({ value: r.code, label: `${r.label}（${r.code}）` }));
      if (bo.name && !roles.some(r => r.value === bo.name)) roles.unshift({ value: bo.name, label: `${bo.name} ⚠` });
      return roles;
    } });
}

// --- the provider ---------------------------------------------------------------------------

const entry = (element, id, component, extra, isEdited) => ({ ...extra, id, element, component, isEdited });

function groupsFor(element) {
  const bo = getBusinessObject(element);
  const groups = [];
  if (is(element, 'bpmn:UserTask') || is(element, 'bpmn:ManualTask')) {
    groups.push({ id: 'spiff-form', label: t('groupForm'), entries: [
      entry(element, 'spiff-form-schema', PropertyEntry, { name: 'formJsonSchemaFilename', label: t('formSchema'),
        options: () => config().schemas }, isSelectEntryEdited),
      entry(element, 'spiff-form-ui', PropertyEntry, { name: 'formUiSchemaFilename', label: t('formUi'),
        options: () => config().uiSchemas }, isSelectEntryEdited),
      entry(element, 'spiff-instructions', BodyEntry, { type: 'spiffworkflow:InstructionsForEndUser',
        label: t('instructions'), description: t('instructionsHelp') }, isTextAreaEntryEdited)
    ] });
  }
  if (isAny(element, [ 'bpmn:Task', 'bpmn:SubProcess', 'bpmn:CallActivity' ])) {
    groups.push({ id: 'spiff-scripts', label: t('groupScripts'), entries: [
      entry(element, 'spiff-prescript', BodyEntry, { type: 'spiffworkflow:PreScript', label: t('preScript') },
        isTextAreaEntryEdited),
      entry(element, 'spiff-postscript', BodyEntry, { type: 'spiffworkflow:PostScript', label: t('postScript') },
        isTextAreaEntryEdited)
    ] });
  }
  if (is(element, 'bpmn:ScriptTask')) {
    groups.push({ id: 'spiff-script', label: t('script'), entries: [
      entry(element, 'spiff-script-body', ScriptEntry, {}, isTextAreaEntryEdited) ] });
  }
  if (is(element, 'bpmn:BusinessRuleTask')) {
    groups.push({ id: 'spiff-decision', label: t('groupDecision'), entries: [
      entry(element, 'spiff-decision-id', BodyEntry, { type: 'spiffworkflow:CalledDecisionId',
        label: t('decision'), rows: 1 }, isTextAreaEntryEdited) ] });
  }
  if (is(element, 'bpmn:ServiceTask')) {
    const op = extensionOf(bo, 'spiffworkflow:ServiceTaskOperator');
    const params = (op && op.get('parameterList') && op.get('parameterList').get('parameters')) || [];
    groups.push({ id: 'spiff-operator', label: t('groupOperator'), entries: [
      entry(element, 'spiff-operator-id', OperatorEntry, { field: 'id' }, isSelectEntryEdited),
      entry(element, 'spiff-operator-result', OperatorEntry, { field: 'resultVariable' }, isTextFieldEntryEdited),
      ...params.map((p, i) => entry(element, `spiff-operator-param-${i}`, ParameterEntry, { parameter: p },
        isTextFieldEntryEdited))
    ] });
  }
  if (is(element, 'bpmn:SequenceFlow') && bo.sourceRef &&
      isAny(bo.sourceRef, [ 'bpmn:ExclusiveGateway', 'bpmn:InclusiveGateway', 'bpmn:Activity' ])) {
    groups.push({ id: 'spiff-condition', label: t('condition'), entries: [
      entry(element, 'spiff-condition-expression', ConditionEntry, {}, isTextAreaEntryEdited) ] });
  }
  if (is(element, 'bpmn:Lane')) {
    groups.push({ id: 'spiff-lane', label: t('groupLane'), entries: [
      entry(element, 'spiff-lane-role', LaneRoleEntry, {}, isSelectEntryEdited) ] });
  }
  if (isAny(element, [ 'bpmn:Task', 'bpmn:Process', 'bpmn:Participant', 'bpmn:SubProcess', 'bpmn:CallActivity' ])) {
    const target = is(element, 'bpmn:Participant') ? bo.processRef : bo;
    if (target) {
      const props = extensionOf(target, 'spiffworkflow:Properties');
      const names = ((props && props.get('properties')) || []).map(p => p.name)
        .filter(n => n !== 'formJsonSchemaFilename' && n !== 'formUiSchemaFilename');
      const known = is(element, 'bpmn:UserTask') ? [ 'stage', 'dueWorkingDays', 'returnTargets' ] : [];
      const all = [ ...new Set([ ...names, ...known ]) ];
      if (all.length && !is(element, 'bpmn:Participant')) {
        groups.push({ id: 'spiff-properties', label: t('groupProperties'), entries: all.map(name =>
          entry(element, `spiff-property-${name}`, PropertyEntry, { name, label: name }, isTextFieldEntryEdited)) });
      }
    }
  }
  return groups;
}

export default function SpiffPropertiesProvider(propertiesPanel) {
  propertiesPanel.registerProvider(400, this);
}

SpiffPropertiesProvider.prototype.getGroups = function(element) {
  return groups => {
    const added = groupsFor(element);
    // our groups after "General" (name, id), before the documentation and the rest
    const at = Math.min(1, groups.length);
    return [ ...groups.slice(0, at), ...added, ...groups.slice(at) ];
  };
};
SpiffPropertiesProvider.$inject = [ 'propertiesPanel' ];

export const SpiffPropertiesModule = {
  __init__: [ 'spiffPropertiesProvider' ],
  spiffPropertiesProvider: [ 'type', SpiffPropertiesProvider ]
};
