"""Printable task orders and service records: clean HTML pages in Chinese or English.

Jinja2 with autoescaping on, so whatever a user typed (task, work log, opinions) is shown as
text, never as markup. Times are shown in the configured zone (default Asia/Shanghai).
"""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from typing import Any, Literal
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined

Language = Literal["zh-CN", "en"]

LABELS: dict[str, dict[str, str]] = {
    "zh-CN": {
        "workorder_title": "维护与服务任务书",
        "record_title": "维护与服务记录",
        "number": "任务书编号",
        "ticket": "工单号",
        "issue_date": "日期",
        "product": "产品/项目名称",
        "due": "时间要求",
        "customer": "客户信息",
        "customer_name": "客户名称",
        "contract": "合同编号",
        "contact": "联系人",
        "address": "地址",
        "phone": "电话",
        "fax": "传真",
        "email": "电子邮件",
        "task": "任务内容",
        "requested_by": "申请人",
        "approval": "部门/项目经理审批",
        "status": "状态",
        "decided_by": "审批人",
        "decided_at": "审批时间",
        "reject_reason": "驳回原因",
        "team": "服务小组",
        "leader": "组长",
        "members": "成员",
        "engineer": "服务工程师",
        "service_date": "服务日期",
        "serial": "设备序列号",
        "problem": "问题描述",
        "work_log": "工作记录（步骤及结果）",  # noqa: RUF001 (Chinese punctuation)
        "time": "时间",
        "step": "内容",
        "method": "服务方式",
        "parts": "更换备件",
        "solved": "问题是否解决",
        "yes": "是",
        "no": "否",
        "opinion": "客户意见",
        "evaluation": "客户评价（远程服务）",  # noqa: RUF001
        "signature": "客户签字",
        "signed_at": "签字时间",
        "review": "经理审核",
        "reviewed_by": "审核人",
        "reviewed_at": "审核时间",
        "comment": "审核意见",
        "none": "—",
        "draft": "草稿",
        "approved": "已批准",
        "rejected": "已驳回",
        "completed": "已完成",
        "on_site": "现场",
        "remote": "远程",
        "consultation": "咨询",
        "other": "其他",
        "printed": "打印时间",
    },
    "en": {
        "workorder_title": "Maintenance and Service Task Order",
        "record_title": "Maintenance and Service Record",
        "number": "Task order no.",
        "ticket": "Ticket",
        "issue_date": "Date",
        "product": "Product / project",
        "due": "Time requirement",
        "customer": "Customer",
        "customer_name": "Name",
        "contract": "Contract no.",
        "contact": "Contact",
        "address": "Address",
        "phone": "Phone",
        "fax": "Fax",
        "email": "Email",
        "task": "Task",
        "requested_by": "Requested by",
        "approval": "Approval (department / project manager)",
        "status": "Status",
        "decided_by": "Decided by",
        "decided_at": "Decided at",
        "reject_reason": "Reason for rejection",
        "team": "Team",
        "leader": "Leader",
        "members": "Members",
        "engineer": "Engineer",
        "service_date": "Service date",
        "serial": "Serial no.",
        "problem": "Problem",
        "work_log": "Work log (steps and results)",
        "time": "Time",
        "step": "Step",
        "method": "Method",
        "parts": "Parts replaced",
        "solved": "Solved",
        "yes": "yes",
        "no": "no",
        "opinion": "Customer's opinion",
        "evaluation": "Customer's evaluation (remote work)",
        "signature": "Customer's signature",
        "signed_at": "Signed at",
        "review": "Manager's review",
        "reviewed_by": "Reviewed by",
        "reviewed_at": "Reviewed at",
        "comment": "Comment",
        "none": "—",
        "draft": "draft",
        "approved": "approved",
        "rejected": "rejected",
        "completed": "completed",
        "on_site": "on site",
        "remote": "remote",
        "consultation": "consultation",
        "other": "other",
        "printed": "Printed",
    },
}


@lru_cache(maxsize=1)
def environment() -> Environment:
    return Environment(
        loader=PackageLoader("dispatch", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(template: str, *, language: Language, time_zone: str, **context: Any) -> str:
    tz = ZoneInfo(time_zone)

    def when(value: datetime | date | None) -> str:
        if value is None:
            return LABELS[language]["none"]
        if isinstance(value, datetime):
            return value.astimezone(tz).strftime("%Y-%m-%d %H:%M")
        return value.isoformat()

    return (
        environment()
        .get_template(template)
        .render(
            t=LABELS[language],
            lang=language,
            when=when,
            time_zone=time_zone,
            printed_at=when(datetime.now(tz)),
            **context,
        )
    )
