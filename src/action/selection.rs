//! `--rid` and `--tags` must name what the service has (issue 10, item
//! 15): a typo used to select nothing, report success and even write
//! `last_start`. Checked once the service is built, before anything is
//! written or run.

use crate::action::Opts;
use crate::config::guard;
use crate::service::Service;

pub(super) fn check(svc: &Service, opts: &Opts) -> Result<(), String> {
    let file = &svc.config.file;
    if !opts.rids.is_empty() {
        let rids: Vec<String> = svc.resources.iter().map(|r| r.rid().to_string()).collect();
        guard::check_rids(file, &opts.rids, &rids)?;
    }
    if !opts.tags.is_empty() {
        let mut tags: Vec<String> = svc
            .resources
            .iter()
            .flat_map(|r| r.conf.common.tags.iter().cloned())
            .collect();
        tags.sort();
        tags.dedup();
        guard::check_tags(file, &opts.tags, &tags)?;
    }
    Ok(())
}
