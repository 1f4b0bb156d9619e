// The page's settings (data-* attributes of #modeler and the JSON the server sends) and the labels.
let current = { operators: [], roles: [], schemas: [], uiSchemas: [], labels: {} };

export function setConfig(value) { current = { ...current, ...value }; }
export function config() { return current; }

// Labels come from the server (Chinese, or English when the user chose it); the key is the fallback.
export function t(key) { return (current.labels && current.labels[key]) || key; }
