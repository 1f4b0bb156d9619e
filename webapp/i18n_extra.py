"""The application's own strings that reach the templates only as data and are translated there with
`_(value)`.

Babel cannot see them in a `_()` call, so they are listed here with `N_` for `pybabel extract`
(see babel.cfg and the Makefile's `translations` target). Keep this list in step with its sources:
role names (workflows/roles.py), filing states (workflows/services/filing_operations.py), the dashboard's funnel stages (workflows/metrics.py) and the error messages of the service.

A model's own texts (task, stage and end-event names, form texts, DMN outputs) are not listed here:
they come with the model, in its translation files (bpmn/<process>.<lang>.json, see
workflows/engine/vocabulary.py).
"""
from __future__ import annotations

from webapp.i18n import N_

# Audit actions are named once, for pages and paper alike (workflows/action_names.py).
from workflows.action_names import ACTION_NAMES, action_name  # noqa: F401

DYNAMIC_STRINGS = [
    # Role names (workflows/roles.py).
    N_("招商专员"), N_("研判专班"), N_("县商务局"), N_("投资办主任"), N_("部门会审人"),
    N_("项目落户地"), N_("领导小组办公室"), N_("分管副县长"), N_("县长办公会秘书"),
    N_("司法局合同审查"), N_("市/州商务局"), N_("审计"), N_("管理员"),
    # Default list column labels of a model that names none (workflows/engine/list_spec.py).
    N_("名称"), N_("相关方"), N_("金额"), N_("类别"),
    # Filing states.
    N_("待受理"), N_("已退回"), N_("已受理"), N_("已签约"),
    # The dashboard's funnel stages (workflows/metrics.py).
    N_("线索登记"), N_("已开工"), N_("已投产"),
    N_("该任务已由 %(name)s 认领。"), N_("该任务已由 %(name)s 处理完毕。"), N_("是"), N_("否"),
    N_("只有办理人或受委派人可以暂存。"), N_("只有任务的当前办理人可以委派。"), N_("只能委派给本单位的其他在岗用户"),
    N_("签名图片无效或过大，请重新签名"), N_("签名不存在。"),
    N_("结束日期不能早于开始日期"), N_("请填写有效日期"), N_("代理人须为本级组织的其他在岗用户"), N_("代理设置不存在"),
    N_("只能取消自己的代理设置。"), N_("请选择另一位在岗用户"),
    N_("邮箱格式不正确"), N_("当前没有进行中的联合会审。"), N_("只有县商务局可以加签或减签。"),
    N_("该部门已在会审中或不是可选的会审部门"), N_("只能减签尚未开始会审的加签部门。"),
    N_("开启加签会审"), N_("并入加签意见"),
    N_("请填写理由"), N_("只有任务的当前办理人可以转办。"), N_("只能转办给同一角色（及同一部门）的其他在岗用户"),
    N_("请先认领该任务再退回。"), N_("流程模型不允许从此环节退回到所选环节"), N_("只能撤回自己办理的环节。"),
    N_("项目已办结，不能撤回。"), N_("会签意见已汇入联合会审，不能撤回；如需修改请由县商务局退回。"),
    N_("下一环节已开始办理，不能撤回。"), N_("只有项目发起人可以撤销。"), N_("项目已办结，不能撤销。"),
    N_("只有项目发起人、县商务局或投资办主任可以催办。"), N_("该任务当前没有可催办的办理人。"),
    N_("只有项目发起人可以复制重新登记。"),
    N_("只有系统管理员可以维护工作日历。"), N_("请填写日期，格式为 YYYY-MM-DD（如 2027-02-06）"), N_("请选择放假或调休上班"),
    N_("请填写节日名称（如 春节，不超过 60 字）"), N_("该日期已有登记，请先删除原登记"), N_("没有这条工作日历登记。"),
    N_("不能取消自己的管理员角色"), N_("单位不存在"), N_("不能停用自己所在的单位"), N_("请选择抄送对象"), N_("抄送对象须为本县在岗用户"), N_("您无权抄送该项目。"),
    # Stages the engine gives an instance it ended without a named end event (workflows/engine/runtime.py).
    N_("已结束"), N_("已撤销"),
    # The project page's tracking section after signing (履约跟踪).
    N_("履约跟踪"), N_("系统"),
    N_("重大项目“五个一”"), N_("牵头县级领导"), N_("主体责任部门"), N_("工作专班"), N_("落地推进方案"),
    N_("开工期限"), N_("跟踪填报"), N_("最近"), N_("累计到位资金"), N_("万元"), N_("就业"),
    N_("税收"), N_("项目推进提醒函"), N_("招商奖励"), N_("万美元"), N_("已达年度上限"),
    N_("只有县商务局可以登记投资者投诉。"),
    # Form validation messages (workflows/forms.py; translated, then `%(v)s` is filled in).
    N_("此项必填"), N_("不能小于 %(v)s"), N_("必须大于 %(v)s"), N_("不能大于 %(v)s"), N_("不能超过 %(v)s 个字"),
    N_("至少填写 %(v)s 个字"), N_("格式不正确"), N_("请从选项中选择"), N_("所选项不符合要求"),
    N_("请输入数字"), N_("请输入整数"), N_("含有未定义的字段"), N_("填写有误"),
    # Service errors (workflows/errors.py, workflows/auth.py, workflows/services/*.py).
    N_("表单填写有误，请按提示修改。"), N_("您没有执行此操作的权限。"),
    N_("只有市/州商务局可以查看备案。"), N_("只有招商专员可以登记线索。"), N_("项目不存在。"),
    N_("您无权查看该项目。"), N_("只能释放自己认领的任务。"), N_("该项目正被他人同时处理，请刷新后重试。"),
    N_("请先认领该任务再提交。"), N_("该任务已被处理，请刷新。"), N_("任务不存在。"),
    N_("该任务已不在待办状态。"), N_("用户名或密码错误；连续输错 5 次，账号将锁定 15 分钟。"),
    N_("密码须包含大写字母、小写字母、数字、符号中的至少三类"), N_("密码不得包含用户名"), N_("密码过于常见，请另设一个"), N_("用户名须为 1–60 个英文字母、数字或符号"),
    N_("密码至少 8 位"), N_("请至少选择一个有效角色"), N_("请选择单位"), N_("该用户名已存在"),
    N_("用户不存在"), N_("不能停用自己的账号"), N_("代码须为英文字母或数字"), N_("请选择单位类型"),
    N_("请选择所属组织"), N_("该代码已存在"),
    # Messages of the webapp shown through `_(message)` (webapp/extensions.py, webapp/error_pages.py, webapp/projects.py).
    N_("请先登录。"), N_("页面已过期或请求无效（CSRF 校验失败），请刷新后重试。"), N_("页面不存在。"),
    N_("您没有访问此页面的权限。"), N_("其他单位已登记该投资方的线索（抢商争商），请核实后勾选确认再提交。"),
    # Labels the admin page passes through `_(label)` (webapp/templates/admin/users.html).
    N_("初始密码"), N_("部门"), N_("局"), N_("办公室"),
    # Attachments: kinds, refusals and errors (workflows/services/attachment_service.py, webapp/error_pages.py).
    N_("投资计划书"), N_("洽谈纪要"), N_("合同草案"), N_("评审材料"), N_("会议纪要"), N_("其他材料"),
    N_("请选择要上传的文件。"), N_("文件内容为空，请重新选择。"), N_("文件过大：附件不能超过 %(limit)s。"),
    N_("文件名无效，请重命名后再上传。"),
    N_("不支持该文件类型：只接受 PDF、Word（doc/docx）、Excel（xls/xlsx）、PNG/JPEG 图片和 UTF-8 文本（txt）。"),
    N_("文件内容与扩展名不符（例如改了扩展名的其他文件），已拒绝上传。"), N_("请选择附件类型。"),
    N_("只有参与办理该项目的人员可以在项目办理期间上传附件。"), N_("您无权查看该项目的附件。"), N_("附件不存在。"),
    N_("附件内容校验失败（SHA-256 不符），请联系管理员。"), N_("附件文件不在文件存储中，请联系管理员。"), N_("上传的文件过大：附件不能超过 %(mb)s MB。"),
    # Documents (workflows/capabilities/document_service.py, workflows/rendering/documents/__init__.py); a generation's
    # outcome in the history is the document's title, translated in projects/detail.html.
    N_("没有这种文书。"), N_("只有本县县商务局可以出具项目推进提醒函。"), N_("该项目的流程没有这种文书。"),
    N_("该项目尚无部门会审意见，暂不能生成联合会审意见汇总表。"), N_("该项目尚未完成合同审查，暂不能生成合同审签单。"),
    N_("该项目尚未报市/州商务局备案，暂不能生成备案表。"), N_("项目推进提醒函只适用于已签约的项目。"),
    N_("没有这个责任单位。"),
    N_("服务器未安装中文字体 Noto Serif CJK SC，无法生成 PDF 文书，请管理员安装 fonts-noto-cjk 后重试。"),
    # Bad input refused at the door (webapp/inputs.py, webapp/request_guards.py).
    N_("请求中含有不允许的空字符（NUL），请检查输入后重试。"), N_("日期须写成 YYYY-MM-DD，且在 2000 年至 2099 年之间。"),
    # Names of what events record, on the audit replay page (workflows/services/audit_service.py EVENT_LABELS).
    N_("流程版本"), N_("流程"), N_("备案记录编号"), N_("报送时审计链头哈希"), N_("办理岗位"), N_("办理部门"),
    N_("办理时限（工作日）"), N_("办理期限"), N_("办理人"), N_("理由"), N_("附言"), N_("对象"), N_("文件名"),
    N_("类型"), N_("大小（字节）"), N_("版本"), N_("备案号"), N_("报送轮次"), N_("状态"), N_("文号"), N_("退回至"),
    N_("主送"), N_("步骤"), N_("代为办理"), N_("决定人"), N_("途径"), N_("原办理人"),
]
