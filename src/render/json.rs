//! The JSON documents the CLI prints (docs/json.md): `json status` /
//! `print status --format json`, and the documents of the other data
//! actions. Every document carries `version`, the schema version below;
//! several services make one document keyed by service name.

use serde_json::{Map, Value, json};

use std::path::Path;

use crate::config::Problem;
use crate::status::ServiceStatus;

/// The schema version of every document (docs/json.md): raised when a field
/// changes meaning or goes away, not when one is added.
pub(crate) const VERSION: u64 = 1;

/// Groups 1.5 prints that we have no resources for: always `n/a`, present
/// so that 1.5 readers find every key they know.
const ABSENT_GROUPS: [&str; 2] = ["container", "share"];

/// A resource's messages as 1.5 wrote them: each line `# text\n`.
fn log_text(lines: &[String]) -> String {
    lines.iter().map(|l| format!("# {l}\n")).collect()
}

pub(crate) fn value(st: &ServiceStatus) -> Value {
    let mut resources = Map::new();
    for r in &st.resources {
        resources.insert(
            r.rid.clone(),
            json!({
                "status": r.status.as_str(),
                "type": r.type_name,
                "label": r.label,
                "log": log_text(&r.log),
                "monitor": r.monitor,
                "disable": r.disable,
                "optional": r.optional,
                "encap": r.encap,
            }),
        );
    }
    let mut top = Map::new();
    top.insert("version".into(), VERSION.into());
    top.insert("resources".into(), Value::Object(resources));
    for (g, s) in &st.groups {
        top.insert((*g).into(), s.as_str().into());
    }
    for g in ABSENT_GROUPS {
        top.insert(g.into(), "n/a".into());
    }
    top.insert("avail".into(), st.avail.as_str().into());
    top.insert("overall".into(), st.overall.as_str().into());
    top.insert("frozen".into(), st.frozen.into());
    Value::Object(top)
}

/// `status --format json` and one `ls` entry: the service's summary.
pub(crate) fn summary(st: &ServiceStatus) -> Value {
    json!({
        "version": VERSION,
        "overall": st.overall.as_str(),
        "avail": st.avail.as_str(),
        "frozen": st.frozen,
    })
}

/// `validate config --format json` (svcmgr and nodemgr): every problem,
/// located.
pub(crate) fn problems(file: &Path, problems: &[Problem]) -> Value {
    let list: Vec<Value> = problems
        .iter()
        .map(|p| {
            json!({
                "file": p.file.display().to_string(),
                "line": p.line,
                "section": p.section,
                "key": p.key,
                "message": p.message,
            })
        })
        .collect();
    json!({ "version": VERSION, "file": file.display().to_string(), "problems": list })
}

/// `get --format json` (svcmgr and nodemgr).
pub(crate) fn param(param: &str, value: &str) -> Value {
    json!({ "version": VERSION, "param": param, "value": value })
}

/// Several services: one document, `services` keyed by name.
pub(crate) fn keyed(docs: Vec<(String, Value)>) -> Value {
    let services: Map<String, Value> = docs.into_iter().collect();
    json!({ "version": VERSION, "services": services })
}

/// The `status` document as text (the daemon answers it from memory).
pub(crate) fn render(st: &ServiceStatus) -> String {
    to_text(&value(st))
}

/// Pretty-printed, with the final newline.
pub(crate) fn to_text(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::{ResourceStatus, Status::*, aggregate};

    #[test]
    fn groups_and_resources_are_present() {
        let st = aggregate(
            "s",
            vec![ResourceStatus {
                rid: "ip#0".into(),
                group: "ip",
                type_name: "ip",
                label: "a@eth0".into(),
                status: Up,
                log: vec![],
                monitor: false,
                disable: false,
                optional: false,
                encap: false,
            }],
            false,
        );
        let v = value(&st);
        assert_eq!(v["overall"], "up");
        assert_eq!(v["ip"], "up");
        assert_eq!(v["hb"], "n/a");
        assert_eq!(v["resources"]["ip#0"]["label"], "a@eth0");
        assert_eq!(v["frozen"], false);
    }
}
