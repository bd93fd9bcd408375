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
    let Ok(dir) = std::fs::read_dir(&paths.etc) else {
        return Vec::new();
    };
    let names: BTreeSet<String> = dir
        .filter_map(|e| e.ok())
        .filter(|e| std::fs::metadata(e.path()).is_ok_and(|m| m.is_file()))
        .filter_map(|e| service_name(&e.file_name().to_string_lossy()))
        .collect();
    names.into_iter().collect()
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
    let file = find_file(paths, svc)?;
    let ini = read(&file)?;
    let (mut cfg, problems) = build(&file, svc, nodename, &ini);
    cfg.warnings = lint(&file, &ini);
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
    /// a monitored resource stays down (daemon/restart.rs). A typo must not
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
mod tests {
    use super::*;

    /// The first tutorial's annotated service file, inline comments included
    /// (`tests/integration/common.rs` has it too, with test paths).
    const P26: &str = r"[DEFAULT]                                       # Global section for service description
app = MyApp                                     # service application friendly name
service_type = TST                              # specify is service runs production, test, dev, ...
autostart_node = sles1                          # default running node, name returned by « hostname » command
nodes = sles1 sles2                             # cluster nodes where the service is able to run on

[ip#0]                                          # Ressource Section for ip address
ipname = p26.opensvc.com                        # specify the ip address on which the service will be bound
disable = False                                 # the ip address will be enabled at service startup
optional = False                                # mandatory ressource, the service can't work without it
ipdev = eth0                                    # the physical network device on which the ip address will be stacked

[vg#0]                                          # Ressource Section for volume group
vgname=vgsvc1                                   # volume group name

[fs#0]                                          # Ressource Section for filesystem
type = ext3                                     # filesystem type
disable = False                                 # filesystem is enabled at service startup
mnt = /svc1/app                                 # filesystem mountpoint
optional = False                                # mandatory ressource, the service can't work without it
dev = /dev/mapper/vgsvc1-lvappsvc1              # block device where the filesystem is hosted

[fs#1]
type = ext3
disable = False
mnt = /svc1/data
optional = False
dev = /dev/mapper/vgsvc1-lvdatasvc1
";

    struct Etc {
        _dir: tempfile::TempDir,
        paths: Paths,
    }

    impl Etc {
        fn new() -> Etc {
            let dir = tempfile::tempdir().unwrap();
            let paths = Paths::under(dir.path());
            std::fs::create_dir_all(&paths.etc).unwrap();
            Etc { _dir: dir, paths }
        }

        fn write(&self, name: &str, text: &str) -> PathBuf {
            let p = self.paths.etc.join(name);
            std::fs::write(&p, text).unwrap();
            p
        }

        /// A service file with a valid DEFAULT and `body` after it.
        fn svc(&self, body: &str) -> PathBuf {
            self.write(
                "s.conf",
                &format!("[DEFAULT]\nservice_type = TST\nnodes = n1 n2\n{body}"),
            )
        }

        fn problems(&self, nodename: &str) -> Vec<(Option<usize>, String)> {
            match load(&self.paths, "s", nodename) {
                Err(ConfigError::Invalid(p)) => {
                    p.into_iter().map(|p| (p.line, p.message)).collect()
                }
                other => panic!("expected Invalid, got {other:?}"),
            }
        }

        fn one_problem(&self) -> Problem {
            match load(&self.paths, "s", "n1") {
                Err(ConfigError::Invalid(mut p)) if p.len() == 1 => p.remove(0),
                other => panic!("expected one problem, got {other:?}"),
            }
        }
    }

    fn rids(cfg: &ServiceConfig) -> Vec<&str> {
        cfg.resources.iter().map(|r| r.rid.as_str()).collect()
    }

    fn res<'a>(cfg: &'a ServiceConfig, rid: &str) -> &'a ResourceConfig {
        cfg.resources.iter().find(|r| r.rid == rid).unwrap()
    }

    fn ip(cfg: &ServiceConfig, rid: &str) -> IpConf {
        match &res(cfg, rid).spec {
            ResourceSpec::Ip(c) => c.clone(),
            other => panic!("{other:?}"),
        }
    }

    fn fs(cfg: &ServiceConfig, rid: &str) -> FsConf {
        match &res(cfg, rid).spec {
            ResourceSpec::Fs(c) => c.clone(),
            other => panic!("{other:?}"),
        }
    }

    fn sync(cfg: &ServiceConfig, rid: &str) -> SyncConf {
        match &res(cfg, rid).spec {
            ResourceSpec::Sync(c) => c.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn tutorial_service_loads_with_its_inline_comments() {
        let etc = Etc::new();
        let file = etc.write("p26.opensvc.com.env", P26);
        let cfg = load(&etc.paths, "p26.opensvc.com", "SLES1").unwrap();
        assert_eq!(cfg.name, "p26.opensvc.com");
        assert_eq!(cfg.file, file);
        assert_eq!(cfg.nodes, vec!["sles1", "sles2"]);
        assert!(cfg.drpnodes.is_empty());
        assert_eq!(cfg.autostart_node, vec!["sles1"]);
        assert_eq!(cfg.service_type, "TST");
        assert_eq!(cfg.app, "MyApp");
        assert_eq!(
            rids(&cfg),
            vec!["ip#0", "vg#0", "fs#0", "fs#1", "app", "sync#i0"]
        );
        let ip0 = ip(&cfg, "ip#0");
        assert_eq!(
            (ip0.ipname.as_str(), ip0.ipdev.as_str()),
            ("p26.opensvc.com", "eth0")
        );
        assert_eq!((ip0.netmask, ip0.gateway), (None, None));
        assert!(!ip0.noalias && !ip0.skip_conflict_check);
        match &res(&cfg, "vg#0").spec {
            ResourceSpec::Vg(v) => assert_eq!(v.vgname, "vgsvc1"),
            other => panic!("{other:?}"),
        }
        let fs0 = fs(&cfg, "fs#0");
        assert_eq!(
            fs0,
            FsConf {
                dev: "/dev/mapper/vgsvc1-lvappsvc1".into(),
                mnt: "/svc1/app".into(),
                fstype: "ext3".into(),
                mnt_opt: String::new(),
            }
        );
        assert_eq!(fs(&cfg, "fs#1").mnt, "/svc1/data");
        assert_eq!(res(&cfg, "ip#0").line, 7);
        assert_eq!(res(&cfg, "app").line, 0);
        let i0 = sync(&cfg, "sync#i0");
        assert!(i0.internal);
        assert_eq!(i0.target, vec!["drpnodes", "nodes"]);
        assert_eq!(i0.schedule, Schedule::default());
        assert!(cfg.resources.iter().all(|r| r.common == Common::default()));
    }

    #[test]
    fn tutorial_service_is_clean_for_validate() {
        let etc = Etc::new();
        etc.write("p26.opensvc.com.env", P26);
        assert_eq!(
            validate(&etc.paths, "p26.opensvc.com", "sles1").unwrap(),
            vec![]
        );
    }

    #[test]
    fn find_file_conf_env_both_none() {
        let etc = Etc::new();
        assert!(matches!(
            find_file(&etc.paths, "s"),
            Err(ConfigError::NotFound { .. })
        ));
        let conf = etc.write("s.conf", "");
        assert_eq!(find_file(&etc.paths, "s").unwrap(), conf);
        etc.write("s.env", "");
        let err = find_file(&etc.paths, "s").unwrap_err();
        assert!(matches!(err, ConfigError::Both { .. }));
        assert!(err.to_string().starts_with("service s has both "), "{err}");
        std::fs::remove_file(conf).unwrap();
        assert_eq!(
            find_file(&etc.paths, "s").unwrap(),
            etc.paths.etc.join("s.env")
        );
        assert!(matches!(
            find_file(&etc.paths, "../x"),
            Err(ConfigError::NotFound { .. })
        ));
    }

    #[test]
    fn unreadable_file_is_a_read_error() {
        let etc = Etc::new();
        std::fs::create_dir(etc.paths.etc.join("s.conf")).unwrap();
        assert!(matches!(
            load(&etc.paths, "s", "n1"),
            Err(ConfigError::Read { .. })
        ));
        assert!(matches!(
            validate(&etc.paths, "s", "n1"),
            Err(ConfigError::Read { .. })
        ));
    }

    #[test]
    fn list_services_skips_node_conf_hidden_and_non_files() {
        let etc = Etc::new();
        for f in [
            "b.env",
            "a.conf",
            "a.env",
            "node.conf",
            ".hidden.conf",
            "x.txt",
            ".conf",
        ] {
            etc.write(f, "");
        }
        std::fs::create_dir(etc.paths.etc.join("d.conf")).unwrap();
        std::fs::create_dir(etc.paths.etc.join("b.d")).unwrap();
        std::os::unix::fs::symlink("a.conf", etc.paths.etc.join("l.conf")).unwrap();
        std::os::unix::fs::symlink("missing", etc.paths.etc.join("m.conf")).unwrap();
        assert_eq!(list_services(&etc.paths), vec!["a", "b", "l"]);
    }

    #[test]
    fn list_services_without_etc_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert!(list_services(&Paths::under(dir.path())).is_empty());
    }

    #[test]
    fn node_outside_nodes_and_drpnodes_is_not_managed_here() {
        let etc = Etc::new();
        etc.svc("");
        let err = load(&etc.paths, "s", "n3").unwrap_err();
        assert_eq!(err.to_string(), "service s not managed here");
        assert!(validate(&etc.paths, "s", "n3").unwrap().is_empty());
    }

    #[test]
    fn problems_win_over_not_managed_here() {
        let etc = Etc::new();
        etc.svc("[vg#0]\n");
        assert!(matches!(
            load(&etc.paths, "s", "n3"),
            Err(ConfigError::Invalid(_))
        ));
    }

    #[test]
    fn drpnode_adds_to_drpnodes_and_lists_are_lower_cased() {
        let etc = Etc::new();
        etc.write(
            "s.conf",
            "[DEFAULT]\nservice_type = PRD\nnodes = N1 n1\ndrpnodes = D1\ndrpnode = d2 d1\n",
        );
        let cfg = load(&etc.paths, "s", "d2").unwrap();
        assert_eq!(cfg.nodes, vec!["n1"]);
        assert_eq!(cfg.drpnodes, vec!["d1", "d2"]);
    }

    #[test]
    fn service_type_missing_and_unknown() {
        let etc = Etc::new();
        etc.write("s.conf", "[DEFAULT]\nnodes = n1\n");
        let p = etc.one_problem();
        assert_eq!(p.message, "service_type must be set");
        assert_eq!((p.line, p.section.as_deref()), (Some(1), Some("DEFAULT")));
        etc.write("s.conf", "[DEFAULT]\nnodes = n1\nservice_type = prd\n");
        let p = etc.one_problem();
        assert_eq!(
            p.message,
            "service s type prd is not a known service type (PRD, PPRD, REC, INT, DEV, TST, TMP, DRP, FOR, PRA)"
        );
        assert_eq!(p.line, Some(3));
        assert_eq!(
            p.to_string(),
            format!(
                "{}:3: [DEFAULT] service_type: {}",
                etc.paths.etc.join("s.conf").display(),
                p.message
            )
        );
    }

    #[test]
    fn parse_errors_are_problems_with_their_line() {
        let etc = Etc::new();
        etc.svc("garbage\n[ip#0]\nipname = a\nipdev = eth0\n");
        let p = etc.one_problem();
        assert_eq!(p.line, Some(4));
        assert_eq!(p.section, None);
        assert!(
            p.message.starts_with("cannot parse 'garbage'"),
            "{}",
            p.message
        );
    }

    #[test]
    fn every_problem_is_collected() {
        let etc = Etc::new();
        etc.write(
            "s.conf",
            "[DEFAULT]\nnodes = n1\n[ip#0]\n[vg#0]\n[fs#0]\n[hb#0]\n[sync#0]\n[ip#1]\nipname = x\nipdev = e\ndisable = maybe\n",
        );
        assert_eq!(
            etc.problems("n1"),
            vec![
                (Some(1), "service_type must be set".to_string()),
                (
                    Some(3),
                    "nor ipname and ipname@n1 defined in config file section ip#0".to_string()
                ),
                (Some(3), "ipdev must be set in section ip#0".to_string()),
                (Some(4), "vgname must be set in section vg#0".to_string()),
                (Some(5), "dev must be set in section fs#0".to_string()),
                (Some(5), "mnt must be set in section fs#0".to_string()),
                (Some(6), "type must be set in section hb#0".to_string()),
                (
                    Some(7),
                    "config file section sync#0 must have src set".to_string()
                ),
                (
                    Some(7),
                    "config file section sync#0 must have dst set".to_string()
                ),
                (
                    Some(11),
                    "invalid boolean 'maybe' (expected true/false, yes/no, on/off, 1/0)"
                        .to_string()
                ),
            ]
        );
    }

    #[test]
    fn validate_sorts_problems_by_line() {
        let etc = Etc::new();
        etc.svc("[fs#0]\n[vg#0]\nbogus = 1\n");
        let lines: Vec<_> = validate(&etc.paths, "s", "n1")
            .unwrap()
            .iter()
            .map(|p| (p.line, p.message.clone()))
            .collect();
        assert_eq!(
            lines,
            vec![
                (Some(4), "dev must be set in section fs#0".to_string()),
                (Some(4), "mnt must be set in section fs#0".to_string()),
                (Some(5), "vgname must be set in section vg#0".to_string()),
                (Some(6), "unknown keyword".to_string()),
            ]
        );
    }

    #[test]
    fn ip_details_scoping_and_tags() {
        let etc = Etc::new();
        etc.svc(
            "[ip#0]\nipname = a\nipname@n1 = b\nipname@nodes = c\nipdev = eth0\nnetmask = 255.255.255.0\ngateway = 10.0.0.1\ntags = noalias nonrouted\n[ip#1]\nipname = x\nipdev@nodes = eth1\ntags@n2 = noaction\n",
        );
        let cfg = load(&etc.paths, "s", "n1").unwrap();
        let a = ip(&cfg, "ip#0");
        assert_eq!(a.ipname, "b");
        assert_eq!(a.netmask.as_deref(), Some("255.255.255.0"));
        assert_eq!(a.gateway.as_deref(), Some("10.0.0.1"));
        assert!(a.noalias && a.skip_conflict_check);
        let b = ip(&cfg, "ip#1");
        assert_eq!(b.ipdev, "eth1");
        assert!(!b.noalias && !b.skip_conflict_check);
        let cfg2 = load(&etc.paths, "s", "n2").unwrap();
        assert_eq!(ip(&cfg2, "ip#0").ipname, "c");
        assert!(ip(&cfg2, "ip#1").skip_conflict_check);
    }

    #[test]
    fn ip_with_empty_ipname_is_missing() {
        let etc = Etc::new();
        etc.svc("[ip#0]\nipname =\nipdev = e\n");
        let p = etc.one_problem();
        assert_eq!(
            p.message,
            "nor ipname and ipname@n1 defined in config file section ip#0"
        );
        assert_eq!((p.line, p.key.as_deref()), (Some(4), Some("ipname")));
    }

    #[test]
    fn ipname_for_another_node_does_not_count() {
        let etc = Etc::new();
        etc.svc("[ip#0]\nipname@n2 = x\nipdev = e\n");
        assert_eq!(
            etc.one_problem().message,
            "nor ipname and ipname@n1 defined in config file section ip#0"
        );
    }

    #[test]
    fn fs_trailing_slash_type_and_options() {
        let etc = Etc::new();
        etc.svc("[fs#0]\ndev = /dev/sdb1\nmnt = /srv/a/\ntype = ext4\nmnt_opt = rw,noatime\n[fs#1]\ndev=/dev/sdc\nmnt = /\n");
        let cfg = load(&etc.paths, "s", "n1").unwrap();
        assert_eq!(
            fs(&cfg, "fs#0"),
            FsConf {
                dev: "/dev/sdb1".into(),
                mnt: "/srv/a".into(),
                fstype: "ext4".into(),
                mnt_opt: "rw,noatime".into(),
            }
        );
        assert_eq!(fs(&cfg, "fs#1").mnt, "/");
        assert_eq!(fs(&cfg, "fs#1").fstype, "");
    }

    #[test]
    fn build_order_is_by_type_then_file_order() {
        let etc = Etc::new();
        etc.svc(
            "[sync#1]\nsrc = /a\ndst = /b\n[fs#1]\ndev = d\nmnt = /b\n[app]\n[ip#1]\nipname = a\nipdev = e\n[fs#0]\ndev = d\nmnt = /a\n[vg#0]\nvgname = v\n[hb#0]\ntype = OpenHA\n[ip#0]\nipname = b\nipdev = e\n[sync#0]\nsrc = /c\ndst = /d\n[bogus]\n",
        );
        let cfg = load(&etc.paths, "s", "n1").unwrap();
        assert_eq!(
            rids(&cfg),
            vec![
                "hb#0", "ip#1", "ip#0", "vg#0", "fs#1", "fs#0", "app", "sync#1", "sync#0",
                "sync#i0"
            ]
        );
        assert_eq!(res(&cfg, "app").line, 10);
    }

    #[test]
    fn resource_section_names_are_kept_as_written() {
        let etc = Etc::new();
        etc.svc("[IP#1x]\nipname = a\nipdev = e\n[ip#a]\n");
        let cfg = load(&etc.paths, "s", "n1").unwrap();
        assert_eq!(rids(&cfg), vec!["IP#1x", "app", "sync#i0"]);
    }

    #[test]
    fn hb_types_and_drpnode_only() {
        let etc = Etc::new();
        etc.svc("drpnodes = d1\n[hb#0]\ntype = OpenHA\n");
        let cfg = load(&etc.paths, "s", "n1").unwrap();
        match &res(&cfg, "hb#0").spec {
            ResourceSpec::Hb(h) => {
                assert_eq!(
                    h,
                    &OpenHaConf {
                        hb_type: "openha".into(),
                        name: "s".into()
                    }
                );
            }
            other => panic!("{other:?}"),
        }
        let cfg = load(&etc.paths, "s", "d1").unwrap();
        assert_eq!(rids(&cfg), vec!["app", "sync#i0"]);

        etc.svc("[hb#0]\ntype = LinuxHA\nname = other\n");
        let p = etc.one_problem();
        assert_eq!(p.message, "resHbLinuxHA is not implemented");
        assert_eq!((p.line, p.key.as_deref()), (Some(5), Some("type")));

        etc.svc("[hb#0]\ntype = openha\nname = other\n");
        let cfg = load(&etc.paths, "s", "n1").unwrap();
        match &res(&cfg, "hb#0").spec {
            ResourceSpec::Hb(h) => assert_eq!(h.name, "other"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn vg_types() {
        let etc = Etc::new();
        etc.svc("[vg#0]\nvgname = v\ntype = LVM\n");
        assert!(load(&etc.paths, "s", "n1").is_ok());
        etc.svc("[vg#0]\nvgname = v\nvgtype = veritas\n");
        let p = etc.one_problem();
        assert_eq!(p.message, "vg type veritas is not implemented");
        assert_eq!(p.line, Some(6));
    }

    #[test]
    fn app_dir_and_timeout() {
        let etc = Etc::new();
        etc.svc("[app]\ndir = /srv/launchers\ntimeout = 30\n");
        let cfg = load(&etc.paths, "s", "n1").unwrap();
        match &res(&cfg, "app").spec {
            ResourceSpec::App(a) => {
                assert_eq!(a.dir, Some(PathBuf::from("/srv/launchers")));
                assert_eq!(a.timeout, Some(Duration::from_secs(30)));
            }
            other => panic!("{other:?}"),
        }
        etc.svc("[app]\ntimeout = soon\n");
        let p = etc.one_problem();
        assert_eq!(
            p.message,
            "invalid integer 'soon' (expected a whole number)"
        );
        assert_eq!(p.line, Some(5));
        etc.svc("[app]\ntimeout = 0\n");
        assert_eq!(
            etc.one_problem().message,
            "timeout must be a positive number of seconds"
        );
    }

    #[test]
    fn default_disable_disables_every_resource_even_implicit_ones() {
        let etc = Etc::new();
        etc.svc("disable = true\n[ip#0]\nipname = a\nipdev = e\n");
        let cfg = load(&etc.paths, "s", "n1").unwrap();
        assert_eq!(rids(&cfg), vec!["ip#0", "app", "sync#i0"]);
        assert!(cfg.resources.iter().all(|r| r.common.disable));
    }

    #[test]
    fn section_disable_overrides_default_and_scoped_disable_wins() {
        let etc = Etc::new();
        etc.svc("disable = true\n[ip#0]\nipname = a\nipdev = e\ndisable = no\ndisable@n2 = yes\n");
        let cfg = load(&etc.paths, "s", "n1").unwrap();
        assert!(!res(&cfg, "ip#0").common.disable);
        let cfg = load(&etc.paths, "s", "n2").unwrap();
        assert!(res(&cfg, "ip#0").common.disable);
    }

    #[test]
    fn on_lists_and_common_keys() {
        let etc = Etc::new();
        etc.svc(
            "drpnodes = d1\n[app]\ndisable_on = n2\noptional_on = nodes\nmonitor_on = drpnodes\nalways_on = N1\nrestart = 3\ntags = a b\npre_start = /bin/echo  hi there\npost_stop@n1 = /bin/true\npost_stop = /bin/false\n",
        );
        let cfg = load(&etc.paths, "s", "n1").unwrap();
        let c = &res(&cfg, "app").common;
        assert!(!c.disable && c.optional && !c.monitor && c.always_on);
        assert_eq!(c.restart, 3);
        assert_eq!(c.tags, ["a", "b"].iter().map(|s| s.to_string()).collect());
        assert_eq!(c.triggers["pre_start"], vec!["/bin/echo", "hi", "there"]);
        assert_eq!(c.triggers["post_stop"], vec!["/bin/true"]);
        assert_eq!(c.triggers.len(), 2);
        let cfg = load(&etc.paths, "s", "n2").unwrap();
        let c = &res(&cfg, "app").common;
        assert!(c.disable && c.optional && !c.monitor && !c.always_on);
        let cfg = load(&etc.paths, "s", "d1").unwrap();
        let c = &res(&cfg, "app").common;
        assert!(!c.disable && !c.optional && c.monitor);
    }

    #[test]
    fn booleans_accept_the_python_words() {
        for (v, want) in [
            ("1", true),
            ("YES", true),
            ("True", true),
            ("on", true),
            ("0", false),
            ("No", false),
            ("FALSE", false),
            ("off", false),
        ] {
            let etc = Etc::new();
            etc.svc(&format!("[app]\noptional = {v}\n"));
            let cfg = load(&etc.paths, "s", "n1").unwrap();
            assert_eq!(res(&cfg, "app").common.optional, want, "{v}");
        }
    }

    #[test]
    fn bad_default_value_is_reported_once() {
        let etc = Etc::new();
        etc.svc("monitor = maybe\n[ip#0]\nipname = a\nipdev = e\n");
        let p = etc.one_problem();
        assert_eq!(
            (p.line, p.section.as_deref(), p.key.as_deref()),
            (Some(4), Some("DEFAULT"), Some("monitor"))
        );
    }

    #[test]
    fn bad_restart_is_an_integer_problem() {
        let etc = Etc::new();
        etc.svc("[app]\nrestart = -1\n");
        let p = etc.one_problem();
        assert_eq!(p.message, "invalid integer '-1' (expected a whole number)");
        assert_eq!(p.key.as_deref(), Some("restart"));
    }

    #[test]
    fn orchestrate_is_no_start_or_ha() {
        let etc = Etc::new();
        etc.svc("");
        assert_eq!(load(&etc.paths, "s", "n1").unwrap().orchestrate, "no");
        etc.svc("orchestrate = HA\n");
        assert_eq!(load(&etc.paths, "s", "n1").unwrap().orchestrate, "ha");
        etc.svc("orchestrate = always\n");
        let p = etc.one_problem();
        assert_eq!(
            p.message,
            "invalid orchestrate 'always' (expected no, start or ha)"
        );
        assert_eq!(p.key.as_deref(), Some("orchestrate"));
    }

    #[test]
    fn placement_is_nodes_order_or_load_avg() {
        let etc = Etc::new();
        etc.svc("");
        assert_eq!(
            load(&etc.paths, "s", "n1").unwrap().placement,
            "nodes order"
        );
        etc.svc("placement = Load  Avg\n");
        assert_eq!(load(&etc.paths, "s", "n1").unwrap().placement, "load avg");
        etc.svc("placement = spread\n");
        let p = etc.one_problem();
        assert_eq!(
            p.message,
            "invalid placement 'spread' (expected nodes order or load avg)"
        );
    }

    #[test]
    fn monitor_action_is_one_of_three_words() {
        let etc = Etc::new();
        etc.svc("monitor_action = FreezeStop\n");
        let c = load(&etc.paths, "s", "n1").unwrap();
        assert_eq!(c.monitor_action, "freezestop");
        etc.svc("monitor_action = suicide\n");
        let p = etc.one_problem();
        assert_eq!(
            p.message,
            "invalid monitor_action 'suicide' (expected freezestop, reboot or crash)"
        );
        assert_eq!(p.key.as_deref(), Some("monitor_action"));
    }

    #[test]
    fn sync_i0_needs_more_than_one_node() {
        let etc = Etc::new();
        etc.write("s.conf", "[DEFAULT]\nservice_type = TST\nnodes = n1\n");
        assert_eq!(rids(&load(&etc.paths, "s", "n1").unwrap()), vec!["app"]);
        etc.write("s.conf", "[DEFAULT]\nservice_type = TST\nnodes = n1 N1\n");
        assert_eq!(rids(&load(&etc.paths, "s", "n1").unwrap()), vec!["app"]);
        etc.write(
            "s.conf",
            "[DEFAULT]\nservice_type = TST\nnodes = n1\ndrpnodes = d1\n",
        );
        assert_eq!(
            rids(&load(&etc.paths, "s", "n1").unwrap()),
            vec!["app", "sync#i0"]
        );
    }

    #[test]
    fn sync_i0_options_from_its_section_and_schedule_from_sync_then_default() {
        let etc = Etc::new();
        etc.svc(
            "sync_max_delay = 60\nsync_days = [\"monday\"]\n[sync#i0]\noptions = --acls  --xattrs\ndisable = yes\noptional = true\nsync_interval = 5\n[sync]\nsync_interval = 10\nsync_period = [[\"22:00\", \"02:00\"], [\"12:00\", \"13:00\"]]\n",
        );
        let cfg = load(&etc.paths, "s", "n1").unwrap();
        let r = res(&cfg, "sync#i0");
        assert_eq!(r.line, 6);
        assert!(r.common.disable && r.common.optional);
        let s = sync(&cfg, "sync#i0");
        assert_eq!(s.options, vec!["--acls", "--xattrs"]);
        assert_eq!(
            s.schedule,
            Schedule {
                interval_min: 10,
                max_delay_min: 60,
                periods: vec![
                    ("22:00".into(), "02:00".into()),
                    ("12:00".into(), "13:00".into())
                ],
                days: vec!["monday".into()],
            }
        );
        assert!(s.src.is_empty() && s.dst.is_empty());
    }

    #[test]
    fn user_sync_details() {
        let etc = Etc::new();
        etc.svc(
            "bwlimit = 100\nsync_max_delay = 30\n[sync#0]\nsrc = /a /b\n  /c\ndst = /d\ntarget = nodes DRPNODES\noptions = --delete-excluded\nexclude = --exclude=*.tmp\n[sync#1]\nsrc = /x\ndst = /y\nsync_min_delay = 7\nbwlimit = 5\n",
        );
        let cfg = load(&etc.paths, "s", "n1").unwrap();
        let s0 = sync(&cfg, "sync#0");
        assert!(!s0.internal);
        assert_eq!(s0.src, vec!["/a", "/b", "/c"]);
        assert_eq!(s0.dst, "/d");
        assert_eq!(s0.target, vec!["nodes", "drpnodes"]);
        assert_eq!(s0.options, vec!["--delete-excluded", "--exclude=*.tmp"]);
        assert_eq!(s0.bwlimit, Some(100));
        assert_eq!(
            (s0.schedule.interval_min, s0.schedule.max_delay_min),
            (30, 30)
        );
        let s1 = sync(&cfg, "sync#1");
        assert!(s1.target.is_empty());
        assert_eq!(s1.bwlimit, Some(5));
        assert_eq!(
            (s1.schedule.interval_min, s1.schedule.max_delay_min),
            (7, 30)
        );
    }

    #[test]
    fn malformed_schedule_values() {
        let etc = Etc::new();
        etc.svc("[sync#0]\nsrc = /a\ndst = /b\nsync_period = 03:59-05:59\n");
        let p = etc.one_problem();
        assert_eq!(p.message, "malformed parameter value: sync#0.sync_period");
        assert_eq!(p.line, Some(7));
        etc.svc("sync_interval = soon\n");
        let p = etc.one_problem();
        assert_eq!(
            p.message,
            "malformed parameter value: DEFAULT.sync_interval"
        );
        assert_eq!(p.line, Some(4));
        etc.svc("[sync]\nsync_days = [\"someday\"]\n");
        assert_eq!(
            etc.one_problem().message,
            "malformed parameter value: sync.sync_days"
        );
    }

    #[test]
    fn sync_type_and_target_checks() {
        let etc = Etc::new();
        etc.svc("[sync#0]\nsrc = /a\ndst = /b\ntype = zfs\ntarget = all\n");
        assert_eq!(
            etc.problems("n1"),
            vec![
                (Some(7), "sync type zfs is not implemented".to_string()),
                (
                    Some(8),
                    "invalid target 'all' (expected nodes, drpnodes or both)".to_string()
                ),
            ]
        );
    }

    #[test]
    fn validate_lists_unknown_sections_and_keys() {
        let etc = Etc::new();
        etc.svc(
            "nodez = x\norchestrate = ha\n[ip#0]\nipname = a\nipdev = e\nipdevice = e\nipname@n3 = b\noptional@n1 = true\n[container#0]\nx = 1\n[sync]\nsync_min_delay = 3\ndisable = true\n[app]\ndir = /x\n",
        );
        let got: Vec<_> = validate(&etc.paths, "s", "n1")
            .unwrap()
            .into_iter()
            .map(|p| (p.line, p.section, p.key, p.message))
            .collect();
        let s = |v: &str| Some(v.to_string());
        assert_eq!(
            got,
            vec![
                (
                    Some(4),
                    s("DEFAULT"),
                    s("nodez"),
                    "unknown keyword".to_string()
                ),
                (
                    Some(9),
                    s("ip#0"),
                    s("ipdevice"),
                    "unknown keyword".to_string()
                ),
                (
                    Some(11),
                    s("ip#0"),
                    s("optional@n1"),
                    "unknown keyword".to_string()
                ),
                (
                    Some(12),
                    s("container#0"),
                    None,
                    "unknown section".to_string()
                ),
                (
                    Some(15),
                    s("sync"),
                    s("sync_min_delay"),
                    "sync_min_delay is deprecated. replace with sync_interval.".to_string()
                ),
                (
                    Some(16),
                    s("sync"),
                    s("disable"),
                    "unknown keyword".to_string()
                ),
            ]
        );
        assert!(load(&etc.paths, "s", "n1").is_ok());
    }

    #[test]
    fn validate_includes_load_problems() {
        let etc = Etc::new();
        etc.write("s.conf", "[DEFAULT]\nnodes = n1\nfoo = 1\n");
        let msgs: Vec<_> = validate(&etc.paths, "s", "n1")
            .unwrap()
            .into_iter()
            .map(|p| p.message)
            .collect();
        assert_eq!(msgs, vec!["service_type must be set", "unknown keyword"]);
    }

    #[test]
    fn validate_reports_missing_file() {
        let etc = Etc::new();
        assert!(matches!(
            validate(&etc.paths, "s", "n1"),
            Err(ConfigError::NotFound { .. })
        ));
    }

    #[test]
    fn scoped_nodes() {
        let etc = Etc::new();
        etc.write(
            "s.conf",
            "[DEFAULT]\nservice_type = TST\nnodes = a b\nnodes@c = c d\ndrpnodes = x\ndrpnodes@nodes = y\n",
        );
        let cfg = load(&etc.paths, "s", "c").unwrap();
        assert_eq!(cfg.nodes, vec!["c", "d"]);
        assert_eq!(cfg.drpnodes, vec!["y"]);
        let cfg = load(&etc.paths, "s", "x").unwrap();
        assert_eq!(cfg.nodes, vec!["a", "b"]);
        assert_eq!(cfg.drpnodes, vec!["x"]);
    }

    #[test]
    fn duplicate_sections_and_keys_are_refused_naming_both_lines() {
        let etc = Etc::new();
        let file = etc.svc("[ip#0]\nipname = a\nipdev = e\nipname = b\n[ip#0]\nnetmask = 24\n");
        let f = file.display();
        let got: Vec<String> = match load(&etc.paths, "s", "n1") {
            Err(ConfigError::Invalid(p)) => p.iter().map(|p| p.to_string()).collect(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            got,
            vec![
                format!("{f}:7: [ip#0] ipname: duplicate keyword, first at {f}:5"),
                format!("{f}:8: [ip#0]: duplicate section, first at {f}:4"),
            ]
        );
        let lines: Vec<_> = validate(&etc.paths, "s", "n1")
            .unwrap()
            .iter()
            .map(|p| p.line)
            .collect();
        assert_eq!(lines, vec![Some(7), Some(8)]);
    }

    #[test]
    fn an_empty_file_names_line_1() {
        let etc = Etc::new();
        let file = etc.write("s.conf", "");
        let got: Vec<String> = validate(&etc.paths, "s", "n1")
            .unwrap()
            .iter()
            .map(|p| p.to_string())
            .collect();
        assert_eq!(
            got,
            vec![format!(
                "{}:1: [DEFAULT] service_type: service_type must be set",
                file.display()
            )]
        );
    }

    #[test]
    fn a_bom_and_latin1_bytes_still_load() {
        let etc = Etc::new();
        let mut bytes = "\u{feff}".as_bytes().to_vec();
        bytes.extend(b"[DEFAULT]\nservice_type = TST\nnodes = n1\ncomment = caf\xe9\n");
        std::fs::write(etc.paths.etc.join("s.conf"), bytes).unwrap();
        assert_eq!(validate(&etc.paths, "s", "n1").unwrap(), vec![]);
        assert_eq!(load(&etc.paths, "s", "n1").unwrap().comment, "caf\u{fffd}");
    }

    #[test]
    fn unknown_keywords_come_back_as_warnings_of_a_load() {
        let etc = Etc::new();
        etc.svc("[fs#0]\ndev = /d\nmnt = /m\nmount_opts = ro\n");
        let cfg = load(&etc.paths, "s", "n1").unwrap();
        let w: Vec<String> = cfg.warnings.iter().map(|p| p.to_string()).collect();
        assert_eq!(
            w,
            vec![format!(
                "{}:7: [fs#0] mount_opts: unknown keyword",
                etc.paths.etc.join("s.conf").display()
            )]
        );
    }

    /// Issue 10, item 22: not a timed assertion (timings belong in
    /// BENCHMARKS.md, scripts/bench-config.sh); it prints the time and
    /// checks that 10,000 sections are all read.
    #[test]
    fn ten_thousand_sections_validate() {
        let etc = Etc::new();
        let mut body = String::new();
        for i in 0..10_000 {
            body.push_str(&format!("[ip#{i}]\nipname = a{i}\nipdev = eth0\n"));
        }
        etc.svc(&body);
        let t = std::time::Instant::now();
        assert_eq!(validate(&etc.paths, "s", "n1").unwrap(), vec![]);
        println!(
            "10,000 sections validated in {:?} (debug build)",
            t.elapsed()
        );
        assert_eq!(load(&etc.paths, "s", "n1").unwrap().resources.len(), 10_002);
    }
}
