// Chinese for the editor's most visible bpmn-js and properties-panel texts (the page's language
// decides; other texts stay in English). Placeholders such as {element} are filled as bpmn-js does.
const ZH = {
  'General': '常规', 'Name': '名称', 'ID': 'ID', 'Documentation': '说明文档',
  'Element documentation': '元素说明', 'Process documentation': '流程说明',
  'Multi-instance': '多实例', 'Loop cardinality': '实例数', 'Completion condition': '完成条件',
  'Timer': '定时器', 'Type': '类型', 'Value': '值', 'Executable': '可执行', 'Version tag': '版本标签',
  'Activate hand tool': '抓手工具', 'Activate lasso tool': '套索选择', 'Activate create/remove space tool': '插入/删除空间',
  'Activate global connect tool': '连线工具', 'Create start event': '开始事件',
  'Create intermediate/boundary event': '中间/边界事件', 'Create end event': '结束事件', 'Create gateway': '网关',
  'Create task': '任务', 'Create data object reference': '数据对象', 'Create data store reference': '数据存储',
  'Create expanded sub-process': '子流程', 'Create pool/participant': '池/参与者', 'Create group': '分组',
  'Append task': '追加任务', 'Append end event': '追加结束事件', 'Append gateway': '追加网关',
  'Append intermediate/boundary event': '追加中间事件', 'Delete': '删除', 'Change element': '更改类型',
  'Connect using sequence/message flow or association': '连线', 'Add text annotation': '添加注释',
  'Add lane above': '在上方添加泳道', 'Add lane below': '在下方添加泳道', 'Divide into two lanes': '分为两条泳道',
  'Divide into three lanes': '分为三条泳道', 'Message': '消息', 'Signal': '信号', 'Error': '错误',
  'Escalation': '升级', 'Condition': '条件', 'Link': '链接', 'Inputs': '输入', 'Outputs': '输出'
};

export default function translateFor(lang) {
  const table = (lang || '').toLowerCase().startsWith('zh') ? ZH : {};
  return function translate(template, replacements) {
    replacements = replacements || {};
    return (table[template] || template).replace(/{([^}]+)}/g, (_, key) => replacements[key] || `{${key}}`);
  };
}
