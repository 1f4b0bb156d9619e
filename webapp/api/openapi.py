"""The OpenAPI 3 description of /api/v1 (webapp/service_api.py), served at /api/v1/openapi.json."""
from __future__ import annotations

from copy import deepcopy


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str = "成功") -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERRORS = {
    "401": {"$ref": "#/components/responses/Unauthorized"},
    "403": {"$ref": "#/components/responses/Forbidden"},
}
NOT_FOUND = {"404": {"$ref": "#/components/responses/NotFound"}}
CONFLICT = {"409": {"$ref": "#/components/responses/Conflict"}}
INVALID = {"422": {"$ref": "#/components/responses/ValidationFailed"}}


def _id(name: str, description: str) -> dict:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": {"type": "integer", "minimum": 1, "maximum": 2147483647}}


PERIOD = {"name": "period", "in": "query", "required": False,
          "description": "统计期间：2026（年）、2026-Q2（季度）、2026-05（月）；缺省为本年",
          "schema": {"type": "string", "pattern": r"^\d{4}(-Q[1-4]|-\d{2})?$"}}
COUNTY = {"name": "county", "in": "query", "required": False,
          "description": "市/州商务局：只看某个县（市、区）的 organisation id",
          "schema": {"type": "integer", "minimum": 1, "maximum": 2147483647}}

_DOCUMENT = {
    "openapi": "3.0.3",
    "info": {
        "title": "招商引资项目评审与签约系统 API",
        "version": "1.0.0",
        "description": "面向其他系统（如省数智招商平台）的 JSON 接口。以接口令牌认证（Authorization: Bearer <令牌>），"
                       "令牌绑定一个用户，权限与该用户在浏览器中的权限相同。市/州与县之间的备案交换见 /api/v1/filings。",
    },
    "servers": [{"url": "/"}],
    "security": [{"bearerAuth": []}],
    "paths": {
        "/api/v1/me": {"get": {
            "summary": "令牌所代表的用户", "operationId": "me",
            "responses": {"200": _json(_ref("Me")), **ERRORS}}},
        "/api/v1/projects": {"get": {
            "summary": "本用户可见的项目", "operationId": "projectList",
            "responses": {"200": _json({"type": "object", "required": ["items"],
                                        "properties": {"items": {"type": "array", "items": _ref("ProjectSummary")}}}),
                          **ERRORS}}},
        "/api/v1/projects/{instance_id}": {"get": {
            "summary": "项目详情（数据、在办任务、备案）", "operationId": "projectDetail",
            "parameters": [_id("instance_id", "项目 id")],
            "responses": {"200": _json(_ref("ProjectDetail")), **ERRORS, **NOT_FOUND}}},
        "/api/v1/projects/{instance_id}/history": {"get": {
            "summary": "项目办理记录", "operationId": "projectHistory",
            "parameters": [_id("instance_id", "项目 id")],
            "responses": {"200": _json({"type": "object", "required": ["items"],
                                        "properties": {"items": {"type": "array", "items": _ref("HistoryEntry")}}}),
                          **ERRORS, **NOT_FOUND}}},
        "/api/v1/tasks": {"get": {
            "summary": "待办任务（与浏览器“待办”相同）", "operationId": "taskList",
            "parameters": [{"name": "page", "in": "query", "required": False,
                            "schema": {"type": "integer", "minimum": 1}}],
            "responses": {"200": _json({"type": "object", "required": ["items", "total", "page", "pages"],
                                        "properties": {"items": {"type": "array", "items": _ref("Task")},
                                                       "total": {"type": "integer"}, "page": {"type": "integer"},
                                                       "pages": {"type": "integer"}}}), **ERRORS}}},
        "/api/v1/tasks/{task_id}": {"get": {
            "summary": "任务及其表单（JSON Schema）", "operationId": "taskForm",
            "parameters": [_id("task_id", "任务 id")],
            "responses": {"200": _json({"type": "object", "required": ["task", "schema"],
                                        "properties": {"task": _ref("Task"), "schema": {"type": "object"},
                                                       "values": {"type": "object"}, "readonly": {"type": "object"},
                                                       "claimed_by_me": {"type": "boolean"}}}),
                          **ERRORS, **NOT_FOUND, **CONFLICT}}},
        "/api/v1/tasks/{task_id}/claim": {"post": {
            "summary": "认领任务", "operationId": "taskClaim",
            "parameters": [_id("task_id", "任务 id")],
            "responses": {"200": _json({"type": "object"}), **ERRORS, **NOT_FOUND, **CONFLICT}}},
        "/api/v1/tasks/{task_id}/complete": {"post": {
            "summary": "提交任务表单（无人认领时先为令牌用户认领）", "operationId": "taskComplete",
            "parameters": [_id("task_id", "任务 id")],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["data"],
                "properties": {"data": {"type": "object", "description": "表单字段 → 值（见任务的 schema）",
                                        "additionalProperties": {"nullable": True, "oneOf": [
                                            {"type": "string"}, {"type": "number"}, {"type": "boolean"}]}}}}}}},
            "responses": {"200": _json({"type": "object", "required": ["task_id", "instance_id", "completed"],
                                        "properties": {"task_id": {"type": "integer"},
                                                       "instance_id": {"type": "integer"},
                                                       "completed": {"type": "boolean"}}}),
                          **ERRORS, **NOT_FOUND, **CONFLICT, **INVALID}}},
        "/api/v1/processes": {"get": {
            "summary": "本用户在本县可以发起的流程（模型自身的名称与说明、第一个表单的 JSON Schema）",
            "operationId": "processList",
            "responses": {"200": _json({"type": "object", "required": ["items"],
                                        "properties": {"items": {"type": "array", "items": _ref("Process")}}}),
                          **ERRORS}}},
        "/api/v1/processes/{process_id}/instances": {"post": {
            "summary": "发起流程：以第一个任务的表单数据启动一个实例（按该表单校验，与浏览器相同）",
            "operationId": "processStart",
            "parameters": [{"name": "process_id", "in": "path", "required": True, "description": "流程 id（BPMN process id）",
                            "schema": {"type": "string", "maxLength": 100}}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["data"],
                "properties": {"data": {"type": "object", "description": "第一个表单的字段 → 值（见流程的 schema）",
                                        "additionalProperties": {"nullable": True, "oneOf": [
                                            {"type": "string"}, {"type": "number"}, {"type": "boolean"}]}}}}}}},
            "responses": {"201": _json({"type": "object", "required": ["instance_id", "process_id"],
                                        "properties": {"instance_id": {"type": "integer"},
                                                       "process_id": {"type": "string"}}}, "已发起"),
                          **ERRORS, **NOT_FOUND, **INVALID}}},
        "/api/v1/metrics": {"get": {
            "summary": "看板指标：漏斗、签约额、履约率/开工率/资金到位率、超期、环节时长", "operationId": "metrics",
            "parameters": [PERIOD, COUNTY],
            "responses": {"200": _json(_ref("Metrics")), **ERRORS, **NOT_FOUND}}},
        **{f"/api/v1/ledgers/{kind}": {"get": {
            "summary": f"{title}", "operationId": f"ledger_{kind}",
            "parameters": [{"name": "q", "in": "query", "required": False,
                            "description": "项目名称或投资方包含", "schema": {"type": "string", "maxLength": 100}},
                           {"name": "sort", "in": "query", "required": False, "description": "按此列排序（列的 key）",
                            "schema": {"type": "string", "maxLength": 40}},
                           {"name": "desc", "in": "query", "required": False, "schema": {"type": "string", "enum": ["1", ""]}},
                           COUNTY],
            "responses": {"200": _json({"type": "object", "required": ["title", "columns", "rows"],
                                        "properties": {"title": {"type": "string"},
                                                       "columns": {"type": "array", "items": {"type": "object"}},
                                                       "rows": {"type": "array", "items": {"type": "object"}},
                                                       "totals": {"type": "object"}}}),
                          **ERRORS, **NOT_FOUND}}}
           for kind, title in (("projects", "项目台账"), ("signed", "签约项目台账"), ("overdue", "超期台账"))},
    },
    "components": {
        "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                           "description": "管理员在“接口令牌”页面创建的令牌（zs_ 开头）"}},
        "responses": {
            name: _json(_ref("Error"), text)
            for name, text in (("Unauthorized", "缺少或无效的令牌"), ("Forbidden", "无权执行"),
                               ("NotFound", "不存在"), ("Conflict", "状态已变化（已认领、已办结……）"),
                               ("ValidationFailed", "表单数据有误"))
        },
        "schemas": {
            "Error": {"type": "object", "required": ["error", "message"],
                      "properties": {"error": {"type": "string"}, "message": {"type": "string"},
                                     "errors": {"type": "object", "additionalProperties": {"type": "string"}}}},
            "Me": {"type": "object", "required": ["username", "roles"],
                   "properties": {"username": {"type": "string"}, "display_name": {"type": "string"},
                                  "unit": {"type": "string"}, "organisation": {"type": "string"},
                                  "roles": {"type": "array", "items": {"type": "string"}}}},
            "Process": {"type": "object", "required": ["process_id", "name", "purpose", "version", "schema"],
                        "properties": {
                "process_id": {"type": "string"}, "name": {"type": "string", "description": "BPMN 流程名称"},
                "description": {"type": "string", "description": "BPMN 流程说明（documentation）"},
                "purpose": {"type": "string", "description": "用途（模型的 purpose 属性）"},
                "version": {"type": "integer", "description": "本县绑定的版本号"},
                "first_task": {"type": "string", "description": "第一个任务的名称"},
                "schema": {"type": "object", "description": "第一个任务表单的 JSON Schema"}}},
            "ProjectSummary": {"type": "object", "required": ["id", "project_name", "status"], "properties": {
                "id": {"type": "integer"}, "project_name": {"type": "string"}, "investor": {"type": "string"},
                "amount_wan": {"type": "number", "nullable": True}, "project_class": {"type": "string", "nullable": True},
                "stage": {"type": "string"}, "status": {"type": "string"}, "outcome": {"type": "string", "nullable": True},
                "county": {"type": "string"}, "started_by": {"type": "string"},
                "created_at": {"type": "string", "format": "date-time"},
                "updated_at": {"type": "string", "format": "date-time"}, "process_id": {"type": "string"}}},
            "ProjectDetail": {"type": "object", "required": ["summary", "data", "tasks"], "properties": {
                "summary": _ref("ProjectSummary"), "data": {"type": "object"},
                "tasks": {"type": "array", "items": _ref("Task")},
                "filing": {"type": "object", "nullable": True}, "model_version": {"type": "string"}}},
            "Task": {"type": "object", "required": ["id", "instance_id", "title", "state"], "properties": {
                "id": {"type": "integer"}, "instance_id": {"type": "integer"}, "title": {"type": "string"},
                "stage": {"type": "string"}, "lane": {"type": "string"},
                "unit_code": {"type": "string", "nullable": True}, "project_name": {"type": "string"},
                "due_at": {"type": "string", "format": "date-time", "nullable": True},
                "assignee": {"type": "string", "nullable": True}, "state": {"type": "string"},
                "overdue": {"type": "boolean"}}},
            "HistoryEntry": {"type": "object", "required": ["at", "action"], "properties": {
                "at": {"type": "string", "format": "date-time"}, "actor": {"type": "string", "nullable": True},
                "action": {"type": "string"}, "task_spec": {"type": "string", "nullable": True},
                "outcome": {"type": "string", "nullable": True}, "data": {"type": "object", "nullable": True}}},
            "Rate": {"type": "object", "required": ["key", "label", "numerator", "denominator", "formula"], "properties": {
                "key": {"type": "string"}, "label": {"type": "string"}, "numerator": {"type": "number"},
                "denominator": {"type": "number"}, "value": {"type": "number", "nullable": True,
                                                             "description": "百分比；分母为 0 时为 null"},
                "formula": {"type": "string"}, "unit": {"type": "string"}}},
            "Metrics": {"type": "object", "required": ["period", "funnel", "signed_by", "rates", "overdue", "stage_days"],
                        "properties": {
                            "period": {"type": "object"}, "scope": {"type": "string"}, "as_of": {"type": "string", "format": "date"},
                            "funnel": {"type": "array", "items": {"type": "object"}},
                            "signed_by": {"type": "object"}, "signed_totals": {"type": "object"},
                            "rates": {"type": "array", "items": _ref("Rate")},
                            "overdue": {"type": "array", "items": {"type": "object"}},
                            "stage_days": {"type": "array", "items": {"type": "object"}},
                            "waiting": {"type": "array", "items": {"type": "object"}}}},
        },
    },
}


def openapi_document() -> dict:
    return deepcopy(_DOCUMENT)
