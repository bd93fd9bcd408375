use super::*;
use crate::config::SyncConf;
pub struct Sync {
    rid: String,
    conf: SyncConf,
}
impl Sync {
    pub fn new(rid: String, conf: SyncConf) -> Sync {
        Sync { rid, conf }
    }
}
impl Driver for Sync {
    fn kind(&self) -> Kind {
        Kind::Sync
    }
    fn type_name(&self) -> &'static str {
        "sync.rsync"
    }
    fn label(&self) -> String {
        let _ = (&self.rid, &self.conf);
        "rsync svc config to drpnodes, nodes".into()
    }
    fn start(&self, _ctx: &Ctx) -> Result<Started, Failed> {
        todo!()
    }
    fn stop(&self, _ctx: &Ctx) -> Result<(), Failed> {
        todo!()
    }
    fn status(&self, _ctx: &Ctx, _deps: &Deps) -> Probe {
        todo!()
    }
}
pub fn last_start_path(_p: &Paths, _s: &str) -> PathBuf {
    todo!()
}
pub fn write_stamp(_p: &std::path::Path, _t: chrono::NaiveDateTime) -> std::io::Result<()> {
    todo!()
}
