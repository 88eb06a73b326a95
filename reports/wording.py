"""The words printed in report PDFs, in English and Simplified Chinese.

PDFs are rendered by workers outside any web request, so their wording lives here (pure data)
rather than in the web catalogue; `words(language)` falls back to English for a missing key.
"""

from __future__ import annotations

from collections.abc import Mapping

EN: dict[str, str] = {
    "title": "Food-safety investigation report",
    "weekly_title": "Weekly campus food-safety summary",
    "case": "Case",
    "version": "Report version",
    "generated": "Generated",
    "status": "Case status",
    "category": "Complaint type",
    "severity": "Severity",
    "opened": "Opened",
    "author": "Author",
    "language": "Language",
    "edition": "Edition",
    "edition_staff": "Administrators (contains complainant details)",
    "edition_merchant": "Merchant (pseudonymous: no complainant details)",
    "page": "Page",
    "contents": "Contents",
    "summary": "1. Executive summary",
    "timeline": "2. Timeline and service-level targets",
    "trace": "3. Trace: orders, dish batches, ingredient lots, suppliers",
    "temperature": "5. Temperature during delivery",
    "affected": "6. Affected orders",
    "actions": "7. Actions taken",
    "conclusions": "8. Conclusions and corrective actions",
    "sources": "4. Possible sources: attack rates and ranking",
    "cluster": "Cluster",
    "candidate": "Candidate",
    "ar_exposed": "Ill / exposed",
    "ar_unexposed": "Ill / not exposed",
    "rr": "Relative risk (95% CI)",
    "fisher": "Fisher p",
    "explained": "Cases explained",
    "no_ranking": (
        "No ranking: the cohort of orders in the exposure window is too small or not yet linked."
    ),
    "reading": (
        "Plain reading: of the people who received {label}, {a} in {b} fell ill ({ar_e}); of "
        "those who did not, {c} in {d} ({ar_u}). They were {rr} times as likely to fall ill "
        "(Fisher p = {p}), and {label} accounts for {explained} of the cases. A strong candidate, "
        "not proof: confirm with samples and the trace."
    ),
    "epicurve": "Epidemic curve: onsets per 6 hours",
    "complainant": "Complainant (confidential)",
    "appendix": "Appendix: evidence and ledger proofs",
    "summary_text": (
        "Case {number} ({category}, severity {severity}) was opened on {opened} and is now "
        "{status}. It concerns {n_orders} order(s) from {n_merchants} merchant(s); {n_ill} of "
        "{n_party} people in the party fell ill. The trace reaches {n_batches} dish batch(es), "
        "{n_lots} ingredient lot(s) and {n_suppliers} supplier(s). Cold chain: {n_deliveries} "
        "delivery(ies) judged, {n_failed} outside the safe range. SLA: {sla_met} of {sla_total} "
        "targets met, {sla_breached} breached."
    ),
    "sla_target": "Target",
    "sla_budget": "Budget (min)",
    "sla_due": "Due",
    "sla_met_at": "Met at",
    "sla_state": "State",
    "state_met": "met",
    "state_breached": "breached",
    "state_open": "open",
    "state_paused": "paused",
    "at": "Time",
    "event": "Event",
    "actor": "By",
    "change": "Status change",
    "no_trace": "No trace: the case names no orders with recorded dish batches.",
    "no_readings": "No temperature readings were recorded for the case's deliveries.",
    "delivery": "Delivery",
    "verdict": "Verdict",
    "readings": "readings",
    "min_max_mean": "min / max / mean",
    "minutes_outside": "minutes outside the safe range",
    "excursion": "excursion",
    "gap": "no data",
    "safe_range": "safe range",
    "merchant": "Merchant",
    "day": "Day",
    "orders": "Orders",
    "total": "Total",
    "no_personal": "Counts only: no customer names, phones or addresses are shown.",
    "action": "Action",
    "amount": "Amount",
    "no_actions": "No holds, notices or compensation recorded yet.",
    "resolution": "Resolution",
    "root_cause": "Root cause",
    "corrective_action": "Corrective action",
    "not_recorded": "Not recorded yet.",
    "checkpoint": "Signed checkpoint (C2SP tlog-checkpoint, Ed25519)",
    "public_key": "Log public key",
    "cited": "Cited records",
    "record": "Record",
    "ledger_index": "Ledger index",
    "leaf_hash": "Leaf hash (SHA-256, base64)",
    "how_to_verify": (
        "This PDF carries the attachment report-proofs.json: one RFC 9162 inclusion proof per "
        "cited record, against the signed checkpoint above. Extract it and run "
        "python ledger/verify_proof.py on each bundle, or upload the PDF to the verification "
        "page. The QR code holds the report's case, version and the SHA-256 of that attachment."
    ),
    "bundle_digest": "SHA-256 of the embedded proof bundle",
    "name": "Name",
    "phone": "Phone",
    "email": "Email",
    "weekly_period": "Period",
    "complaints": "Complaints",
    "by_category": "Complaints by type",
    "by_merchant": "Complaints by merchant",
    "sla_compliance": "SLA targets met",
    "cold_chain": "Deliveries judged / outside the safe range",
    "cluster_title": "Food-safety investigation report: complaint cluster",
    "edition_staff_cluster": "Administrators (no complainant details in a cluster report)",
    "cases": "Cases",
    "cluster_summary_text": (
        "Complaint cluster {number} groups {n_cases} case(s) ({cases}); the first was opened on "
        "{opened}. Highest severity {severity}; status: {status}. Together they concern "
        "{n_orders} order(s) from {n_merchants} merchant(s); {n_ill} of {n_party} people fell "
        "ill. The trace reaches {n_batches} dish batch(es), {n_lots} ingredient lot(s) and "
        "{n_suppliers} supplier(s). Cold chain: {n_deliveries} delivery(ies) judged, {n_failed} "
        "outside the safe range. SLA: {sla_met} of {sla_total} targets met, {sla_breached} "
        "breached."
    ),
    "affected_from": (
        "Orders that received {source} (forward trace from the top-ranked source): {n} in all."
    ),
}

ZH: dict[str, str] = {
    "title": "食品安全调查报告",
    "weekly_title": "校园食品安全周报",
    "case": "案件",
    "version": "报告版本",
    "generated": "生成时间",
    "status": "案件状态",
    "category": "投诉类型",
    "severity": "严重程度",
    "opened": "立案时间",
    "author": "撰写人",
    "language": "语言",
    "edition": "版本类别",
    "edition_staff": "管理员版（含投诉人信息）",
    "edition_merchant": "商户版（匿名：不含投诉人信息）",
    "page": "第",
    "contents": "目录",
    "summary": "一、摘要",
    "timeline": "二、时间线与服务时限",
    "trace": "三、追溯：订单、菜品批次、原料批次、供应商",
    "temperature": "五、配送途中温度",
    "affected": "六、受影响订单",
    "actions": "七、已采取的措施",
    "conclusions": "八、结论与整改措施",
    "sources": "四、可能来源：罹患率与排序",
    "cluster": "聚集",
    "candidate": "候选来源",
    "ar_exposed": "暴露者发病 / 暴露人数",
    "ar_unexposed": "未暴露者发病 / 人数",
    "rr": "相对危险度（95% CI）",
    "fisher": "Fisher p 值",
    "explained": "可解释病例比例",
    "no_ranking": "无排序：暴露时间窗内的订单队列太小或尚未关联。",
    "reading": (
        "通俗解读：收到 {label} 的人中，{b} 人有 {a} 人发病（{ar_e}）；"
        "未收到的人中，{d} 人有 {c} 人发病（{ar_u}）。"
        "前者发病的可能性是后者的 {rr} 倍（Fisher p = {p}），"
        "{label} 可解释 {explained} 的病例。"
        "这是有力的线索而非定论：需以留样检测和追溯结果确认。"
    ),
    "epicurve": "流行曲线：每 6 小时发病数",
    "complainant": "投诉人（保密）",
    "appendix": "附录：证据与账本证明",
    "summary_text": (
        "案件 {number}（{category}，严重程度 {severity}）于 {opened} 立案，当前状态：{status}。"
        "涉及 {n_merchants} 家商户的 {n_orders} 个订单；同行 {n_party} 人中 {n_ill} 人发病。"
        "追溯涉及 {n_batches} 个菜品批次、{n_lots} 个原料批次和 {n_suppliers} 家供应商。"
        "冷链：共判定 {n_deliveries} 次配送，其中 {n_failed} 次超出安全温度范围。"
        "服务时限：{sla_total} 项目标中已达成 {sla_met} 项，超时 {sla_breached} 项。"
    ),
    "sla_target": "目标",
    "sla_budget": "时限（分钟）",
    "sla_due": "截止时间",
    "sla_met_at": "达成时间",
    "sla_state": "状态",
    "state_met": "已达成",
    "state_breached": "已超时",
    "state_open": "进行中",
    "state_paused": "已暂停",
    "at": "时间",
    "event": "事件",
    "actor": "操作人",
    "change": "状态变化",
    "no_trace": "无追溯数据：案件未关联有菜品批次记录的订单。",
    "no_readings": "案件相关配送没有温度读数。",
    "delivery": "配送",
    "verdict": "判定",
    "readings": "条读数",
    "min_max_mean": "最低 / 最高 / 平均",
    "minutes_outside": "超出安全范围的分钟数",
    "excursion": "超温",
    "gap": "无数据",
    "safe_range": "安全范围",
    "merchant": "商户",
    "day": "日期",
    "orders": "订单数",
    "total": "合计",
    "no_personal": "仅统计数量：不显示顾客姓名、电话或地址。",
    "action": "措施",
    "amount": "金额",
    "no_actions": "尚未记录封存、通知或赔偿。",
    "resolution": "处理结果",
    "root_cause": "根本原因",
    "corrective_action": "整改措施",
    "not_recorded": "尚未记录。",
    "checkpoint": "签名检查点（C2SP tlog-checkpoint，Ed25519）",
    "public_key": "账本公钥",
    "cited": "引用的记录",
    "record": "记录",
    "ledger_index": "账本序号",
    "leaf_hash": "叶哈希（SHA-256，base64）",
    "how_to_verify": (
        "本 PDF 附带文件 report-proofs.json：每条引用记录对应一个 RFC 9162 包含性证明，"
        "指向上方的签名检查点。可提取该文件后对每个证明运行 python ledger/verify_proof.py，"
        "或将 PDF 上传到验证页面。二维码包含案件号、报告版本及该附件的 SHA-256。"
    ),
    "bundle_digest": "内嵌证明包的 SHA-256",
    "name": "姓名",
    "phone": "电话",
    "email": "邮箱",
    "weekly_period": "统计周期",
    "complaints": "投诉",
    "by_category": "按类型统计投诉",
    "by_merchant": "按商户统计投诉",
    "sla_compliance": "服务时限达成",
    "cold_chain": "已判定配送 / 超出安全范围",
    "cluster_title": "食品安全调查报告（投诉聚集）",
    "edition_staff_cluster": "管理员版（聚集报告不含投诉人信息）",
    "cases": "案件",
    "cluster_summary_text": (
        "投诉聚集 {number} 包含 {n_cases} 起案件（{cases}），首起于 {opened} 立案；"
        "最高严重程度 {severity}；当前状态：{status}。"
        "共涉及 {n_merchants} 家商户的 {n_orders} 个订单；{n_party} 人中 {n_ill} 人发病。"
        "追溯涉及 {n_batches} 个菜品批次、{n_lots} 个原料批次和 {n_suppliers} 家供应商。"
        "冷链：共判定 {n_deliveries} 次配送，其中 {n_failed} 次超出安全温度范围。"
        "服务时限：{sla_total} 项目标中已达成 {sla_met} 项，超时 {sla_breached} 项。"
    ),
    "affected_from": "收到{source}的订单（自排名第一的可疑来源正向追溯）：共 {n} 单。",
}

VALUES_ZH: dict[str, str] = {
    # statuses, categories, severities, SLA targets, event kinds, verdicts
    "new": "新建",
    "acknowledged": "已受理",
    "investigating": "调查中",
    "waiting_for_lab": "等待化验",
    "waiting_for_customer": "等待顾客",
    "action_taken": "已采取措施",
    "resolved": "已解决",
    "closed": "已结案",
    "illness": "疑似食源性疾病",
    "foreign_object": "异物",
    "spoiled": "变质",
    "allergen": "过敏原",
    "temperature": "温度",
    "hygiene": "卫生",
    "other": "其他",
    "critical": "危急",
    "high": "高",
    "normal": "一般",
    "low": "低",
    "first_response": "首次响应",
    "investigation_report": "调查报告",
    "closure": "结案",
    "opened": "立案",
    "transitioned": "状态变更",
    "reopened": "重新打开",
    "reply": "回复",
    "note": "内部备注",
    "assigned": "分派",
    "updated": "更新",
    "pass": "合格",
    "fail": "不合格",
    "warn": "警告",
    "no_data": "无数据",
    "refund": "退款",
    "voucher": "代金券",
    "statutory": "法定赔偿",
    "hold": "暂扣",
    "notice": "暴露通知",
    "lot": "原料批次",
    "batch": "菜品批次",
    "supplier": "供应商",
}


def words(language: str) -> Mapping[str, str]:
    """The label table of a report language ("zh-CN" or "en")."""
    if language.startswith("zh"):
        return {**EN, **ZH}
    return EN


def value(language: str, raw: str | None) -> str:
    """A stored code (status, category…) in the report's language."""
    if raw is None:
        return "-"
    if language.startswith("zh"):
        return VALUES_ZH.get(raw, raw.replace("_", " "))
    return raw.replace("_", " ")
