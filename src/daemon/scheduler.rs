//! The scheduler: what cron's `nodemgr syncservices` does, from inside the
//! daemon — every minute each service's `syncall --cron`, which its own
//! schedule (sync_period, sync_interval, sync_days) usually skips at once.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::state::Shared;
use crate::action::{self, Action, Env};
use crate::config::{self, ResourceSpec};
use crate::fsutil::FileId;

pub(crate) const INTERVAL: Duration = Duration::from_secs(60);

pub(crate) fn run(env: &Env, shared: Arc<Shared>) {
    let mut next = Instant::now() + INTERVAL;
    let mut nothing = NothingToSync::default();
    while !shared.stopping() {
        if Instant::now() >= next {
            for name in config::list_services(env.paths) {
                if shared.stop_requested() {
                    break;
                }
                let file = config::find_file(env.paths, &name).ok();
                let id = file.as_deref().and_then(FileId::of);
                if nothing.known(&name, id) {
                    continue;
                }
                action::run(env, &name, Action::SyncAll);
                nothing.learn(&name, file.as_deref(), id, env.nodename);
            }
            next = Instant::now() + INTERVAL;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The services with no sync resource, by the id of the config file that
/// said so. Their syncall does nothing but load the service (its first run
/// after each config change also stamps the collector push): at a thousand
/// services, loading them all every minute was the daemon's largest burst.
#[derive(Default)]
struct NothingToSync {
    by_svc: HashMap<String, FileId>,
}

impl NothingToSync {
    /// `name`, whose config file is `id` now, is known to sync nothing.
    fn known(&self, name: &str, id: Option<FileId>) -> bool {
        id.is_some() && self.by_svc.get(name) == id.as_ref()
    }

    /// After `name`'s syncall: reads whether the file it ran under (`id`,
    /// taken before: a file changed since is run again) has a sync.
    fn learn(
        &mut self,
        name: &str,
        file: Option<&std::path::Path>,
        id: Option<FileId>,
        nodename: &str,
    ) {
        let none = file.is_some_and(|f| {
            config::load_file(f, name, nodename).is_ok_and(|c| {
                !c.resources
                    .iter()
                    .any(|r| matches!(r.spec, ResourceSpec::Sync(_)))
            })
        });
        match id {
            Some(id) if none => {
                self.by_svc.insert(name.to_string(), id);
            }
            _ => {
                self.by_svc.remove(name);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_without_sync_is_skipped_until_its_config_changes() {
        let d = tempfile::tempdir().unwrap();
        let plain = d.path().join("plain.conf");
        let synced = d.path().join("synced.conf");
        std::fs::write(
            &plain,
            "[DEFAULT]\nservice_type = TST\nnodes = n1\n[ip#0]\nipname = 192.0.2.1\nipdev = eth0\n",
        )
        .unwrap();
        std::fs::write(&synced, "[DEFAULT]\nservice_type = TST\nnodes = n1 n2\n").unwrap();
        let mut n = NothingToSync::default();
        let id = |p: &std::path::Path| FileId::of(p);
        assert!(!n.known("plain", id(&plain)), "never run yet");
        n.learn("plain", Some(&plain), id(&plain), "n1");
        n.learn("synced", Some(&synced), id(&synced), "n1");
        assert!(n.known("plain", id(&plain)));
        assert!(
            !n.known("synced", id(&synced)),
            "two nodes: sync#i0 sends the config"
        );
        std::fs::write(&plain, "[DEFAULT]\nservice_type = TST\nnodes = n1 n2\n").unwrap();
        assert!(!n.known("plain", id(&plain)), "its config changed");
        n.learn("plain", Some(&plain), id(&plain), "n1");
        assert!(!n.known("plain", id(&plain)), "it has a sync now");
        assert!(
            !n.known("gone", None),
            "no file: run, and let the action say so"
        );
    }
}
