use super::*;
use crate::config::FsConf;
pub struct Fs {
    conf: FsConf,
}
impl Fs {
    pub fn new(conf: FsConf) -> Fs {
        Fs { conf }
    }
}
impl Driver for Fs {
    fn kind(&self) -> Kind {
        Kind::Fs
    }
    fn type_name(&self) -> &'static str {
        "fs"
    }
    fn label(&self) -> String {
        format!("{}@{}", self.conf.dev, self.conf.mnt)
    }
    fn sort_key(&self) -> String {
        self.conf.mnt.clone()
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
