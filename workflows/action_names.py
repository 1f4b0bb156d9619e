"""The name of every audit action (the codes workflows/audit.py callers write), in Chinese: printed as they
are on paper (the 审批表's history), translated where a page shows them (`_(action_name(code))`; `N_` marks
them for `pybabel extract`)."""
from __future__ import annotations


def N_(text: str) -> str:
    return text


ACTION_NAMES = {
    "project_started": N_("登记线索，流程启动"), "project_imported": N_("从项目台账导入，流程启动"),
    "complaint_registered": N_("登记投诉并交办"),
    "task_offered": N_("任务到达"), "task_claimed": N_("认领"),
    "task_released": N_("释放"), "task_completed": N_("办理完成"), "task_cancelled": N_("任务撤销（流程改道）"),
    "loop_back": N_("退回至前序环节"), "project_ended": N_("流程结束"), "filing_submitted": N_("报送备案"),
    "filing_accepted": N_("备案受理"), "filing_returned": N_("备案退回"), "signing_reported": N_("签约结果报备"), "project_viewed": N_("查阅"),
    "project_copied": N_("抄送"), "roles_changed": N_("角色变更"), "business_role_created": N_("新建业务角色"), "calendar_day_added": N_("登记工作日历"), "calendar_day_removed": N_("删除工作日历登记"), "user_deactivated": N_("停用用户"),
    "unit_deactivated": N_("停用单位"), "task_returned": N_("退回办理"), "task_withdrawn": N_("撤回"),
    "task_transferred": N_("转办"), "task_urged": N_("催办"), "project_cancelled": N_("撤销项目"),
    "task_reopened": N_("重新办理"), "draft_saved": N_("暂存草稿"), "task_delegated": N_("委派"),
    "delegation_returned": N_("委派草稿交回"), "task_overdue_reminded": N_("到期提醒"),
    "task_overdue_escalated": N_("超期督办"), "department_added": N_("加签"), "department_removed": N_("减签"), "stand_in_set": N_("设置请假代理"),
    "stand_in_cancelled": N_("取消请假代理"), "tasks_reassigned": N_("移交待办"),
    "attachment_uploaded": N_("上传附件"), "attachment_downloaded": N_("下载附件"),
    "engine_step": N_("流程引擎步骤"), "replay_viewed": N_("审计回放查阅"), "replay_checked": N_("模型重放校验"),
    "audit_verified": N_("审计记录校验"), "history_exported": N_("导出办理记录"), "events_exported": N_("导出审计事件"),
    "model_deployed": N_("部署流程模型版本"), "process_bound": N_("绑定流程版本"),
    "document_generated": N_("生成文书"),
    "reminder_letter_sent": N_("发出项目推进提醒函"), "reminder_letter_skipped": N_("已开工，未发提醒函"),
    "reward_granted": N_("登记招商奖励"),
    "instance_migrated": N_("迁移到新版本"), "instance_task_skipped": N_("跳过环节"),
    "instance_data_corrected": N_("更正流程数据"), "instance_step_retried": N_("重试失败步骤"),
    "step_failed": N_("步骤执行出错"),
    # The security log (workflows/services/security_log.py).
    "signed_in": N_("登录"), "signed_out": N_("退出登录"), "sign_in_failed": N_("登录失败"),
    "sign_in_locked": N_("登录锁定"), "sign_in_lock_lifted": N_("解除登录锁定"), "password_changed": N_("修改密码"),
    "password_change_refused": N_("修改密码未成功"), "password_reset": N_("重置密码"), "access_denied": N_("拒绝访问"),
    "user_created": N_("新建用户"), "user_activated": N_("启用用户"), "unit_created": N_("新建单位"),
    "unit_activated": N_("启用单位"), "api_token_created": N_("新建接口令牌"), "api_token_revoked": N_("吊销接口令牌"),
    "system_initialised": N_("系统初始化"), "security_log_exported": N_("导出安全日志"),
    "totp_enrolled": N_("绑定动态口令"), "totp_reset": N_("重置动态口令"), "totp_policy_changed": N_("更改动态口令要求"),
    "pii_rekeyed": N_("轮换个人信息密钥"),
    "recovery_code_used": N_("使用恢复码登录"), "totp_passed": N_("动态口令通过"), "totp_failed": N_("动态口令错误"),
}


def action_name(code: str) -> str:
    return ACTION_NAMES.get(code, code)
