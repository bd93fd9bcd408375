//! From `<etc>/<svc>.conf|.env` to a typed `ServiceConfig` scoped for the
//! local node. Every problem of the file is collected before giving up, so a
//! user fixes them all in one pass.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use super::ini::{DEFAULT, Found, Ini, Scope};
use super::keywords::{self, SectionKind, TRIGGERS};
use super::schedule::{self, Malformed};
use super::*;
use crate::paths::Paths;

/// The known service types, which are also the host modes
/// (docs/behaviour.md, "Service types and host modes").
pub(crate) const SERVICE_TYPES: [&str; 10] = [
    "PRD", "PPRD", "REC", "INT", "DEV", "TST", "TMP", "DRP", "FOR", "PRA",
];

/// `<etc>/<svc>.conf` or `<etc>/<svc>.env`, never both.
pub(crate) fn find_file(paths: &Paths, svc: &str) -> Result<PathBuf, ConfigError> {
    let not_found = || ConfigError::NotFound {
        svc: svc.to_string(),
        etc: paths.etc.clone(),
    };
    if svc.is_empty() || svc.contains('/') {
        return Err(not_found());
    }
    let conf = paths.etc.join(format!("{svc}.conf"));
    let env = paths.etc.join(format!("{svc}.env"));
    // A dangling link still counts: reading it then says what is wrong.
    let present = |p: &Path| p.symlink_metadata().is_ok();
    match (present(&conf), present(&env)) {
        (true, true) => Err(ConfigError::Both {
            svc: svc.to_string(),
            conf,
            env,
        }),
        (true, false) => Ok(conf),
        (false, true) => Ok(env),
        (false, false) => Err(not_found()),
    }
}

/// Every service of this node: each plain `<name>.conf` or `<name>.env` in
/// `<etc>` but `node.conf` and hidden files; sorted, without duplicates.
pub(crate) fn list_services(paths: &Paths) -> Vec<String> {
    list_service_files(paths)
        .into_iter()
        .map(|(name, _)| name)
        .collect()
}

/// `list_services`, each with what `find_file` says of it, from one read
/// of `<etc>`: the daemon looks at every service every second, and two
/// lstats per service there, plus a stat per file to list it, were most
/// of an idle node's CPU at 1000 services.
pub(crate) fn list_service_files(paths: &Paths) -> Vec<(String, Result<PathBuf, ConfigError>)> {
    let Ok(dir) = std::fs::read_dir(&paths.etc) else {
        return Vec::new();
    };
    // Every entry, whatever it is: `find_file` counts a dangling link.
    let mut present = BTreeSet::new();
    let mut names = BTreeSet::new();
    for e in dir.filter_map(|e| e.ok()) {
        let file_name = e.file_name().to_string_lossy().into_owned();
        // The directory tells a plain file without a stat; a link is
        // followed, as `metadata` does.
        let is_file = match e.file_type() {
            Ok(t) if t.is_file() => true,
            Ok(t) if t.is_symlink() => std::fs::metadata(e.path()).is_ok_and(|m| m.is_file()),
            _ => false,
        };
        if is_file && let Some(name) = service_name(&file_name) {
            names.insert(name);
        }
        present.insert(file_name);
    }
    names
        .into_iter()
        .map(|svc| {
            let (conf, env) = (format!("{svc}.conf"), format!("{svc}.env"));
            let file = match (present.contains(&conf), present.contains(&env)) {
                (true, true) => Err(ConfigError::Both {
                    svc: svc.clone(),
                    conf: paths.etc.join(conf),
                    env: paths.etc.join(env),
                }),
                (true, false) => Ok(paths.etc.join(conf)),
                (false, true) => Ok(paths.etc.join(env)),
                (false, false) => Err(ConfigError::NotFound {
                    svc: svc.clone(),
                    etc: paths.etc.clone(),
                }),
            };
            (svc, file)
        })
        .collect()
}

fn service_name(file_name: &str) -> Option<String> {
    if file_name.starts_with('.') || file_name == "node.conf" {
        return None;
    }
    let stem = file_name
        .strip_suffix(".conf")
        .or_else(|| file_name.strip_suffix(".env"))?;
    (!stem.is_empty()).then(|| stem.to_string())
}

/// Reads, parses and builds the service for `nodename`. Unknown sections and
/// keys do not stop it, as in 1.5, but come back in `warnings` for the
/// action to log; `validate` reports them as problems.
pub(crate) fn load(paths: &Paths, svc: &str, nodename: &str) -> Result<ServiceConfig, ConfigError> {
    load_file(&find_file(paths, svc)?, svc, nodename)
}

/// `load` of a config file already found (`find_file`, `list_service_files`).
pub(crate) fn load_file(
    file: &Path,
    svc: &str,
    nodename: &str,
) -> Result<ServiceConfig, ConfigError> {
    load_file_with(file, svc, nodename, Warnings::Lint)
}

/// Whether a load looks for unknown and deprecated keywords (`warnings`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Warnings {
    Lint,
    /// The daemon's monitor, which probes a hundred services a second at a
    /// thousand services and logs no warning: linting was a twentieth of
    /// its CPU.
    Skip,
}

/// `load_file`, linted or not: `warnings` stays empty with `Skip`.
pub(crate) fn load_file_with(
    file: &Path,
    svc: &str,
    nodename: &str,
    warnings: Warnings,
) -> Result<ServiceConfig, ConfigError> {
    let ini = read(file)?;
    let (mut cfg, problems) = build(file, svc, nodename, &ini);
    if warnings == Warnings::Lint {
        cfg.warnings = lint(file, &ini);
    }
    if !problems.is_empty() {
        return Err(ConfigError::Invalid(problems));
    }
    let node = nodename.to_lowercase();
    if !cfg.nodes.contains(&node) && !cfg.drpnodes.contains(&node) {
        return Err(ConfigError::NotManagedHere {
            svc: svc.to_string(),
        });
    }
    Ok(cfg)
}

/// Everything `load` would refuse, plus unknown sections and keywords and
/// deprecated keys, sorted by line. Empty when the file is clean.
pub(crate) fn validate(
    paths: &Paths,
    svc: &str,
    nodename: &str,
) -> Result<Vec<Problem>, ConfigError> {
    let file = find_file(paths, svc)?;
    let ini = read(&file)?;
    let (_, mut problems) = build(&file, svc, nodename, &ini);
    problems.extend(lint(&file, &ini));
    problems.sort_by_key(|p| p.line.unwrap_or(usize::MAX));
    Ok(dedup(problems))
}

/// The problems of a config text held in memory (an edit about to be
/// written), named after `file`: what `load` refuses, then what only
/// `validate` lists (unknown sections and keywords, deprecated keywords).
pub(crate) fn problems_of_text(
    file: &Path,
    svc: &str,
    nodename: &str,
    text: &str,
) -> (Vec<Problem>, Vec<Problem>) {
    let ini = Ini::parse(text);
    let (_, problems) = build(file, svc, nodename, &ini);
    (problems, lint(file, &ini))
}

/// Why a text not installed yet could not be checked.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TextCheckError {
    /// The scratch copy could not be written: nothing is known of the text.
    #[error("cannot write {}: {err}", .file.display())]
    Scratch { file: PathBuf, err: std::io::Error },
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// `validate` for a config text that is not installed yet (an edit, a copy
/// from a peer): checked as `<scratch>/<svc>.conf`, never as the live file,
/// then removed. Problems name `target`, the file the text would replace.
pub(crate) fn validate_text(
    paths: &Paths,
    svc: &str,
    nodename: &str,
    text: &str,
    scratch: &Path,
    target: &Path,
) -> Result<Vec<Problem>, TextCheckError> {
    let copy = scratch.join(format!("{svc}.conf"));
    std::fs::create_dir_all(scratch)
        .and_then(|()| crate::fsutil::write_atomic(&copy, text.as_bytes()))
        .map_err(|err| TextCheckError::Scratch {
            file: copy.clone(),
            err,
        })?;
    let at = Paths {
        etc: scratch.to_path_buf(),
        ..paths.clone()
    };
    let result = validate(&at, svc, nodename);
    let _ = std::fs::remove_file(&copy);
    Ok(result?
        .into_iter()
        .map(|p| Problem {
            file: target.to_path_buf(),
            ..p
        })
        .collect())
}

fn read(file: &Path) -> Result<Ini, ConfigError> {
    let bytes = std::fs::read(file).map_err(|err| ConfigError::Read {
        file: file.to_path_buf(),
        err,
    })?;
    Ok(Ini::parse(&String::from_utf8_lossy(&bytes)))
}

/// First occurrence kept; hashed, as a big file may have many problems.
fn dedup(problems: Vec<Problem>) -> Vec<Problem> {
    let mut seen = std::collections::HashSet::with_capacity(problems.len());
    problems
        .into_iter()
        .filter(|p| seen.insert(p.clone()))
        .collect()
}

/// Unknown sections and keywords, and deprecated keywords.
fn lint(file: &Path, ini: &Ini) -> Vec<Problem> {
    let problem = |line, section: &str, key: Option<&str>, message: &str| Problem {
        file: file.to_path_buf(),
        line: Some(line),
        section: Some(section.to_string()),
        key: key.map(str::to_string),
        message: message.to_string(),
    };
    let mut out = Vec::new();
    for section in ini.default_section().into_iter().chain(ini.sections()) {
        let kind = keywords::section_kind(&section.name);
        if kind == SectionKind::Unknown {
            out.push(problem(
                section.line,
                &section.name,
                None,
                "unknown section",
            ));
            continue;
        }
        let table = keywords::keywords(kind);
        for e in &section.entries {
            if !keywords::is_in(&table, &e.key) {
                out.push(problem(
                    e.line,
                    &section.name,
                    Some(&e.key),
                    "unknown keyword",
                ));
            } else if e.key == "sync_min_delay" {
                out.push(problem(
                    e.line,
                    &section.name,
                    Some(&e.key),
                    "sync_min_delay is deprecated. replace with sync_interval.",
                ));
            }
        }
    }
    out
}

/// Builds the typed config even when something is wrong (the problems say
/// what), so that `validate` sees every problem at once.
fn build(file: &Path, svc: &str, nodename: &str, ini: &Ini) -> (ServiceConfig, Vec<Problem>) {
    let mut b = Builder::new(file, svc, nodename, ini);
    for e in ini.errors() {
        b.problem(None, None, Some(e.line), e.message.clone());
    }
    // Which of two values is meant is anyone's guess: refuse, naming both.
    for d in ini.duplicates() {
        let msg = d.message(file);
        b.problem(Some(&d.section), d.key.as_deref(), Some(d.line), msg);
    }
    let service_type = b.service_type();
    let orchestrate = b.orchestrate();
    let monitor_action = b.monitor_action();
    let placement = b.placement();
    let resources = b.resources();
    let get = |k| {
        ini.get(DEFAULT, k)
            .map_or(String::new(), |f| f.value.to_string())
    };
    let cfg = ServiceConfig {
        name: svc.to_string(),
        file: file.to_path_buf(),
        nodes: b.nodes.clone(),
        drpnodes: b.drpnodes.clone(),
        autostart_node: b.node_list_scoped(DEFAULT, "autostart_node"),
        service_type,
        app: get("app"),
        comment: get("comment"),
        orchestrate,
        monitor_action,
        placement,
        resources,
        warnings: Vec::new(),
    };
    let problems = dedup(b.problems);
    (cfg, problems)
}

struct Builder<'a> {
    ini: &'a Ini,
    file: &'a Path,
    svc: &'a str,
    nodename: String,
    nodes: Vec<String>,
    drpnodes: Vec<String>,
    in_nodes: bool,
    in_drpnodes: bool,
    in_encapnodes: bool,
    problems: Vec<Problem>,
}

/// Whitespace list, lower-cased, first occurrence kept.
fn node_words(value: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for w in value.split_whitespace().map(str::to_lowercase) {
        if !out.contains(&w) {
            out.push(w);
        }
    }
    out
}

fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_lowercase().as_str() {
        "1" | "yes" | "true" | "on" => Some(true),
        "0" | "no" | "false" | "off" => Some(false),
        _ => None,
    }
}

impl<'a> Builder<'a> {
    /// Node lists are scoped too, so each is resolved knowing the
    /// memberships found before it: nodes, then drpnodes, then encapnodes.
    fn new(file: &'a Path, svc: &'a str, nodename: &str, ini: &'a Ini) -> Builder<'a> {
        let mut b = Builder {
            ini,
            file,
            svc,
            nodename: nodename.to_lowercase(),
            nodes: Vec::new(),
            drpnodes: Vec::new(),
            in_nodes: false,
            in_drpnodes: false,
            in_encapnodes: false,
            problems: Vec::new(),
        };
        b.nodes = b.node_list_scoped(DEFAULT, "nodes");
        b.in_nodes = b.nodes.contains(&b.nodename);
        let mut drp = b.node_list_scoped(DEFAULT, "drpnodes");
        for n in b.node_list_scoped(DEFAULT, "drpnode") {
            if !drp.contains(&n) {
                drp.push(n);
            }
        }
        b.drpnodes = drp;
        b.in_drpnodes = b.drpnodes.contains(&b.nodename);
        b.in_encapnodes = b
            .node_list_scoped(DEFAULT, "encapnodes")
            .contains(&b.nodename);
        b
    }

    fn scope(&self) -> Scope<'_> {
        Scope {
            nodename: &self.nodename,
            in_nodes: self.in_nodes,
            in_drpnodes: self.in_drpnodes,
            in_encapnodes: self.in_encapnodes,
        }
    }

    fn problem(
        &mut self,
        section: Option<&str>,
        key: Option<&str>,
        line: Option<usize>,
        message: String,
    ) {
        self.problems.push(Problem {
            file: self.file.to_path_buf(),
            line,
            section: section.map(str::to_string),
            key: key.map(str::to_string),
            message,
        });
    }

    fn problem_at(&mut self, f: Found<'_>, message: String) {
        self.problem(Some(f.section), Some(f.key), Some(f.line), message);
    }

    /// A required key is missing: point at the section header, or at line
    /// 1 when there is none (an empty file lacks DEFAULT).
    fn missing(&mut self, section: &str, key: &str, message: String) {
        let line = self.ini.section(section).map_or(1, |s| s.line);
        let line = Some(line);
        self.problem(Some(section), Some(key), line, message);
    }

    fn scoped(&self, section: &str, kw: &str) -> Option<Found<'a>> {
        let ini: &'a Ini = self.ini;
        ini.get_scoped(section, kw, &self.scope())
    }

    fn plain(&self, section: &str, kw: &str) -> Option<Found<'a>> {
        self.ini.get(section, kw)
    }

    /// Non-empty scoped value.
    fn scoped_str(&self, section: &str, kw: &str) -> Option<String> {
        self.scoped(section, kw)
            .map(|f| f.value.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    /// Node names reach ssh and rsync as arguments: each must be a host
    /// name (hostname.rs), or the service does not load.
    fn node_list_scoped(&mut self, section: &str, kw: &str) -> Vec<String> {
        let Some(f) = self.scoped(section, kw) else {
            return Vec::new();
        };
        let words = node_words(f.value);
        for w in &words {
            if let Err(msg) = super::hostname::check(w) {
                self.problem_at(f, msg);
            }
        }
        words
    }

    fn bool_of(&mut self, found: Option<Found<'_>>) -> bool {
        let Some(f) = found else { return false };
        if let Some(b) = parse_bool(f.value) {
            b
        } else {
            let msg = format!(
                "invalid boolean '{}' (expected true/false, yes/no, on/off, 1/0)",
                f.value
            );
            self.problem_at(f, msg);
            false
        }
    }

    fn int_of<T: FromStr>(&mut self, found: Option<Found<'_>>) -> Option<T> {
        let f = found.filter(|f| !f.value.trim().is_empty())?;
        if let Ok(v) = f.value.trim().parse() {
            Some(v)
        } else {
            let msg = format!("invalid integer '{}' (expected a whole number)", f.value);
            self.problem_at(f, msg);
            None
        }
    }

    /// `disable_on`-style lists: node names and the words `nodes`/`drpnodes`.
    fn on_list(&self, section: &str, kw: &str) -> bool {
        let Some(f) = self.plain(section, kw) else {
            return false;
        };
        node_words(f.value).iter().any(|w| match w.as_str() {
            "nodes" => self.in_nodes,
            "drpnodes" => self.in_drpnodes,
            n => n == self.nodename,
        })
    }

    /// `orchestrate = no|start|ha` (default no): what the daemon may do.
    fn orchestrate(&mut self) -> String {
        self.choice("orchestrate", "no", &["no", "start", "ha"])
    }

    /// `monitor_action = freezestop|reboot|crash`: what the daemon does when
    /// a monitored resource stays down (daemon/orchestration/restarts.rs). A typo must not
    /// silently become another action, so anything else is refused; empty
    /// is unset.
    fn monitor_action(&mut self) -> String {
        self.choice("monitor_action", "", &["", "freezestop", "reboot", "crash"])
    }

    /// `placement = nodes order|load avg` (1.9's two policies; spaces
    /// between the words are not significant).
    fn placement(&mut self) -> String {
        self.choice("placement", "nodes order", &["nodes order", "load avg"])
    }

    /// A DEFAULT keyword that takes one of `allowed` (case and runs of
    /// white space not significant); `default` when unset. Anything else is
    /// a problem naming the expected words, and reads as `default`.
    fn choice(&mut self, key: &str, default: &str, allowed: &[&str]) -> String {
        let Some(f) = self.plain(DEFAULT, key) else {
            return default.into();
        };
        let v = f
            .value
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase();
        if allowed.contains(&v.as_str()) {
            return v;
        }
        let words: Vec<&str> = allowed.iter().copied().filter(|w| !w.is_empty()).collect();
        let expected = match words.split_last() {
            Some((last, [])) => last.to_string(),
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
            None => String::new(),
        };
        self.problem_at(
            f,
            format!("invalid {key} '{}' (expected {expected})", f.value.trim()),
        );
        default.into()
    }

    fn service_type(&mut self) -> String {
        let Some(f) = self.plain(DEFAULT, "service_type") else {
            self.missing(DEFAULT, "service_type", "service_type must be set".into());
            return String::new();
        };
        let t = f.value.trim();
        if t.is_empty() {
            self.problem_at(f, "service_type must be set".into());
        } else if !SERVICE_TYPES.contains(&t) {
            let msg = format!(
                "service {} type {t} is not a known service type ({})",
                self.svc,
                SERVICE_TYPES.join(", ")
            );
            self.problem_at(f, msg);
        }
        t.to_string()
    }

    /// Build order (docs/behaviour.md, "Build order"): hb, ip, vg, fs, app,
    /// user syncs, sync#i0.
    fn resources(&mut self) -> Vec<ResourceConfig> {
        let (mut hb, mut ip, mut vg, mut fs, mut sync) = (vec![], vec![], vec![], vec![], vec![]);
        let drp_only = self.in_drpnodes && !self.in_nodes;
        let ini = self.ini;
        for section in ini.sections() {
            let name = section.name.as_str();
            let (list, spec) = match keywords::section_kind(name) {
                SectionKind::Hb if !drp_only => (&mut hb, self.hb(name)),
                SectionKind::Ip => (&mut ip, self.ip(name)),
                SectionKind::Vg => (&mut vg, self.vg(name)),
                SectionKind::Fs => (&mut fs, self.fs(name)),
                SectionKind::Sync => (&mut sync, self.sync(name)),
                _ => continue,
            };
            let common = self.common(name);
            if let Some(spec) = spec {
                list.push(ResourceConfig {
                    rid: name.to_string(),
                    line: section.line,
                    common,
                    spec,
                });
            }
        }
        let mut all = hb;
        all.append(&mut ip);
        all.append(&mut vg);
        all.append(&mut fs);
        all.push(self.app());
        all.append(&mut sync);
        all.extend(self.sync_internal());
        all
    }

    fn common(&mut self, section: &str) -> Common {
        let disable = self.bool_of(self.scoped(section, "disable"));
        let optional = self.bool_of(self.plain(section, "optional"));
        let monitor = self.bool_of(self.plain(section, "monitor"));
        let mut triggers = BTreeMap::new();
        for t in TRIGGERS {
            if let Some(v) = self.scoped_str(section, t) {
                triggers.insert(
                    t.to_string(),
                    v.split_whitespace().map(String::from).collect(),
                );
            }
        }
        Common {
            disable: disable || self.on_list(section, "disable_on"),
            optional: optional || self.on_list(section, "optional_on"),
            monitor: monitor || self.on_list(section, "monitor_on"),
            restart: self.int_of(self.scoped(section, "restart")).unwrap_or(0),
            tags: self.tags(section),
            always_on: self.on_list(section, "always_on"),
            triggers,
        }
    }

    fn tags(&self, section: &str) -> BTreeSet<String> {
        self.scoped(section, "tags")
            .map(|f| f.value.split_whitespace().map(String::from).collect())
            .unwrap_or_default()
    }

    fn ip(&mut self, section: &str) -> Option<ResourceSpec> {
        let ipname = self.scoped_str(section, "ipname");
        if ipname.is_none() {
            let msg = format!(
                "nor ipname and ipname@{} defined in config file section {section}",
                self.nodename
            );
            self.missing(section, "ipname", msg);
        }
        let ipdev = self.scoped_str(section, "ipdev");
        if ipdev.is_none() {
            let msg = format!("ipdev must be set in section {section}");
            self.missing(section, "ipdev", msg);
        }
        let tags = self.tags(section);
        Some(ResourceSpec::Ip(IpConf {
            ipname: ipname?,
            ipdev: ipdev?,
            netmask: self.scoped_str(section, "netmask"),
            gateway: self.scoped_str(section, "gateway"),
            noalias: tags.contains("noalias"),
            skip_conflict_check: tags.contains("nonrouted") || tags.contains("noaction"),
        }))
    }

    fn vg(&mut self, section: &str) -> Option<ResourceSpec> {
        let vgtype = self
            .scoped(section, "vgtype")
            .or_else(|| self.scoped(section, "type"))
            .filter(|f| !f.value.trim().is_empty());
        if let Some(f) = vgtype {
            let t = f.value.trim();
            if !["lvm", "linux"].contains(&t.to_lowercase().as_str()) {
                self.problem_at(f, format!("vg type {t} is not implemented"));
            }
        }
        let Some(vgname) = self.scoped_str(section, "vgname") else {
            let msg = format!("vgname must be set in section {section}");
            self.missing(section, "vgname", msg);
            return None;
        };
        Some(ResourceSpec::Vg(VgConf { vgname }))
    }

    fn fs(&mut self, section: &str) -> Option<ResourceSpec> {
        let dev = self.scoped_str(section, "dev");
        if dev.is_none() {
            self.missing(
                section,
                "dev",
                format!("dev must be set in section {section}"),
            );
        }
        let mnt = self.scoped_str(section, "mnt");
        if mnt.is_none() {
            self.missing(
                section,
                "mnt",
                format!("mnt must be set in section {section}"),
            );
        }
        let mut mnt = mnt?;
        if mnt.len() > 1 && mnt.ends_with('/') {
            mnt.pop();
        }
        Some(ResourceSpec::Fs(FsConf {
            dev: dev?,
            mnt,
            fstype: self.scoped_str(section, "type").unwrap_or_default(),
            mnt_opt: self.scoped_str(section, "mnt_opt").unwrap_or_default(),
        }))
    }

    fn hb(&mut self, section: &str) -> Option<ResourceSpec> {
        let Some(f) = self
            .plain(section, "type")
            .filter(|f| !f.value.trim().is_empty())
        else {
            self.missing(
                section,
                "type",
                format!("type must be set in section {section}"),
            );
            return None;
        };
        let hb_type = f.value.trim();
        if !hb_type.eq_ignore_ascii_case("openha") {
            self.problem_at(f, format!("resHb{hb_type} is not implemented"));
            return None;
        }
        let name = self
            .plain(section, "name")
            .map(|f| f.value.trim())
            .filter(|v| !v.is_empty())
            .unwrap_or(self.svc);
        Some(ResourceSpec::Hb(OpenHaConf {
            hb_type: hb_type.to_lowercase(),
            name: name.to_string(),
        }))
    }

    /// `app` always exists, from `[app]` when there is one.
    fn app(&mut self) -> ResourceConfig {
        let line = self.ini.section("app").map_or(0, |s| s.line);
        let dir = self.scoped_str("app", "dir").map(PathBuf::from);
        let timeout = self.scoped("app", "timeout");
        let secs: Option<u64> = self.int_of(timeout);
        let timeout = match (secs, timeout) {
            (Some(0), Some(f)) => {
                self.problem_at(f, "timeout must be a positive number of seconds".into());
                None
            }
            // Bounded (duration.rs): a larger one overflowed the runner's
            // deadline, a panic in the daemon.
            (Some(s), Some(f)) if s > super::duration::MAX.as_secs() => {
                let max = super::duration::MAX.as_secs();
                self.problem_at(f, format!("timeout must be at most {max} seconds (a day)"));
                None
            }
            (s, _) => s.map(Duration::from_secs),
        };
        ResourceConfig {
            rid: "app".to_string(),
            line,
            common: self.common("app"),
            spec: ResourceSpec::App(AppConf { dir, timeout }),
        }
    }

    fn sync(&mut self, section: &str) -> Option<ResourceSpec> {
        let src = self.scoped_str(section, "src");
        if src.is_none() {
            let msg = format!("config file section {section} must have src set");
            self.missing(section, "src", msg);
        }
        let dst = self.scoped_str(section, "dst");
        if dst.is_none() {
            let msg = format!("config file section {section} must have dst set");
            self.missing(section, "dst", msg);
        }
        if let Some(f) = self.scoped(section, "type") {
            let t = f.value.trim();
            if !t.is_empty() && !t.eq_ignore_ascii_case("rsync") {
                self.problem_at(f, format!("sync type {t} is not implemented"));
            }
        }
        let target = self.targets(section);
        let mut options = self.words(section, "options");
        options.extend(self.words(section, "exclude"));
        let bwlimit = self.int_of(self.scoped(section, "bwlimit"));
        let schedule = self.schedule(section);
        Some(ResourceSpec::Sync(SyncConf {
            internal: false,
            src: src?.split_whitespace().map(String::from).collect(),
            dst: dst?,
            target,
            options,
            bwlimit,
            schedule,
        }))
    }

    fn words(&self, section: &str, kw: &str) -> Vec<String> {
        self.scoped(section, kw)
            .map(|f| f.value.split_whitespace().map(String::from).collect())
            .unwrap_or_default()
    }

    fn targets(&mut self, section: &str) -> Vec<String> {
        let Some(f) = self.scoped(section, "target") else {
            return Vec::new();
        };
        let words = node_words(f.value);
        if let Some(bad) = words.iter().find(|w| *w != "nodes" && *w != "drpnodes") {
            let msg = format!("invalid target '{bad}' (expected nodes, drpnodes or both)");
            self.problem_at(f, msg);
        }
        words
    }

    /// The service's own files go to every other node (docs/behaviour.md,
    /// "Resource keys by type").
    fn sync_internal(&mut self) -> Option<ResourceConfig> {
        let mut all: BTreeSet<&String> = self.nodes.iter().collect();
        all.extend(self.drpnodes.iter());
        if all.len() < 2 {
            return None;
        }
        let own = self
            .ini
            .sections()
            .iter()
            .find(|s| keywords::section_kind(&s.name) == SectionKind::SyncInternal);
        let (section, line) = own.map_or(("sync#i0", 0), |s| (s.name.as_str(), s.line));
        let options = self.words(section, "options");
        let bwlimit = self.int_of(self.scoped(section, "bwlimit"));
        Some(ResourceConfig {
            rid: "sync#i0".to_string(),
            line,
            common: self.common(section),
            spec: ResourceSpec::Sync(SyncConf {
                internal: true,
                src: Vec::new(),
                dst: String::new(),
                target: vec!["drpnodes".to_string(), "nodes".to_string()],
                options,
                bwlimit,
                schedule: self.schedule("sync"),
            }),
        })
    }

    /// Scheduling keys (docs/behaviour.md, "sync"), from `section` then
    /// DEFAULT.
    fn schedule(&mut self, section: &str) -> Schedule {
        let mut s = Schedule::default();
        let interval = self
            .sched(section, "sync_interval", schedule::parse_minutes)
            .or_else(|| self.sched(section, "sync_min_delay", schedule::parse_minutes));
        let max_delay = self.sched(section, "sync_max_delay", schedule::parse_minutes);
        if let Some(m) = max_delay {
            s.max_delay_min = m;
            s.interval_min = m;
        }
        if let Some(i) = interval {
            s.interval_min = i;
        }
        if let Some(p) = self.sched(section, "sync_period", schedule::parse_periods) {
            s.periods = p;
        }
        if let Some(d) = self.sched(section, "sync_days", schedule::parse_days) {
            s.days = d;
        }
        s
    }

    fn sched<T>(
        &mut self,
        section: &str,
        key: &str,
        parse: fn(&str) -> Result<T, Malformed>,
    ) -> Option<T> {
        let f = self.plain(section, key)?;
        if let Ok(v) = parse(f.value) {
            Some(v)
        } else {
            let msg = format!("malformed parameter value: {}.{}", f.section, f.key);
            self.problem_at(f, msg);
            None
        }
    }
}

#[cfg(test)]
#[path = "load_tests.rs"]
mod tests;
