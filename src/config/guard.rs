//! What `svcmgr set`, `unset`, `enable` and `disable` may write to a
//! service file (issue 10, items 15 and 16). 1.5 wrote anything:
//! `disable --rid ip#7` added an `[ip#7]` that no longer loads, and
//! `orchestrate = maybe` went in silently. Here an edit is refused when
//! `validate config` would then find something wrong at the key it edits,
//! and `disable` only names resources the service has.
//!
//! Only the edited key counts: a resource is built one `set` at a time
//! (`ip#1.ipname`, then `ip#1.ipdev`), so a key still missing elsewhere
//! must not block the first step.

use std::path::Path;

use super::Problem;
use super::edit::Planned;
use super::ini::Ini;
use super::keywords::{self, SectionKind};

/// Why an edit was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    /// As `validate config` prints them, lines of the text after the edit.
    pub problems: Vec<Problem>,
    /// Every problem is an unknown (or deprecated) keyword or section,
    /// which `--force` may write anyway; a bad value never is.
    pub forcible: bool,
}

/// The problems `plan` would leave at the key it edits. Unknown keywords
/// and sections are refused too, unless `force`.
pub(crate) fn check_edit(
    plan: &Planned,
    file: &Path,
    svc: &str,
    nodename: &str,
    force: bool,
) -> Result<(), Refusal> {
    if !plan.changes() {
        return Ok(());
    }
    let (load, lint) = super::problems_of_text(file, svc, nodename, &plan.new_text());
    let here = |p: &Problem| {
        p.section.as_deref() == Some(plan.section.as_str())
            && p.key.as_deref().is_none_or(|k| k == plan.key)
    };
    let hard: Vec<Problem> = load.into_iter().filter(here).collect();
    let soft: Vec<Problem> = lint.into_iter().filter(here).collect();
    let forcible = hard.is_empty();
    let mut problems = hard;
    if !force {
        problems.extend(soft);
    }
    if problems.is_empty() {
        return Ok(());
    }
    problems.sort_by_key(|p| p.line);
    Err(Refusal { problems, forcible })
}

/// `unset` of a key the section does not have: harmless when it is a
/// keyword of the section (nothing to do), a typo in the command when it
/// is not, which must not pass for a removal.
pub(crate) fn check_unset_absent(
    ini: &Ini,
    file: &Path,
    section: &str,
    key: &str,
) -> Result<(), Refusal> {
    let kind = keywords::section_kind(section);
    if keywords::is_known(kind, key) {
        return Ok(());
    }
    Err(Refusal {
        problems: vec![Problem {
            file: file.to_path_buf(),
            line: ini.section(section).map(|s| s.line),
            section: Some(section.to_string()),
            key: Some(key.to_string()),
            message: "unknown keyword".to_string(),
        }],
        forcible: false,
    })
}

/// The resources `enable`/`disable --rid` may name: the resource sections
/// of the file, and `app` and `sync#i0`, which exist without a section.
pub(crate) fn resource_ids(ini: &Ini) -> Vec<String> {
    let mut rids: Vec<String> = ini
        .sections()
        .iter()
        .filter(|s| is_resource(keywords::section_kind(&s.name)))
        .map(|s| s.name.clone())
        .collect();
    for implicit in ["app", "sync#i0"] {
        if !rids.iter().any(|r| r == implicit) {
            rids.push(implicit.to_string());
        }
    }
    rids
}

fn is_resource(kind: SectionKind) -> bool {
    !matches!(
        kind,
        SectionKind::Default | SectionKind::SyncSchedule | SectionKind::Unknown
    )
}

/// Refuses rids not in `known`, naming them all.
pub(crate) fn check_rids(file: &Path, rids: &[String], known: &[String]) -> Result<(), String> {
    let unknown = not_in(rids, known);
    if unknown.is_empty() {
        return Ok(());
    }
    Err(format!(
        "{}: no resource {} (resources: {})",
        file.display(),
        unknown.join(", "),
        known.join(", ")
    ))
}

/// Refuses tags no resource carries: `--tags` with a typo would select
/// nothing and report success.
pub(crate) fn check_tags(file: &Path, tags: &[String], known: &[String]) -> Result<(), String> {
    let unknown = not_in(tags, known);
    if unknown.is_empty() {
        return Ok(());
    }
    let have = if known.is_empty() {
        "no resource has tags".to_string()
    } else {
        format!("tags: {}", known.join(", "))
    };
    Err(format!(
        "{}: no resource tagged {} ({have})",
        file.display(),
        unknown.join(", ")
    ))
}

fn not_in<'a>(asked: &'a [String], known: &[String]) -> Vec<&'a str> {
    asked
        .iter()
        .filter(|a| !known.contains(a))
        .map(String::as_str)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::edit;

    const SVC: &str = "[DEFAULT]\nservice_type = TST\nnodes = n1\n[ip#0]\nipname = a\nipdev = e\n";

    fn plan_set(text: &str, param: &str, value: &str) -> (tempfile::TempDir, Planned) {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("s.conf");
        std::fs::write(&f, text).unwrap();
        let plan = edit::plan_set(&f, param, value).unwrap();
        (dir, plan)
    }

    fn check(plan: &Planned, force: bool) -> Result<(), Vec<String>> {
        check_edit(plan, Path::new("/etc/s.conf"), "s", "n1", force).map_err(|r| {
            let mut v: Vec<String> = r.problems.iter().map(|p| p.to_string()).collect();
            v.push(format!("forcible: {}", r.forcible));
            v
        })
    }

    #[test]
    fn a_bad_value_is_refused_even_with_force() {
        let (_d, plan) = plan_set(SVC, "DEFAULT.orchestrate", "maybe");
        let want = vec![
            "/etc/s.conf:4: [DEFAULT] orchestrate: invalid orchestrate 'maybe' (expected no, start or ha)".to_string(),
            "forcible: false".to_string(),
        ];
        assert_eq!(check(&plan, false), Err(want.clone()));
        assert_eq!(check(&plan, true), Err(want));
        let (_d, plan) = plan_set(SVC, "ip#0.disable", "perhaps");
        assert!(check(&plan, true).is_err());
    }

    #[test]
    fn an_unknown_keyword_or_section_needs_force() {
        let (_d, plan) = plan_set(SVC, "ip#0.ipnmae", "b");
        assert_eq!(
            check(&plan, false),
            Err(vec![
                "/etc/s.conf:7: [ip#0] ipnmae: unknown keyword".to_string(),
                "forcible: true".to_string()
            ])
        );
        assert_eq!(check(&plan, true), Ok(()));
        let (_d, plan) = plan_set(SVC, "container#0.x", "1");
        assert_eq!(
            check(&plan, false),
            Err(vec![
                "/etc/s.conf:8: [container#0]: unknown section".to_string(),
                "forcible: true".to_string()
            ])
        );
    }

    #[test]
    fn a_resource_may_be_built_one_key_at_a_time() {
        let (_d, plan) = plan_set(SVC, "ip#1.ipname", "b");
        assert_eq!(check(&plan, false), Ok(()));
        let (_d, plan) = plan_set(SVC, "DEFAULT.orchestrate", "ha");
        assert_eq!(check(&plan, false), Ok(()));
        // A problem elsewhere does not block an edit: it may be the fix.
        let (_d, plan) = plan_set(&format!("{SVC}orchestrate = maybe\n"), "DEFAULT.app", "x");
        assert_eq!(check(&plan, false), Ok(()));
    }

    #[test]
    fn unset_of_an_absent_unknown_key_is_a_typo() {
        let ini = Ini::parse(SVC);
        let f = Path::new("/etc/s.conf");
        assert!(check_unset_absent(&ini, f, "ip#0", "netmask").is_ok());
        let r = check_unset_absent(&ini, f, "ip#0", "ipnmae").unwrap_err();
        assert_eq!(
            r.problems[0].to_string(),
            "/etc/s.conf:4: [ip#0] ipnmae: unknown keyword"
        );
    }

    #[test]
    fn rids_are_resource_sections_app_and_sync_i0() {
        let ini = Ini::parse(&format!("{SVC}[sync]\nsync_interval = 5\n[foo]\n[fs#1]\n"));
        let known = resource_ids(&ini);
        assert_eq!(known, vec!["ip#0", "fs#1", "app", "sync#i0"]);
        let f = Path::new("/etc/s.conf");
        assert!(check_rids(f, &["ip#0".into(), "app".into()], &known).is_ok());
        assert_eq!(
            check_rids(f, &["ip#7".into(), "sync".into()], &known).unwrap_err(),
            "/etc/s.conf: no resource ip#7, sync (resources: ip#0, fs#1, app, sync#i0)"
        );
        assert_eq!(
            check_tags(f, &["web".into()], &[]).unwrap_err(),
            "/etc/s.conf: no resource tagged web (no resource has tags)"
        );
        assert!(check_tags(f, &["web".into()], &["db".into(), "web".into()]).is_ok());
    }
}
