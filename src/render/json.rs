//! `json status` / `print status --format json` (docs/behaviour.md, "Status
//! tree"): one object with
//! `resources` (rid → details) and every group's status.

use serde_json::{Map, Value, json};

use crate::status::ServiceStatus;

pub fn value(st: &ServiceStatus) -> Value {
    let mut resources = Map::new();
    for r in &st.resources {
        resources.insert(
            r.rid.clone(),
            json!({
                "status": r.status.as_str(),
                "type": r.type_name,
                "label": r.label,
                "log": r.log.join("\n"),
                "monitor": r.monitor,
                "disable": r.disable,
                "optional": r.optional,
                "encap": r.encap,
            }),
        );
    }
    let mut top = Map::new();
    top.insert("resources".into(), Value::Object(resources));
    for (g, s) in &st.groups {
        top.insert((*g).into(), s.as_str().into());
    }
    top.insert("avail".into(), st.avail.as_str().into());
    top.insert("overall".into(), st.overall.as_str().into());
    top.insert("frozen".into(), st.frozen.into());
    Value::Object(top)
}

pub fn render(st: &ServiceStatus) -> String {
    let mut s = serde_json::to_string_pretty(&value(st)).unwrap_or_default();
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
